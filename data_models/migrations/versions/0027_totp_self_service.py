"""TOTP self-service: a signed-in user enrols (or, where allowed, removes) their own second
factor, giving their password

Only a function (0027_totp_self_service.sql): the application login may not update its own
row of core.users.

Revision ID: 0027
Revises: 0026
"""

from pathlib import Path

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0027_totp_self_service.sql").read_text())


def downgrade() -> None:
    op.execute("DROP FUNCTION core.set_own_totp(text, text)")
