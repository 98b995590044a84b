"""animal exits: sold, slaughtered or died, with the rules that tie them to the records

Table from the model (data_models/reproduction.py: AnimalExit); row security, audit and the
rule triggers (no event after an exit, no exit before the animal's recorded events or birth)
in 0009_animal_exits.sql.

Revision ID: 0009
Revises: 0008
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
EVENT_TABLES = ("inseminations", "embryo_transfers", "pregnancy_diagnoses", "calvings",
                "embryo_flushes", "ivf_sessions")


def upgrade() -> None:
    op.create_table(
        "animal_exits",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("animal_id", sa.BigInteger(), nullable=False),
        sa.Column("exit_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("reason IN ('sold', 'slaughter', 'died')",
                           name=op.f("ck_animal_exits_reason")),
        sa.ForeignKeyConstraint(["animal_id", "customer_id"],
                                ["core.animals.id", "core.animals.customer_id"],
                                name=op.f("fk_animal_exits_animal_id_customer_id_animals")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_animal_exits_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_animal_exits")),
        sa.UniqueConstraint("animal_id", name=op.f("uq_animal_exits_animal_id")),
        schema="core",
    )
    op.create_index(op.f("ix_animal_exits_customer_id"), "animal_exits", ["customer_id"],
                    unique=False, schema="core")
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0009_animal_exits.sql").read_text())


def downgrade() -> None:
    for table in EVENT_TABLES:
        for ev in ("insert", "update"):
            op.execute(f"DROP TRIGGER check_after_exit_{ev} ON core.{table}")
    op.drop_table("animal_exits", schema="core")
    for fn in ("core.check_exit()", "core.check_after_exit()"):
        op.execute(f"DROP FUNCTION {fn}")
