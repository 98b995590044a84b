"""Sign-in protection and customer data requests (see docs/threat-model.md).

``signin_failures`` and ``signin_lockouts`` live in the database, not in a hub process's memory,
so every hub process and machine counts the same failures; they are written only by SECURITY
DEFINER functions (``core.signin_*``, migration 0007). A lock-out is an audited row.
``data_requests`` records each export (data portability) and erasure of a customer's data; its
audit rows survive the erasure they describe.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, pk

NOW = text("clock_timestamp()")


class SigninFailure(Base):
    __tablename__ = "signin_failures"
    __table_args__ = (
        Index("ix_signin_failures_username_failed_at", "username", "failed_at"),
        Index("ix_signin_failures_source_failed_at", "source", "failed_at"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str | None] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW,
                                                nullable=False)


class SigninLockout(Base):
    """A username (or, with no username, a source address) refused until ``locked_until``."""

    __tablename__ = "signin_lockouts"
    __table_args__ = (
        CheckConstraint("username IS NOT NULL OR source IS NOT NULL", name="target"),
        Index("ix_signin_lockouts_username_locked_until", "username", "locked_until"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    username: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    locked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW,
                                                nullable=False)
    locked_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    lifted_by: Mapped[int | None] = mapped_column(BigInteger)


DATA_REQUEST_KINDS = ("export", "erasure")
DATA_REQUEST_STATUSES = ("pending", "done", "declined")
"""A request from the portal is ``pending`` until an admin carries it out (``done``) or
declines it; an export or erasure run by staff at the CLI is recorded ``done`` (migration
0025)."""


class DataRequest(Base):
    __tablename__ = "data_requests"
    __table_args__ = (
        CheckConstraint(f"kind IN {DATA_REQUEST_KINDS!r}".replace('"', "'"), name="kind"),
        CheckConstraint(f"status IN {DATA_REQUEST_STATUSES!r}".replace('"', "'"), name="status"),
        Index("uq_data_requests_one_pending", "customer_id", "kind", unique=True,
              postgresql_where=text("status = 'pending'")),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey(f"{CORE}.customers.id"), nullable=False,
                                             index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    requested_by: Mapped[int | None] = mapped_column(BigInteger)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW,
                                                   nullable=False)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="done")
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordReset(Base):
    """A single-use, expiring password-reset link sent by email (migration 0024).

    Only the SHA-256 of the link's token is stored, so a copy of the table opens no account;
    the table has row security and no policy for the application: only the SECURITY DEFINER
    functions ``core.password_reset_*`` read and write it."""

    __tablename__ = "password_resets"
    __table_args__ = ({"schema": CORE},)
    id: Mapped[int] = pk()
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(f"{CORE}.users.id"),
                                         nullable=False, index=True)
    token_sha256: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=NOW,
                                                 nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
