"""``reprotech repro`` (breeding-event import, KPIs) and ``reprotech orders`` (service orders,
invoices): thin commands over reprotech_core.reproduction and reprotech_core.finance."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from reprotech_core import finance
from reprotech_core.accounts import customer_by_code
from reprotech_core.cli.context import print_table, settings, system_session
from reprotech_core.errors import ReprotechError
from reprotech_core.finance import customer_orders
from reprotech_core.reproduction import herd_kpis, import_events, kpi_breakdown
from reprotech_core.reproduction.kpis import BREAKDOWNS
from reprotech_core.reproduction.queries import worklist
from reprotech_core.reproduction.worklists import ACTIONS

app = typer.Typer(help="Reproduction records: bulk import of breeding events, KPIs, the "
                  "to-do list.",
                  no_args_is_help=True)
orders_app = typer.Typer(help="Service orders and invoices (the financial module).",
                         no_args_is_help=True)
console = Console()
DAY = typer.Option(formats=["%Y-%m-%d"])


class ImportRefused(ReprotechError):
    """The file had problems and nothing was imported."""


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _show(value: object) -> object:
    if isinstance(value, float):
        return None if math.isnan(value) else f"{value:.3g}"
    return value


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(
        help="CSV (UTF-8; UTF-16 is read too) or Excel (.xlsx, one sheet) of breeding events",
        exists=True, dir_okay=False)],
    customer: Annotated[str, typer.Option(help="Customer code the events belong to")],
    clean_rows_only: Annotated[bool, typer.Option(
        "--clean-rows-only",
        help="Import the clean rows even if other rows have problems")] = False,
) -> None:
    """Import breeding events, all or nothing, with a report of every problem.

    With --clean-rows-only the clean rows are imported anyway. Rows already stored are
    skipped, so a file can be imported again. The file passes the same checks as a web upload
    first (size limit upload_max_mb, a regular file of its type); a file that cannot be read as
    a table is refused naming line and column."""
    with console.status(f"checking {escape(file.name)}…"):
        with system_session(f"breeding events imported from {file.name}") as session:
            report = import_events(session, customer_by_code(session, customer), file,
                                   clean_rows_only=clean_rows_only)
    if report.errors:
        print_table(("line", "column", "rule", "problem"),
                    [(e.line, escape(e.column), e.rule, escape(e.message))
                     for e in report.errors[:200]],  # the file's values are not markup
                    title=f"{len(report.errors)} problem(s) in {escape(file.name)}"
                          + (" (first 200)" if len(report.errors) > 200 else ""))
    imported = ", ".join(f"{n} {kind}" for kind, n in sorted(report.imported.items())) or "nothing"
    console.print(f"{report.rows} rows read; imported {imported}; {report.present} already "
                  "present")
    if report.errors and not report.written:
        raise ImportRefused(f"{file.name}: nothing imported; fix the rows above or use "
                            "--clean-rows-only")


@app.command("kpis")
def kpis(
    customer: Annotated[str, typer.Option(help="Customer code")],
    start: Annotated[datetime | None, DAY] = None,
    end: Annotated[datetime | None, DAY] = None,
    by: Annotated[str | None, typer.Option(help=f"Breakdown: {', '.join(BREAKDOWNS)}")] = None,
) -> None:
    """Reproduction KPIs of a customer's herds (definitions: docs/reproduction.md)."""
    if by is not None and by not in BREAKDOWNS:
        raise typer.BadParameter(f"--by must be one of {', '.join(BREAKDOWNS)}")
    with system_session() as session:
        cust = customer_by_code(session, customer)
        if by is None:
            result = herd_kpis(session, cust.id, start=_day(start), end=_day(end)).as_dict()
            print_table(("KPI", "value"), [(k, _show(v)) for k, v in result.items()],
                        title=f"Reproduction KPIs of {customer}")
            return
        frame = kpi_breakdown(session, cust.id, by, start=_day(start), end=_day(end))
    print_table(frame.columns, [[_show(v) for v in row] for row in frame.itertuples(index=False)],
                title=f"Reproduction KPIs of {customer} by {by}")


@app.command("worklist")
def worklist_command(
    customer: Annotated[str, typer.Option(help="Customer code")],
    action: Annotated[str | None, typer.Option(
        help=f"Only this action: {', '.join(ACTIONS)}")] = None,
    day: Annotated[datetime | None, DAY] = None,
) -> None:
    """The herd's reproduction to-do list: cows to examine, check, breed, dry off or watch
    calve, and why (rules: docs/reproduction.md)."""
    if action is not None and action not in ACTIONS:
        raise typer.BadParameter(f"--action must be one of {', '.join(ACTIONS)}")
    with system_session() as session:
        cust = customer_by_code(session, customer)
        todo = worklist(session, cust.id, today=_day(day))
    if action is not None:
        todo = todo[todo["action"] == action]
    print_table(("cow", "herd", "action", "why", "due"),
                [(r.official_id, r.herd or "", r.action, r.reason,
                  "" if pd.isna(r.due) else r.due.date().isoformat())
                 for r in todo.itertuples()],
                title=f"Reproduction to-do of {customer}: {len(todo)} cow(s)")


@orders_app.command("invoice")
def invoice(
    period: Annotated[str, typer.Option(help="Month to invoice, YYYY-MM")],
    customer: Annotated[str | None, typer.Option(help="Only this customer")] = None,
) -> None:
    """Order the work recorded up to the period's end, then issue one numbered invoice (PDF
    stored) per farm with done, uninvoiced orders. A month invoiced already is skipped for
    everyone and refused for one customer (correct it with a credit note)."""
    config = settings()
    with system_session(f"invoicing {period}") as session:
        cid = customer_by_code(session, customer).id if customer else None
        work, made = finance.invoice_month(session, config, period, customer_id=cid)
    console.print(f"{work.created} order(s) from the work recorded"
                  + "".join(f"; {n} {escape(s)} left unordered (no price)"
                            for s, n in sorted(work.unpriced.items())))
    print_table(("customer", "invoice", "orders", "net", "VAT", "total", "new"),
                [(i.customer, i.number, i.orders, f"{i.net}", f"{i.vat}",
                  f"{i.total} {i.currency}", "yes" if i.created else "no") for i in made],
                title=f"Invoices for {period}")


@orders_app.command("credit")
def credit(
    number: Annotated[str, typer.Argument(help="Invoice number, e.g. RT-2026-000012")],
    reason: Annotated[str, typer.Option(help="Why (printed on the credit note)")],
) -> None:
    """Credit an invoice in full; its orders can then be corrected and invoiced again."""
    with system_session(f"credit note for {number}") as session:
        note = finance.credit_note(session, settings(), number, reason=reason)
    console.print(f"credit note {note.number}: {note.total} {note.currency} "
                  f"({note.orders} order(s) freed)")


@orders_app.command("paid")
def paid(
    number: Annotated[str, typer.Argument(help="Invoice number")],
    on: Annotated[datetime, DAY],
) -> None:
    """Record an invoice's payment."""
    with system_session(f"payment of {number}") as session:
        finance.mark_paid(session, number, on.date())
    console.print(f"{number} paid on {on.date()}")


@orders_app.command("price")
def price(
    service: Annotated[str, typer.Argument(help="Service code, e.g. embryo_transfer or "
                                                "genotyping:BovineSNP50")],
    unit_price: Annotated[str, typer.Option("--price", help="Exact amount, e.g. 95.00")],
    valid_from: Annotated[datetime, DAY],
    description: Annotated[str, typer.Option(help="As printed on invoices")],
    currency: str = "EUR",
) -> None:
    """Add a price to the price list from a day on (orders keep the price they were placed at)."""
    with system_session(f"price of {service}") as session:
        row = finance.set_price(session, service, description, unit_price, valid_from.date(),
                                currency)
    console.print(f"{row.service}: {row.unit_price} {row.currency} from {row.valid_from}")


@orders_app.command("invoices")
def list_invoices(
    customer: Annotated[str | None, typer.Option(help="Only this customer")] = None,
    unpaid: Annotated[bool, typer.Option("--unpaid", help="Only unpaid invoices")] = False,
) -> None:
    """Issued invoices and credit notes, newest first."""
    with system_session() as session:
        cid = customer_by_code(session, customer).id if customer else None
        frame = finance.invoices(session, settings(), customer_id=cid, unpaid_only=unpaid)
    print_table(("number", "kind", "customer", "period", "issued", "due", "total", "paid",
                 "credited by"),
                [(r.number, r.kind, r.customer, r.period, r.issued_on, r.due_on or "",
                  f"{r.total} {r.currency}", r.paid_on or "", r.credited_by or "")
                 for r in frame.itertuples()])


@orders_app.command("list")
def list_orders(customer: Annotated[str, typer.Option(help="Customer code")]) -> None:
    """A customer's service orders, newest first."""
    with system_session() as session:
        rows = [(o.reference, o.service, o.quantity, f"{o.unit_price} {o.currency}",
                 o.ordered_on, o.performed_on, o.status, o.invoice_id)
                for o in customer_orders(session, customer_by_code(session, customer).id)]
    print_table(("reference", "service", "qty", "unit price", "ordered", "done", "status",
                 "invoice"), rows)
