"""Job runs (the jobs issue extends this into the queue)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATUSES!r}".replace('"', "'"), name="status"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    job: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    parameters: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.customers.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.users.id"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    progress: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    output_path: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
