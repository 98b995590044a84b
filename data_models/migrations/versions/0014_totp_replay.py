"""a one-time code is accepted once: the last used TOTP time step per user

``core.users.totp_last_step`` holds the RFC 6238 time step of the user's last accepted code.
The hub signs in through the application login, which may read only the signing-in user's own
row (policy ``self_read``) and may not update it. ``core.totp_claim_step`` (SECURITY DEFINER,
owner ``reprotech_definer`` by privileges.sql) lets it do exactly one thing more: move the
*acting* user's own step forward. The comparison and the write are one UPDATE, so of two hub
processes presenting the same code at once, the second waits for the first's row lock,
re-reads the row and finds the step used (READ COMMITTED re-check): only one sign-in wins.
Executable by the application login only (granted here; notebook logins get nothing).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
                  schema="core")
    op.execute(
        """
        CREATE FUNCTION core.totp_claim_step(p_step bigint) RETURNS boolean
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
          WITH claimed AS (
            UPDATE core.users SET totp_last_step = p_step
             WHERE id = core.actor_id() AND totp_secret IS NOT NULL
               AND (totp_last_step IS NULL OR totp_last_step < p_step)
            RETURNING id)
          SELECT EXISTS (SELECT 1 FROM claimed)
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION core.totp_claim_step(bigint) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION core.totp_claim_step(bigint) TO reprotech_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION core.totp_claim_step(bigint)")
    op.drop_column("users", "totp_last_step", schema="core")
