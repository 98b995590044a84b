"""phenotypes: the evaluation's input records, tenant-scoped and audited

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phenotypes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("animal_id", sa.BigInteger(), nullable=False),
        sa.Column("trait", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("value = value AND value NOT IN ('Infinity', '-Infinity')",
                           name=op.f("ck_phenotypes_value_finite")),
        sa.ForeignKeyConstraint(["animal_id", "customer_id"],
                                ["core.animals.id", "core.animals.customer_id"],
                                name=op.f("fk_phenotypes_animal_id_customer_id_animals")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_phenotypes_customer_id_customers")),
        sa.ForeignKeyConstraint(["trait"], ["core.traits.code"],
                                name=op.f("fk_phenotypes_trait_traits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phenotypes")),
        sa.UniqueConstraint("animal_id", "trait", "recorded_on",
                            name=op.f("uq_phenotypes_animal_id_trait_recorded_on")),
        schema="core",
    )
    op.create_index(op.f("ix_phenotypes_animal_id"), "phenotypes", ["animal_id"],
                    schema="core")
    op.create_index(op.f("ix_phenotypes_customer_id"), "phenotypes", ["customer_id"],
                    schema="core")
    op.execute("SELECT core.apply_tenant_policies('core.phenotypes', 'animals:write')")
    op.execute("CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON core.phenotypes "
               "FOR EACH ROW EXECUTE FUNCTION audit.record_change()")


def downgrade() -> None:
    op.drop_table("phenotypes", schema="core")
