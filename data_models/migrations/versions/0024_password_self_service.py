"""password self-service: a user changes their own password; reset and invitation links sent
by email; whether an address is already an account's

Table from the model (data_models/security.py: PasswordReset); the functions, row security and
grants in 0024_password_self_service.sql.

Revision ID: 0024
Revises: 0021
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0021"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["core.users.id"],
                                name=op.f("fk_password_resets_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_password_resets_token_sha256")),
        schema="core",
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"],
                    unique=False, schema="core")
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0024_password_self_service.sql").read_text())


def downgrade() -> None:
    op.execute("DROP FUNCTION core.change_own_password(text, text)")
    op.execute("DROP FUNCTION core.password_reset_issue(text, bytea, int)")
    op.execute("DROP FUNCTION core.password_reset_spend(bytea, text)")
    op.execute("DROP FUNCTION core.email_in_use(text)")
    op.drop_table("password_resets", schema="core")
