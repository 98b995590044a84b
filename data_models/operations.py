"""Job runs: the PostgreSQL-backed queue of notebook jobs (see ``jobs/``).

A run is claimed by one worker at a time (``FOR UPDATE SKIP LOCKED``) under a lease the worker
renews by heartbeat; a run whose lease expires (worker killed, machine restarted) is claimed
again until ``max_attempts``. Runs sharing an ``exclusive_key`` never run at once (a partial
unique index). Scheduled runs carry a ``run_key`` (schedule and due time), so a schedule
enqueues each occurrence once however many schedulers run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATUSES!r}".replace('"', "'"), name="status"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        CheckConstraint("timeout_s > 0", name="timeout_positive"),
        Index("ix_job_runs_claimable", "status", "not_before"),
        Index("uq_job_runs_exclusive_running", "exclusive_key", unique=True,
              postgresql_where=text("status = 'running' AND exclusive_key IS NOT NULL")),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    job: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    notebook: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    parameters: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.customers.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.users.id"))
    run_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    exclusive_key: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    timeout_s: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3600")
    not_before: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()"))
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                   server_default=text("false"))
    progress: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    error_cell: Mapped[int | None] = mapped_column(Integer)
    output_path: Mapped[str | None] = mapped_column(Text)
    output_html: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
