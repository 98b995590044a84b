"""Farmers record their own events: customer admins and users get ``reproduction:write``
(row security keeps them to their own farm)

Only data (0028_farmer_events.sql): two rows of core.role_permissions.

Revision ID: 0028
Revises: 0027
"""

from pathlib import Path

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0028_farmer_events.sql").read_text())


def downgrade() -> None:
    op.execute("DELETE FROM core.role_permissions WHERE permission = 'reproduction:write' "
               "AND role IN ('customer_admin', 'customer_user')")
