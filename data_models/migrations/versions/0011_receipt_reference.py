"""a receipt's delivery-note reference: a semen receipt entered twice is not counted twice

``core.inventory_movements.reference`` (the delivery note or dispatch number, e.g.
``DN-2024-0117``) with a partial unique index per customer among receipts. reprotech_core
checks it first (rule ``inventory.receipt_duplicate``, docs/reproduction.md: the same reference
with the same values is a harmless re-entry, with other values a refusal); the index holds it
for every writer, two submissions racing each other included. Receipts without a reference
keep counting every time they are entered.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inventory_movements", sa.Column("reference", sa.String(length=64),
                                                   nullable=True), schema="core")
    op.create_index("uq_inventory_movements_customer_id_reference", "inventory_movements",
                    ["customer_id", "reference"], unique=True, schema="core",
                    postgresql_where=sa.text("kind = 'receipt' AND reference IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_inventory_movements_customer_id_reference",
                  table_name="inventory_movements", schema="core")
    op.drop_column("inventory_movements", "reference", schema="core")
