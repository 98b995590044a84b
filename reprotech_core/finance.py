"""Service orders and invoices: the financial module.

A service (genotyping, embryo flush, OPU/IVF, embryo transfer, pregnancy diagnosis) is ordered
for a customer and usually one of its animals, priced from the price list valid on the order
date, marked done when performed, and invoiced per period: an invoice for a period collects
every done, not yet invoiced order of the customer performed up to the period's end (so a late
order lands on the next invoice, never on none). Invoicing a period twice changes nothing.
Who reads and writes is row security's business (migration 0006): admins write; a customer's
admin on a tier with the financial module reads their own.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.finance import Invoice, ServiceOrder, ServicePrice
from data_models.tenancy import Customer
from reprotech_core.errors import NotFound, RuleViolation


@dataclass(frozen=True)
class OrderEntry:
    service: str
    ordered_on: date
    animal: str | None = None  # official ID of one of the customer's animals
    quantity: int = 1
    reference: str | None = None  # the customer's or the lab's reference; unique per customer


@dataclass(frozen=True)
class InvoiceSummary:
    customer: str
    number: str
    orders: int
    total: Decimal
    currency: str
    created: bool


def price_of(session: Session, service: str, on: date) -> ServicePrice:
    """The price list row in force for ``service`` on ``on``."""
    price = session.scalar(select(ServicePrice).where(ServicePrice.service == service,
                                                      ServicePrice.valid_from <= on)
                           .order_by(ServicePrice.valid_from.desc()).limit(1))
    if price is None:
        known = ", ".join(sorted(set(session.scalars(select(ServicePrice.service)))))
        raise RuleViolation("order.no_price", f"service {service!r} has no price on {on} "
                            f"(priced services: {known})")
    return price


def place_order(session: Session, customer: Customer, entry: OrderEntry) -> ServiceOrder:
    """Order a service for ``customer``, priced now; an order with the same reference is
    returned as it is (placing it again is harmless)."""
    if entry.reference:
        existing = session.scalar(select(ServiceOrder).where(
            ServiceOrder.customer_id == customer.id, ServiceOrder.reference == entry.reference))
        if existing is not None:
            return existing
    if entry.quantity <= 0:
        raise RuleViolation("order.quantity", f"order {entry.reference or entry.service}: "
                            f"quantity {entry.quantity} must be at least 1")
    animal_id = None
    if entry.animal:
        animal_id = session.scalar(select(Animal.id).where(
            Animal.customer_id == customer.id, Animal.official_id == entry.animal))
        if animal_id is None:
            raise RuleViolation("order.animal_unknown", f"order {entry.reference or entry.service}"
                                f": {entry.animal!r} is not an animal of {customer.code}")
    price = price_of(session, entry.service, entry.ordered_on)
    order = ServiceOrder(customer_id=customer.id, animal_id=animal_id, service=entry.service,
                         quantity=entry.quantity, unit_price=price.unit_price,
                         currency=price.currency, ordered_on=entry.ordered_on,
                         reference=entry.reference)
    session.add(order)
    session.flush()
    return order


def complete_order(session: Session, order_id: int, performed_on: date) -> ServiceOrder:
    """Mark an order done on ``performed_on`` (it is then invoiced with that period)."""
    order = session.get(ServiceOrder, order_id)
    if order is None:
        raise NotFound(f"no service order {order_id}")
    if order.status == "cancelled" or performed_on < order.ordered_on:
        raise RuleViolation("order.completion", f"order {order.reference or order.id}: cannot "
                            f"be done on {performed_on} ({order.status}, ordered "
                            f"{order.ordered_on})")
    if order.invoice_id is None:
        order.status, order.performed_on = "done", performed_on
        session.flush()
    return order


def period_bounds(period: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first and last day."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValueError(f"period {period!r}: expected YYYY-MM, e.g. 2026-10")
    year, month = map(int, period.split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def invoice_period(session: Session, period: str, *, customer_id: int | None = None,
                   issued_on: date | None = None) -> list[InvoiceSummary]:
    """Invoice every customer (or one) for ``period`` (``YYYY-MM``): one invoice per customer
    with done, uninvoiced orders performed up to the period's end. Idempotent per period."""
    start, end = period_bounds(period)
    query = select(Customer).order_by(Customer.code)
    if customer_id is not None:
        query = query.where(Customer.id == customer_id)
    out = []
    for customer in session.scalars(query):
        done = session.scalars(select(ServiceOrder).where(
            ServiceOrder.customer_id == customer.id, ServiceOrder.status == "done",
            ServiceOrder.invoice_id.is_(None), ServiceOrder.performed_on <= end)).all()
        existing = session.scalar(select(Invoice).where(Invoice.customer_id == customer.id,
                                                        Invoice.period_start == start))
        if existing is not None:
            n = session.scalar(text("SELECT count(*) FROM core.service_orders "
                                    "WHERE invoice_id = :i"), {"i": existing.id})
            out.append(InvoiceSummary(customer.code, existing.number, n, existing.total,
                                      existing.currency, False))
            continue
        if not done:
            continue
        currencies = {o.currency for o in done}
        if len(currencies) > 1:
            raise RuleViolation("invoice.currency", f"customer {customer.code}: orders in "
                                f"{', '.join(sorted(currencies))} cannot share one invoice")
        total = sum((o.unit_price * o.quantity for o in done), Decimal("0.00"))
        invoice = Invoice(customer_id=customer.id, number=f"INV-{start:%Y%m}-{customer.code}",
                          period_start=start, period_end=end, issued_on=issued_on or date.today(),
                          total=total, currency=currencies.pop())
        session.add(invoice)
        session.flush()
        session.execute(update(ServiceOrder).where(ServiceOrder.id.in_([o.id for o in done]))
                        .values(invoice_id=invoice.id))
        out.append(InvoiceSummary(customer.code, invoice.number, len(done), total,
                                  invoice.currency, True))
    return out


def customer_orders(session: Session, customer_id: int) -> list[ServiceOrder]:
    """A customer's orders the reader may see (row security filters), newest first."""
    return list(session.scalars(select(ServiceOrder).where(
        ServiceOrder.customer_id == customer_id).order_by(ServiceOrder.ordered_on.desc(),
                                                          ServiceOrder.id.desc())))
