"""job queue: leases, heartbeats, retries, exclusivity and idempotent scheduling on job_runs

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    cols = [
        sa.Column("notebook", sa.Text(), server_default="", nullable=False),
        sa.Column("run_key", sa.String(200), nullable=True),
        sa.Column("exclusive_key", sa.String(128), nullable=True),
        sa.Column("max_attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("timeout_s", sa.Integer(), server_default="3600", nullable=False),
        sa.Column("not_before", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", TZ, nullable=True),
        sa.Column("heartbeat_at", TZ, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), server_default=sa.text("false"),
                  nullable=False),
        sa.Column("error_cell", sa.Integer(), nullable=True),
        sa.Column("output_html", sa.Text(), nullable=True),
        sa.Column("notified_at", TZ, nullable=True),
    ]
    for col in cols:
        op.add_column("job_runs", col, schema="core")
    op.create_unique_constraint(op.f("uq_job_runs_run_key"), "job_runs", ["run_key"],
                                schema="core")
    op.create_check_constraint(op.f("ck_job_runs_max_attempts_positive"), "job_runs",
                               "max_attempts >= 1", schema="core")
    op.create_check_constraint(op.f("ck_job_runs_timeout_positive"), "job_runs",
                               "timeout_s > 0", schema="core")
    op.create_index("ix_job_runs_claimable", "job_runs", ["status", "not_before"],
                    schema="core")
    op.create_index("uq_job_runs_exclusive_running", "job_runs", ["exclusive_key"],
                    unique=True, schema="core",
                    postgresql_where=sa.text("status = 'running' AND exclusive_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_job_runs_exclusive_running", "job_runs", schema="core")
    op.drop_index("ix_job_runs_claimable", "job_runs", schema="core")
    for name in ("notebook", "run_key", "exclusive_key", "max_attempts", "timeout_s",
                 "not_before", "lease_owner", "lease_expires_at", "heartbeat_at",
                 "cancel_requested", "error_cell", "output_html", "notified_at"):
        op.drop_column("job_runs", name, schema="core")
