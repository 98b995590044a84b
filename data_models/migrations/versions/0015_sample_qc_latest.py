"""the latest QC decision per sample as one view, core.sample_qc_latest

Six queries picked "a sample's QC decision" each in their own way (a LATERAL ``LIMIT 1``, a
``DISTINCT ON``, a scalar subquery), and not all broke ties the same way. The view holds the one
rule (newest ``decided_at``, then highest ``id``); ``security_invoker`` keeps the reader's row
security. See 0015_sample_qc_latest.sql.

Revision ID: 0015
Revises: 0014
"""

from pathlib import Path

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0015_sample_qc_latest.sql").read_text())


def downgrade() -> None:
    op.execute("DROP VIEW core.sample_qc_latest")
