"""sign-in failures and lock-outs (database-backed, audited), customer data requests

Tables from the models (data_models/security.py); functions, row security and audit triggers
in 0007_operations.sql.

Revision ID: 0007
Revises: 0006
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
TZ = sa.DateTime(timezone=True)
NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("failed_at", TZ, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_failures")),
        schema="core",
    )
    op.create_index("ix_signin_failures_username_failed_at", "signin_failures",
                    ["username", "failed_at"], schema="core")
    op.create_index("ix_signin_failures_source_failed_at", "signin_failures",
                    ["source", "failed_at"], schema="core")
    op.create_table(
        "signin_lockouts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_at", TZ, server_default=NOW, nullable=False),
        sa.Column("locked_until", TZ, nullable=False),
        sa.Column("lifted_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("username IS NOT NULL OR source IS NOT NULL",
                           name=op.f("ck_signin_lockouts_target")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_lockouts")),
        schema="core",
    )
    op.create_index("ix_signin_lockouts_username_locked_until", "signin_lockouts",
                    ["username", "locked_until"], schema="core")
    op.create_table(
        "data_requests",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", TZ, server_default=NOW, nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'"), nullable=False),
        sa.CheckConstraint("kind IN ('export', 'erasure')", name=op.f("ck_data_requests_kind")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_data_requests_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
        schema="core",
    )
    op.create_index(op.f("ix_data_requests_customer_id"), "data_requests", ["customer_id"],
                    schema="core")
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0007_operations.sql").read_text())


def downgrade() -> None:
    for fn in ("core.signin_locked_until(text, text)",
               "core.signin_failed(text, text, int, int, int, int)",
               "core.signin_succeeded(text)", "core.signin_unlock(text)"):
        op.execute(f"DROP FUNCTION {fn}")
    for table in ("data_requests", "signin_lockouts", "signin_failures"):
        op.drop_table(table, schema="core")
