"""herd targets: a customer's voluntary waiting period and reproduction targets

Table from the model (data_models/reproduction.py: HerdTarget), ranges as checks; row security
(read: who sees the customer; write: ``targets:write``, granted to customer admins, vets and
admins), audit and the permission in 0021_herd_targets.sql.

Revision ID: 0021
Revises: 0020
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from data_models.reproduction import TARGET_RANGES

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent


def upgrade() -> None:
    op.create_table(
        "herd_targets",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("vwp_days", sa.SmallInteger(), server_default="50", nullable=False),
        *(sa.Column(c, sa.SmallInteger(), nullable=True) for c in TARGET_RANGES
          if c != "vwp_days"),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        *(sa.CheckConstraint(f"{c} BETWEEN {lo} AND {hi}", name=op.f(f"ck_herd_targets_{c}"))
          for c, (lo, hi) in TARGET_RANGES.items()),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_herd_targets_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_herd_targets")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_herd_targets_customer_id")),
        schema="core",
    )
    op.create_index(op.f("ix_herd_targets_customer_id"), "herd_targets", ["customer_id"],
                    unique=False, schema="core")
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0021_herd_targets.sql").read_text())


def downgrade() -> None:
    op.execute("DELETE FROM core.role_permissions WHERE permission = 'targets:write'")
    op.drop_table("herd_targets", schema="core")
