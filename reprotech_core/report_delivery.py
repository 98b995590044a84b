"""Scheduled herd reports delivered: rendered as the portal's PDF, kept in the database for the
customer's Reports page, and emailed to those who asked for it.

The PDF is the one the Downloads page makes (:func:`~reprotech_core.portal.exports.herd_report_of`)
from the same herd table, so a delivered report and a download on the same day agree. Each
customer is delivered in its own transaction: the report row, its audit row and the count of
emails sent commit together, and a failure (a mail server that refuses, say) leaves that
customer's earlier reports as they were and the job failed, to be retried; the retry (the same
job run) skips the customers it delivered already, so nobody gets a report twice. Only the newest
``reports_kept_per_customer`` reports of a customer are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from data_models.delivery import CustomerReport
from data_models.tenancy import Customer
from reprotech_core import mail, notifications
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound
from reprotech_core.hub_services import dashboards_prefix
from reprotech_core.portal import herd
from reprotech_core.portal.exports import herd_report_of
from reprotech_core.portal.tenancy import parse_id
from reprotech_core.reproduction.queries import herd_kpis
from reprotech_core.results.released import released_results, released_run
from reprotech_core.settings import Settings

LISTING_COLUMNS = ["id", "created_at", "title", "evaluation_run_id", "size_bytes"]


def render(session: Session, customer: Customer, weights: Mapping[str, float], *,
           today: date) -> tuple[bytes, int | None]:
    """The customer's herd report PDF as of ``today`` and the released run it shows."""
    animals = herd.herd_animals(session, customer.id)
    results = released_results(session, customer.id)
    run = released_run(session, customer.id)
    table = herd.herd_table(animals, results, weights)
    modules = session.scalar(text(
        "SELECT t.modules FROM core.customers c JOIN core.subscription_tiers t ON t.code = c.tier "
        "WHERE c.id = :c"), {"c": customer.id}) or []
    kpis = (herd_kpis(session, customer.id, start=today - timedelta(days=365), end=today,
                      as_of=today) if "reproduction" in modules and len(table) else None)
    return herd_report_of(customer=customer.name, table=table, run=run, kpis=kpis,
                          weights=weights), run


def filename(code: str, created: date) -> str:
    return f"{code}-herd-report-{created.isoformat()}.pdf"


@dataclass(frozen=True)
class Delivery:
    customer: str
    report_id: int
    size_bytes: int
    emailed_to: int


def deliver(db: Database, identity: Identity, settings: Settings, *, customer_code: str = "",
            job_run_id: int | None = None, today: date | None = None,
            progress: Callable[[str], None] = lambda _: None) -> list[Delivery]:
    """Render, store and email the herd report of every farm customer (or of one)."""
    today = today or date.today()
    with db.session(identity) as s:
        query = select(Customer.code).where(Customer.kind == "farm", Customer.active)
        if customer_code:
            query = query.where(Customer.code == customer_code)
        codes = list(s.scalars(query.order_by(Customer.code)))
    if customer_code and not codes:
        raise NotFound(f"no active farm customer {customer_code!r}")
    done = []
    for i, code in enumerate(codes, 1):
        with db.session(identity, reason="scheduled herd report delivered") as s:
            customer = s.scalars(select(Customer).where(Customer.code == code)).one()
            earlier = s.execute(text(
                "SELECT id, size_bytes, emailed_to FROM core.customer_reports WHERE "
                "customer_id = :c AND job_run_id = :r"),
                {"c": customer.id, "r": job_run_id}).first() if job_run_id else None
            done.append(Delivery(code, *earlier) if earlier is not None  # a retried run
                        else _deliver_one(s, settings, customer, job_run_id=job_run_id,
                                          today=today))
        progress(f"{i}/{len(codes)} {code}: report {done[-1].report_id}, "
                 f"{done[-1].size_bytes:,} bytes, emailed to {done[-1].emailed_to}")
    return done


def _deliver_one(session: Session, settings: Settings, customer: Customer, *,
                 job_run_id: int | None, today: date) -> Delivery:
    pdf, run = render(session, customer, settings.index_weights, today=today)
    report = CustomerReport(customer_id=customer.id, job_run_id=job_run_id or None,
                            evaluation_run_id=run, title=f"Herd report {today.isoformat()}",
                            pdf=pdf, size_bytes=len(pdf), sha256=hashlib.sha256(pdf).digest())
    session.add(report)
    session.flush()
    to = notifications.recipients(session, customer.id, "report")
    for r in to:  # one message each: no farm learns another recipient's address
        mail.send(settings, to=[r.email], subject=f"{report.title}: {customer.name}",
                  body=_email_body(settings, customer.name, report.title),
                  attachments=[(filename(customer.code, today), pdf, "application/pdf")])
    report.emailed_to = len(to)
    _prune(session, customer.id, settings.reports_kept_per_customer)
    return Delivery(customer.code, report.id, report.size_bytes, len(to))


def _email_body(settings: Settings, customer: str, title: str) -> str:
    return (f"{title} for {customer} is attached.\n\n"
            f"Every report is also on the Reports page of the portal:\n"
            f"{settings.public_base}{dashboards_prefix()}?page=reports\n\n"
            "You get this email because you asked for herd reports by email; untick "
            "\"Email me each new herd report\" on that page to stop them.\n")


def _prune(session: Session, customer_id: int, keep: int) -> None:
    session.execute(text(
        "DELETE FROM core.customer_reports WHERE customer_id = :c AND id NOT IN ("
        "SELECT id FROM core.customer_reports WHERE customer_id = :c "
        "ORDER BY created_at DESC, id DESC LIMIT :k)"), {"c": customer_id, "k": keep})


def listing(session: Session, customer_id: int) -> pd.DataFrame:
    """The customer's delivered reports, newest first (:data:`LISTING_COLUMNS`)."""
    rows = session.execute(text(
        "SELECT id, created_at, title, evaluation_run_id, size_bytes "
        "FROM core.customer_reports WHERE customer_id = :c ORDER BY created_at DESC, id DESC"),
        {"c": customer_id}).all()
    return pd.DataFrame(rows, columns=LISTING_COLUMNS)


def fetch(session: Session, customer_id: int, report: str | int | None) -> tuple[str, bytes]:
    """One report's file name and PDF. A report of another customer, one the reader cannot
    see, one that does not exist and a forged id are all "not found", alike."""
    wanted = parse_id(report, "report")
    row = session.execute(text(
        "SELECT r.pdf, r.created_at, c.code FROM core.customer_reports r "
        "JOIN core.customers c ON c.id = r.customer_id WHERE r.id = :r AND r.customer_id = :c"),
        {"r": wanted, "c": customer_id}).one_or_none() if wanted else None
    if row is None:
        raise NotFound(f"report {report}")
    return filename(row.code, row.created_at.date()), bytes(row.pdf)
