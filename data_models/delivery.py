"""What the platform delivers to its users: the scheduled herd reports kept for the portal, and
each user's choice of which emails they want (migration 0025).

``customer_reports`` holds the PDF itself, not a path: a report written by a worker on one host
is downloaded through the dashboards on another (docs/operations.md §11), and the database is
the one store they share. Row security is the tenant's (whoever sees the customer reads its
reports; ``reports:write`` writes them); its audit rows record the PDF as its SHA-256 and
length, not the document. ``notification_settings`` holds only the choices that differ from each topic's
default (``reprotech_core.notifications.TOPICS``); a user reads and writes their own.

``notices`` is the platform's outbox of news for a customer (an evaluation released, samples
failing QC). The database writes them, by trigger, in the transaction that made the news, so a
release is never without its notice nor a notice without its release; the overview shows the
recent ones and ``reprotech_core.notifications.dispatch`` emails each once, after the fact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, pk

NOTIFICATION_TOPICS = ("report", "evaluation_released", "qc_failed")


class CustomerReport(Base):
    __tablename__ = "customer_reports"
    __table_args__ = (
        Index("ix_customer_reports_customer_id_created_at", "customer_id", "created_at"),
        CheckConstraint("octet_length(pdf) = size_bytes", name="size_bytes"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey(f"{CORE}.customers.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()"), nullable=False)
    # The run that made it (core.job_runs.id), not a foreign key: job runs are the platform's,
    # not the tenant's, and outlive nothing the report needs.
    job_run_id: Mapped[int | None] = mapped_column(BigInteger)
    evaluation_run_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{CORE}.evaluation_runs.id"))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    emailed_to: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class NotificationSetting(Base):
    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint(f"topic IN {NOTIFICATION_TOPICS!r}".replace('"', "'"), name="topic"),
        {"schema": CORE},
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(f"{CORE}.users.id"),
                                         primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_notices_unsent", "id", postgresql_where=text("emailed_at IS NULL")),
        CheckConstraint(f"topic IN {NOTIFICATION_TOPICS!r}".replace('"', "'"), name="topic"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey(f"{CORE}.customers.id"), nullable=False)
    topic: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()"), nullable=False)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    emailed_to: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
