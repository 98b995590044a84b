"""invoices as documents: numbered without gaps per year, VAT, lines copied at issue, the PDF
stored as issued, immutable but for the payment date; credit notes; prices per chip and the
pregnancy check visit

Columns and the lines table from the models (data_models/finance.py); row security, the
immutability triggers and the new prices in 0026_invoice_documents.sql.

Revision ID: 0026
Revises: 0025
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
MONEY = sa.Numeric(12, 2)


def upgrade() -> None:
    op.drop_constraint("uq_invoices_customer_id_period_start", "invoices", schema="core")
    for column in (
        sa.Column("kind", sa.String(length=12), server_default="invoice", nullable=False),
        sa.Column("credit_for_id", sa.BigInteger(), nullable=True),
        sa.Column("net", MONEY, nullable=True),
        sa.Column("vat", MONEY, server_default="0", nullable=False),
        sa.Column("vat_percent", sa.Numeric(5, 2), server_default="0", nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    ):
        op.add_column("invoices", column, schema="core")
    op.execute("UPDATE core.invoices SET net = total")  # invoices before VAT: net is the total
    op.alter_column("invoices", "net", nullable=False, schema="core")
    op.alter_column("invoices", "vat", server_default=None, schema="core")
    op.alter_column("invoices", "vat_percent", server_default=None, schema="core")
    op.create_foreign_key(op.f("fk_invoices_credit_for_id_customer_id_invoices"), "invoices",
                          "invoices", ["credit_for_id", "customer_id"], ["id", "customer_id"],
                          source_schema="core", referent_schema="core")
    op.create_unique_constraint(op.f("uq_service_orders_id_customer_id"), "service_orders",
                                ["id", "customer_id"], schema="core")
    op.create_unique_constraint(op.f("uq_invoices_year_seq"), "invoices", ["year", "seq"],
                                schema="core")
    op.create_unique_constraint(op.f("uq_invoices_credit_for_id"), "invoices",
                                ["credit_for_id"], schema="core")
    op.create_check_constraint(op.f("ck_invoices_kind"), "invoices",
                               "kind IN ('invoice', 'credit_note')", schema="core")
    op.create_check_constraint(op.f("ck_invoices_credit_note_credits"), "invoices",
                               "(kind = 'credit_note') = (credit_for_id IS NOT NULL)",
                               schema="core")
    op.create_check_constraint(op.f("ck_invoices_total_is_net_plus_vat"), "invoices",
                               "total = net + vat", schema="core")
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(10, 2), nullable=False),
        sa.Column("net", MONEY, nullable=False),
        sa.CheckConstraint("net = quantity * unit_price",
                           name=op.f("ck_invoice_lines_net_is_quantity_times_price")),
        sa.ForeignKeyConstraint(["customer_id"], ["core.customers.id"],
                                name=op.f("fk_invoice_lines_customer_id_customers")),
        sa.ForeignKeyConstraint(["invoice_id", "customer_id"],
                                ["core.invoices.id", "core.invoices.customer_id"],
                                name=op.f("fk_invoice_lines_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["order_id", "customer_id"],
                                ["core.service_orders.id", "core.service_orders.customer_id"],
                                name=op.f("fk_invoice_lines_order_id_customer_id_service_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        schema="core",
    )
    op.create_index(op.f("ix_invoice_lines_invoice_id"), "invoice_lines", ["invoice_id"],
                    schema="core")
    op.create_index(op.f("ix_invoice_lines_customer_id"), "invoice_lines", ["customer_id"],
                    schema="core")
    op.get_bind().connection.driver_connection.execute(
        (HERE / "0026_invoice_documents.sql").read_text())


def downgrade() -> None:
    op.drop_table("invoice_lines", schema="core")  # its trigger uses the functions below
    op.execute("DROP TRIGGER invoice_immutable ON core.invoices")
    op.execute("DROP TRIGGER order_invoiced ON core.service_orders")
    op.execute("DROP FUNCTION core.refuse_invoice_change()")
    op.execute("DROP FUNCTION core.refuse_invoiced_order_change()")
    for name in ("ck_invoices_total_is_net_plus_vat", "ck_invoices_credit_note_credits",
                 "ck_invoices_kind", "uq_invoices_credit_for_id", "uq_invoices_year_seq",
                 "fk_invoices_credit_for_id_customer_id_invoices"):
        op.drop_constraint(name, "invoices", schema="core")
    for name in ("uq_service_orders_id_customer_id",):
        op.drop_constraint(name, "service_orders", schema="core")
    for column in ("reason", "pdf", "paid_on", "seq", "year", "vat_percent", "vat", "net",
                   "credit_for_id", "kind"):
        op.drop_column("invoices", column, schema="core")
    op.execute("DELETE FROM core.service_prices WHERE service = 'pregnancy_check_visit' "
               "AND valid_from = DATE '2020-01-01'")  # the price this migration added
    op.create_unique_constraint("uq_invoices_customer_id_period_start", "invoices",
                                ["customer_id", "period_start"], schema="core")
