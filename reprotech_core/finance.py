"""Service orders and invoices: the financial module.

A service (genotyping, embryo flush, OPU/IVF, embryo transfer, pregnancy diagnosis and the
pregnancy check visit) is ordered for a customer and usually one of its animals, priced from
the price list valid on the order date, marked done when performed, and invoiced per period.
Orders come from staff (:func:`place_order`) or from the work recorded
(:func:`orders_from_work`: a genotyped sample, a flush, an OPU/IVF session, a transfer, a
pregnancy diagnosis and the visit it was made on), each once, by its reference.

An invoice for a month collects every done, not yet invoiced order of the customer performed
up to the month's end (so a late order lands on the next invoice, never on none). It is a
document: numbered ``RT-<year>-<seq>`` without gaps in the year of issue, with VAT at
``vat_percent``, its lines copied and its PDF stored when issued; the database keeps it as
issued (migration 0026). A month already invoiced is refused by name; a correction is a credit
note, which frees the invoice's orders to be corrected and invoiced again. Amounts are exact
decimals throughout; a price with more than two decimals is refused (``price.decimals``).
Who reads and writes is row security's business (migrations 0006, 0026): admins write; a
customer's admin on a tier with the financial module reads their own.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.finance import Invoice, InvoiceLine, ServiceOrder, ServicePrice
from data_models.tenancy import Customer
from reprotech_core import invoice_pdf
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.portal.tenancy import parse_id
from reprotech_core.settings import Settings

CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderEntry:
    service: str
    ordered_on: date
    animal: str | None = None  # official ID of one of the customer's animals
    quantity: int = 1
    reference: str | None = None  # the customer's or the lab's reference; unique per customer


def price_of(session: Session, service: str, on: date) -> ServicePrice:
    """The price list row in force for ``service`` on ``on``; a chip's genomic test
    (``genotyping:<chip>``) without a price of its own is priced as ``genotyping``."""
    candidates = [service, service.split(":", 1)[0]] if ":" in service else [service]
    price = None
    for code in candidates:
        price = session.scalar(select(ServicePrice).where(ServicePrice.service == code,
                                                          ServicePrice.valid_from <= on)
                               .order_by(ServicePrice.valid_from.desc()).limit(1))
        if price is not None:
            break
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


def amount(value: object, what: str) -> Decimal:
    """``value`` as an exact amount of at most two decimals, not negative; anything else is
    refused by name (``price.decimals``, ``price.invalid``)."""
    try:
        exact = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RuleViolation("price.invalid", f"{what}: {value!r} is not an amount") from None
    if not exact.is_finite() or exact < 0:
        raise RuleViolation("price.invalid", f"{what}: {value} is not an amount of 0 or more")
    if exact != exact.quantize(CENT):
        raise RuleViolation("price.decimals", f"{what}: {value} has more than two decimals")
    return exact.quantize(CENT)


def set_price(session: Session, service: str, description: str, unit_price: object,
              valid_from: date, currency: str = "EUR") -> ServicePrice:
    """Add the price of ``service`` from ``valid_from`` on (or correct the row of that day);
    orders keep the price they were placed at."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*(:[A-Za-z0-9_.-]+)?", service) or len(service) > 32:
        raise RuleViolation("price.service", f"service code {service!r}: lower-case letters, "
                            "digits and _, optionally :<chip>, at most 32 characters")
    price = amount(unit_price, f"price of {service}")
    row = session.scalar(select(ServicePrice).where(ServicePrice.service == service,
                                                    ServicePrice.valid_from == valid_from))
    if row is None:
        row = ServicePrice(service=service, valid_from=valid_from)
        session.add(row)
    row.description, row.unit_price, row.currency = description, price, currency
    session.flush()
    return row


@dataclass(frozen=True)
class WorkOrders:
    created: int
    unpriced: dict[str, int] = field(default_factory=dict)  # service -> work left unordered


WORK = """
SELECT g.customer_id, 'genotyping:' || p.name AS service, g.animal_id,
       g.created_at::date AS performed_on, 'work:genotype:' || g.sample_id AS reference
  FROM core.genotypes g JOIN core.snp_panels p ON p.id = g.panel_id
UNION ALL
SELECT customer_id, 'embryo_flush', donor_id, flush_date, 'work:flush:' || id
  FROM core.embryo_flushes
UNION ALL
SELECT customer_id, 'opu_ivf', donor_id, opu_date, 'work:opu:' || id FROM core.ivf_sessions
UNION ALL
SELECT customer_id, 'embryo_transfer', recipient_id, transfer_date, 'work:transfer:' || id
  FROM core.embryo_transfers
UNION ALL
SELECT customer_id, 'pregnancy_diagnosis', cow_id, diagnosis_date, 'work:pd:' || id
  FROM core.pregnancy_diagnoses
UNION ALL
SELECT DISTINCT customer_id, 'pregnancy_check_visit', NULL::bigint, diagnosis_date,
       'work:pd-visit:' || diagnosis_date
  FROM core.pregnancy_diagnoses
"""


def orders_from_work(session: Session, *, until: date, customer_id: int | None = None
                     ) -> WorkOrders:
    """A done order for each piece of work recorded up to ``until`` that has none yet (by its
    reference ``work:<kind>:<id>``), priced on the day of the work. Work of a service without a
    price that day is left unordered and counted, to be ordered once the price list has it.
    Only farms are billed (not the reference catalogue); ``customer_id``: that farm's only."""
    rows = session.execute(text(
        f"SELECT w.* FROM ({WORK}) w JOIN core.customers c ON c.id = w.customer_id "  # noqa: S608
        "WHERE c.kind = 'farm' AND w.performed_on <= :until "
        "AND (CAST(:c AS bigint) IS NULL OR w.customer_id = :c) AND NOT EXISTS ("
        "SELECT 1 FROM core.service_orders o WHERE o.customer_id = w.customer_id "
        "AND o.reference = w.reference) ORDER BY w.performed_on, w.reference"),
        {"until": until, "c": customer_id}).all()
    created, unpriced = 0, {}
    for r in rows:
        try:
            price = price_of(session, r.service, r.performed_on)
        except RuleViolation:
            unpriced[r.service] = unpriced.get(r.service, 0) + 1
            continue
        session.add(ServiceOrder(
            customer_id=r.customer_id, animal_id=r.animal_id, service=r.service[:32],
            quantity=1, unit_price=price.unit_price, currency=price.currency,
            ordered_on=r.performed_on, performed_on=r.performed_on, status="done",
            reference=r.reference))
        created += 1
    session.flush()
    return WorkOrders(created, unpriced)


@dataclass(frozen=True)
class InvoiceSummary:
    customer: str
    number: str
    orders: int
    net: Decimal
    vat: Decimal
    total: Decimal
    currency: str
    created: bool


def _open_invoice(session: Session, customer_id: int, start: date) -> Invoice | None:
    """The customer's invoice for the month starting ``start`` that no credit note credits."""
    return session.scalar(select(Invoice).where(
        Invoice.customer_id == customer_id, Invoice.period_start == start,
        Invoice.kind == "invoice", text(
            "NOT EXISTS (SELECT 1 FROM core.invoices c WHERE c.credit_for_id = invoices.id)")))


def _next_number(session: Session, year: int) -> tuple[int, str]:
    """The next number of ``year`` without gaps: issuing transactions queue on a lock."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('core.invoices.seq'), :y)"),
                    {"y": year})
    seq = session.scalar(text("SELECT coalesce(max(seq), 0) + 1 FROM core.invoices "
                              "WHERE year = :y"), {"y": year})
    return seq, f"RT-{year}-{seq:06d}"


def _vat(net: Decimal, percent: Decimal) -> Decimal:
    return (net * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _order_line(session: Session, order: ServiceOrder) -> InvoiceLine:
    described = price_of(session, order.service, order.ordered_on).description
    chip = order.service.split(":", 1)[1] if ":" in order.service else None
    animal = session.scalar(select(Animal.official_id).where(Animal.id == order.animal_id)) \
        if order.animal_id else None
    text_ = " · ".join(x for x in (described, chip and f"chip {chip}", animal) if x)
    return InvoiceLine(customer_id=order.customer_id, order_id=order.id,
                       performed_on=order.performed_on, description=text_,
                       quantity=order.quantity, unit_price=order.unit_price,
                       net=order.unit_price * order.quantity)


def invoice_period(session: Session, settings: Settings, period: str, *,
                   customer_id: int | None = None, issued_on: date | None = None
                   ) -> list[InvoiceSummary]:
    """Invoice every farm (or one) for ``period`` (``YYYY-MM``): one numbered invoice per
    customer with done, uninvoiced orders performed up to the period's end. A customer whose
    month is invoiced already is skipped when invoicing everyone (a retried job changes
    nothing) and refused by name (``invoice.period_invoiced``) when asked for alone."""
    start, end = period_bounds(period)
    issued_on = issued_on or date.today()
    query = select(Customer).where(Customer.kind == "farm").order_by(Customer.code)
    if customer_id is not None:
        query = select(Customer).where(Customer.id == customer_id)
    out = []
    for customer in session.scalars(query):
        existing = _open_invoice(session, customer.id, start)
        if existing is not None:
            if customer_id is not None:
                raise RuleViolation("invoice.period_invoiced", f"{customer.code}: {period} is "
                                    f"invoiced already ({existing.number}); correct it with a "
                                    "credit note")
            n = session.scalar(text("SELECT count(*) FROM core.invoice_lines "
                                    "WHERE invoice_id = :i"), {"i": existing.id})
            out.append(InvoiceSummary(customer.code, existing.number, n, existing.net,
                                      existing.vat, existing.total, existing.currency, False))
            continue
        done = session.scalars(select(ServiceOrder).where(
            ServiceOrder.customer_id == customer.id, ServiceOrder.status == "done",
            ServiceOrder.invoice_id.is_(None), ServiceOrder.performed_on <= end)
            .order_by(ServiceOrder.performed_on, ServiceOrder.id)).all()
        if not done:
            continue
        currencies = {o.currency for o in done}
        if len(currencies) > 1:
            raise RuleViolation("invoice.currency", f"customer {customer.code}: orders in "
                                f"{', '.join(sorted(currencies))} cannot share one invoice")
        lines = [_order_line(session, o) for o in done]
        net = sum((line.net for line in lines), Decimal("0.00"))
        vat = _vat(net, settings.vat_percent)
        seq, number = _next_number(session, issued_on.year)
        invoice = Invoice(customer_id=customer.id, number=number, year=issued_on.year, seq=seq,
                          period_start=start, period_end=end, issued_on=issued_on, net=net,
                          vat_percent=settings.vat_percent, vat=vat, total=net + vat,
                          currency=currencies.pop())
        _issue(session, settings, customer, invoice, lines)
        session.execute(update(ServiceOrder).where(ServiceOrder.id.in_([o.id for o in done]))
                        .values(invoice_id=invoice.id))
        out.append(InvoiceSummary(customer.code, number, len(done), net, vat, invoice.total,
                                  invoice.currency, True))
    return out


def _issue(session: Session, settings: Settings, customer: Customer, invoice: Invoice,
           lines: list[InvoiceLine]) -> None:
    """Store the invoice and its lines, then its PDF (after which it is immutable)."""
    session.add(invoice)
    session.flush()
    for line in lines:
        line.invoice_id = invoice.id
    session.add_all(lines)
    session.flush()
    credited = session.get(Invoice, invoice.credit_for_id) if invoice.credit_for_id else None
    invoice.pdf = invoice_pdf.render(invoice_pdf.Document(
        kind=invoice.kind, number=invoice.number, issued_on=invoice.issued_on,
        due_on=(invoice.issued_on + timedelta(days=settings.invoice_payment_days)
                if invoice.kind == "invoice" else None),
        period=(invoice.period_start, invoice.period_end), issuer=settings.invoice_issuer,
        customer_name=customer.name, customer_code=customer.code,
        lines=[invoice_pdf.Line(x.performed_on, x.description, x.quantity, x.unit_price, x.net)
               for x in lines],
        net=invoice.net, vat_percent=invoice.vat_percent, vat=invoice.vat, total=invoice.total,
        currency=invoice.currency, credit_for=credited.number if credited else None,
        reason=invoice.reason), settings.pdf_font_dir)
    session.flush()


def previous_month(today: date | None = None) -> str:
    """``YYYY-MM`` of the month before ``today``'s (what the monthly run invoices)."""
    return ((today or date.today()).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def invoice_month(session: Session, settings: Settings, period: str, *,
                  customer_id: int | None = None, issued_on: date | None = None
                  ) -> tuple[WorkOrders, list[InvoiceSummary]]:
    """The month's invoicing, as the job, the CLI and the demo run it: order the work
    recorded up to the period's end, then issue the invoices (:func:`invoice_period`)."""
    work = orders_from_work(session, until=period_bounds(period)[1], customer_id=customer_id)
    return work, invoice_period(session, settings, period, customer_id=customer_id,
                                issued_on=issued_on)


def price_list(session: Session) -> pd.DataFrame:
    """Every price row, by service, newest first: ``service, description, unit_price,
    currency, valid_from`` (amounts as exact decimals)."""
    rows = session.execute(select(ServicePrice.service, ServicePrice.description,
                                  ServicePrice.unit_price, ServicePrice.currency,
                                  ServicePrice.valid_from)
                           .order_by(ServicePrice.service, ServicePrice.valid_from.desc())).all()
    return pd.DataFrame(rows, columns=["service", "description", "unit_price", "currency",
                                       "valid_from"])


def credit_note(session: Session, settings: Settings, number: str, *, reason: str,
                issued_on: date | None = None) -> InvoiceSummary:
    """Credit invoice ``number`` in full with a numbered credit note; its orders are freed to
    be corrected and invoiced again. Refused by name: no reason (``invoice.reason``), an
    invoice credited already (``invoice.credited``)."""
    if not (reason or "").strip():
        raise RuleViolation("invoice.reason", "a credit note needs a reason (it is printed)")
    original = session.scalar(select(Invoice).where(Invoice.number == number,
                                                    Invoice.kind == "invoice"))
    if original is None:
        raise NotFound(f"no invoice {number}")
    if session.scalar(select(Invoice.number).where(Invoice.credit_for_id == original.id)):
        raise RuleViolation("invoice.credited", f"invoice {number} is credited already")
    issued_on = issued_on or date.today()
    customer = session.get(Customer, original.customer_id)
    lines = [InvoiceLine(customer_id=x.customer_id, order_id=x.order_id,
                         performed_on=x.performed_on, description=x.description,
                         quantity=x.quantity, unit_price=x.unit_price, net=x.net)
             for x in session.scalars(select(InvoiceLine).where(
                 InvoiceLine.invoice_id == original.id).order_by(InvoiceLine.id))]
    seq, note_number = _next_number(session, issued_on.year)
    note = Invoice(customer_id=original.customer_id, number=note_number, year=issued_on.year,
                   seq=seq, kind="credit_note", credit_for_id=original.id,
                   period_start=original.period_start, period_end=original.period_end,
                   issued_on=issued_on, net=original.net, vat_percent=original.vat_percent,
                   vat=original.vat, total=original.total, currency=original.currency,
                   reason=reason.strip())
    _issue(session, settings, customer, note, lines)
    freed = session.execute(update(ServiceOrder).where(ServiceOrder.invoice_id == original.id)
                            .values(invoice_id=None)).rowcount
    return InvoiceSummary(customer.code, note_number, freed, note.net, note.vat, note.total,
                          note.currency, True)


def mark_paid(session: Session, number: str, paid_on: date) -> None:
    """Record the payment of an issued invoice (the one change an issued invoice takes)."""
    invoice = session.scalar(select(Invoice).where(Invoice.number == number))
    if invoice is None or invoice.kind != "invoice":
        raise NotFound(f"no invoice {number}")
    if invoice.paid_on is not None:
        raise RuleViolation("invoice.paid", f"invoice {number} was paid on {invoice.paid_on}")
    if paid_on < invoice.issued_on:
        raise RuleViolation("invoice.paid", f"invoice {number}: paid on {paid_on}, before it "
                            f"was issued ({invoice.issued_on})")
    invoice.paid_on = paid_on
    session.flush()


INVOICE_COLUMNS = ["id", "number", "kind", "customer", "period", "issued_on", "due_on",
                   "net", "vat", "total", "currency", "paid_on", "credited_by"]


def invoices(session: Session, settings: Settings, *, customer_id: int | None = None,
             unpaid_only: bool = False) -> pd.DataFrame:
    """Issued invoices and credit notes the reader may see (row security), newest first
    (:data:`INVOICE_COLUMNS`); ``unpaid_only``: invoices neither paid nor credited."""
    rows = session.execute(text(
        """
        SELECT i.id, i.number, i.kind, c.code, to_char(i.period_start, 'YYYY-MM'),
               i.issued_on, CASE WHEN i.kind = 'invoice' THEN i.issued_on + :days END,
               i.net, i.vat, i.total, i.currency, i.paid_on, cn.number
          FROM core.invoices i JOIN core.customers c ON c.id = i.customer_id
          LEFT JOIN core.invoices cn ON cn.credit_for_id = i.id
         WHERE (CAST(:c AS bigint) IS NULL OR i.customer_id = :c)
           AND (NOT :unpaid OR (i.kind = 'invoice' AND i.paid_on IS NULL AND cn.id IS NULL))
         ORDER BY i.issued_on DESC, i.id DESC
        """), {"c": customer_id, "unpaid": unpaid_only,
               "days": settings.invoice_payment_days}).all()
    return pd.DataFrame(rows, columns=INVOICE_COLUMNS)


def invoice_document(session: Session, customer_id: int, invoice_id: int | str | None
                     ) -> tuple[str, bytes]:
    """An issued invoice's file name and stored PDF; another customer's, an unknown or a
    forged id are all "not found"."""
    wanted = parse_id(invoice_id, "invoice")
    row = session.execute(text(
        "SELECT number, pdf FROM core.invoices WHERE id = :i AND customer_id = :c "
        "AND pdf IS NOT NULL"), {"i": wanted, "c": customer_id}).one_or_none() \
        if wanted else None
    if row is None:
        raise NotFound(f"invoice {invoice_id}")
    return f"{row.number}.pdf", bytes(row.pdf)


def customer_orders(session: Session, customer_id: int) -> list[ServiceOrder]:
    """A customer's orders the reader may see (row security filters), newest first."""
    return list(session.scalars(select(ServiceOrder).where(
        ServiceOrder.customer_id == customer_id).order_by(ServiceOrder.ordered_on.desc(),
                                                          ServiceOrder.id.desc())))
