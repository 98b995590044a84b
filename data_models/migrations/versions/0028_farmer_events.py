"""Farmers record their own events: heats seen (core.heat_observations), and customer admins
and users get ``reproduction:write`` (row security keeps them to their own farm)

Table from the model (data_models/reproduction.py: HeatObservation); the permission rows, row
security, audit and the exit rules in 0028_farmer_events.sql.

Revision ID: 0028
Revises: 0027
"""

import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.create_table(
        "heat_observations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("cow_id", sa.BigInteger(), nullable=False),
        sa.Column("heat_date", sa.Date(), nullable=False),
        sa.Column("technician", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["cow_id", "customer_id"],
                                ["core.animals.id", "core.animals.customer_id"],
                                name=op.f("fk_heat_observations_cow_id_customer_id_animals")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_heat_observations_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heat_observations")),
        sa.UniqueConstraint("cow_id", "heat_date",
                            name=op.f("uq_heat_observations_cow_id_heat_date")),
        schema="core",
    )
    op.create_index(op.f("ix_heat_observations_customer_id"), "heat_observations",
                    ["customer_id"], unique=False, schema="core")
    op.create_index(op.f("ix_heat_observations_cow_id"), "heat_observations", ["cow_id"],
                    unique=False, schema="core")
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0028_farmer_events.sql").read_text())


def downgrade() -> None:
    exit_rule = re.search(r"CREATE FUNCTION core\.check_exit\(\).*?END \$\$;",
                          (HERE / "0009_animal_exits.sql").read_text(), re.S).group(0)
    op.get_bind().connection.driver_connection.execute(
        exit_rule.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.drop_table("heat_observations", schema="core")
    op.execute("DELETE FROM core.role_permissions WHERE permission = 'reproduction:write' "
               "AND role IN ('customer_admin', 'customer_user')")
