"""foundation: row security, rule and audit triggers, research views, seed data

Revision ID: 0002
Revises: 0001
"""

from pathlib import Path

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    for name in ("0002_security.sql", "0002_seed.sql"):
        op.get_bind().connection.driver_connection.execute((HERE / name).read_text())


def downgrade() -> None:
    raise NotImplementedError("the security layer is not downgraded; restore a backup instead")
