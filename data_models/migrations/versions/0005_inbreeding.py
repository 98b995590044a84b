"""inbreeding per animal and evaluation run (tenant table, row security, audit)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbreeding",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("animal_id", sa.BigInteger(), nullable=False),
        sa.Column("f_genomic", sa.Float(), nullable=True),
        sa.Column("f_pedigree", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["animal_id", "customer_id"],
                                ["core.animals.id", "core.animals.customer_id"],
                                name=op.f("fk_inbreeding_animal_id_customer_id_animals")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_inbreeding_customer_id_customers")),
        sa.ForeignKeyConstraint(["run_id"], ["core.evaluation_runs.id"],
                                name=op.f("fk_inbreeding_run_id_evaluation_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbreeding")),
        sa.UniqueConstraint("run_id", "animal_id", name=op.f("uq_inbreeding_run_id_animal_id")),
        schema="core",
    )
    for col in ("animal_id", "customer_id", "run_id"):
        op.create_index(op.f(f"ix_inbreeding_{col}"), "inbreeding", [col], schema="core")
    op.execute("SELECT core.apply_tenant_policies('core.inbreeding', 'results:write')")
    op.execute("CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.inbreeding "
               "FOR EACH ROW EXECUTE FUNCTION audit.record_change()")


def downgrade() -> None:
    op.drop_table("inbreeding", schema="core")
