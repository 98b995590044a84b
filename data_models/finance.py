"""The financial module: a price list, service orders for a customer's animals, invoices.

Orders and invoices are tenant tables readable only by actors who may open the ``financial``
module (role modules, cut to the customer's tier for customer users) and written by
``financial:write`` (migration 0006). An order keeps the unit price it was priced at, so a later
price change does not rewrite history; an invoice covers one customer and one period.

An invoice is a numbered document (migration 0026): ``RT-<year>-<seq>``, the sequence without
gaps within a year; its lines (``invoice_lines``) copy what was invoiced, its PDF is stored as
issued, and the database refuses any change to it but the payment date
(``invoice.immutable``). A correction is a credit note: an invoice of kind ``credit_note``
crediting another in full, which frees its orders to be corrected and invoiced again.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

ORDER_STATUSES = ("ordered", "done", "cancelled")
INVOICE_KINDS = ("invoice", "credit_note")


class ServicePrice(Base):
    """The price of a service from ``valid_from`` until the next row of the same service."""

    __tablename__ = "service_prices"
    __table_args__ = (
        UniqueConstraint("service", "valid_from"),
        CheckConstraint("unit_price >= 0", name="price_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, server_default="EUR")
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("id", "customer_id"),
        UniqueConstraint("year", "seq"),
        UniqueConstraint("credit_for_id"),
        ForeignKeyConstraint(  # a credit note credits an invoice of the same customer
            ["credit_for_id", "customer_id"],
            [f"{CORE}.invoices.id", f"{CORE}.invoices.customer_id"]),
        CheckConstraint("period_end >= period_start", name="period_order"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint(f"kind IN {INVOICE_KINDS!r}".replace('"', "'"), name="kind"),
        CheckConstraint("(kind = 'credit_note') = (credit_for_id IS NOT NULL)",
                        name="credit_note_credits"),
        CheckConstraint("total = net + vat", name="total_is_net_plus_vat"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    issued_on: Mapped[date] = mapped_column(Date, nullable=False)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_at: Mapped[datetime] = created_at()
    kind: Mapped[str] = mapped_column(String(12), nullable=False, server_default="invoice")
    credit_for_id: Mapped[int | None] = mapped_column(BigInteger)
    net: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    vat: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    vat_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    paid_on: Mapped[date | None] = mapped_column(Date)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    reason: Mapped[str | None] = mapped_column(Text)


class InvoiceLine(Base):
    """What an invoice charged, copied from its orders when it was issued (immutable)."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["invoice_id", "customer_id"], [f"{CORE}.invoices.id", f"{CORE}.invoices.customer_id"]
        ),
        ForeignKeyConstraint(
            ["order_id", "customer_id"],
            [f"{CORE}.service_orders.id", f"{CORE}.service_orders.customer_id"]),
        CheckConstraint("net = quantity * unit_price", name="net_is_quantity_times_price"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    invoice_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    performed_on: Mapped[date] = mapped_column(Date, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    net: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)


class ServiceOrder(Base):
    """A service ordered for a customer (and usually one of its animals), priced when ordered;
    once done it is invoiced in the period of ``performed_on``."""

    __tablename__ = "service_orders"
    __table_args__ = (
        UniqueConstraint("customer_id", "reference"),
        UniqueConstraint("id", "customer_id"),
        ForeignKeyConstraint(
            ["animal_id", "customer_id"], [f"{CORE}.animals.id", f"{CORE}.animals.customer_id"]
        ),
        ForeignKeyConstraint(
            ["invoice_id", "customer_id"], [f"{CORE}.invoices.id", f"{CORE}.invoices.customer_id"]
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="price_not_negative"),
        CheckConstraint(f"status IN {ORDER_STATUSES!r}".replace('"', "'"), name="status"),
        CheckConstraint("status = 'done' OR invoice_id IS NULL", name="only_done_invoiced"),
        CheckConstraint("(status = 'done') = (performed_on IS NOT NULL)", name="done_has_date"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    animal_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    service: Mapped[str] = mapped_column(String(32), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    ordered_on: Mapped[date] = mapped_column(Date, nullable=False)
    performed_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), nullable=False, server_default="ordered")
    reference: Mapped[str | None] = mapped_column(String(128))
    invoice_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = created_at()
