"""``reprotech records``: performance records from files (lactations, health events, numeric
traits), their templates, and the phenotypes derived from reproduction records; thin commands
over :mod:`reprotech_core.records` (rules and reports are the import's, as on the web page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from reprotech_core.accounts import customer_by_code
from reprotech_core.cli.context import print_table, system_session
from reprotech_core.errors import ReprotechError
from reprotech_core.records.derived import write_derived
from reprotech_core.records.performance_import import KINDS, import_records, write_template

app = typer.Typer(help="Performance records: import lactations, health events and traits; "
                  "derive fertility and longevity phenotypes.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
SHOWN = 200


class RecordsRefused(ReprotechError):
    """The file had problems and nothing was imported."""


def _kind(value: str | None) -> str | None:
    if value is not None and value not in KINDS:
        raise typer.BadParameter(f"--kind must be one of {', '.join(KINDS)}")
    return value


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(
        help="CSV (UTF-8; UTF-16 is read too) or Excel (.xlsx, one sheet)", exists=True,
        dir_okay=False)],
    customer: Annotated[str, typer.Option(help="Customer code the records belong to")],
    kind: Annotated[str | None, typer.Option(
        help=f"{' | '.join(KINDS)} (default: read from the header)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Judge and report, write nothing")] = False,
    report_csv: Annotated[Path | None, typer.Option(
        "--report", help="Also write the full report (every record and problem) as CSV")] = None,
) -> None:
    """Import performance records, all or nothing: every problem is reported with line, column
    and rule; records already stored unchanged are skipped, corrected values are updated."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,} rows"), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task(f"reading {escape(file.name)}", total=None)
        with system_session(f"performance records imported from {file.name}") as session:
            report = import_records(session, customer_by_code(session, customer), file,
                                    kind=_kind(kind), dry_run=dry_run,
                                    progress=lambda n: progress.update(task, completed=n))
    if report_csv is not None:
        report.to_frame().to_csv(report_csv, index=False)
    if report.errors:
        print_table(("line", "column", "rule", "problem"),
                    [(e.line, escape(e.column), e.rule, escape(e.message))
                     for e in report.errors[:SHOWN]],
                    title=f"{len(report.errors)} problem(s) in {escape(file.name)}"
                          + (f" (first {SHOWN})" if len(report.errors) > SHOWN else ""))
    changed = [j for j in report.judged if j.status == "changed"]
    if changed:
        print_table(("line", "animal", "trait", "date", "was", "now"),
                    [(j.record.line, j.record.animal, j.record.trait, j.record.recorded_on,
                      f"{j.previous:g}", f"{j.record.value:g}") for j in changed[:SHOWN]],
                    title=f"{len(changed)} changed value(s)")
    counts = ", ".join(f"{n:,} {s}" for s, n in report.summary().items())
    console.print(f"{report.kind}: {report.rows:,} rows read; records {counts}; "
                  + ("written" if report.written else "nothing written"
                     + (" (dry run)" if dry_run and report.ok else "")))
    if report.errors:
        raise RecordsRefused(f"{file.name}: nothing imported; fix the rows above")


@app.command("template")
def template(
    kind: Annotated[str, typer.Option(help=" | ".join(KINDS))],
    out: Annotated[Path, typer.Option(help="CSV file to write")],
) -> None:
    """Write an import template: the kind's columns and one example row."""
    write_template(_kind(kind), out)
    required, optional = KINDS[kind]
    console.print(f"written: {out} (required: {', '.join(required)}; optional: "
                  f"{', '.join(optional)})")


@app.command("derive")
def derive(customer: Annotated[str, typer.Option(help="Customer code")]) -> None:
    """Derive days open, conception at first service and productive life from the customer's
    reproduction records and exits into its phenotypes (idempotent; docs/reproduction.md)."""
    with console.status("deriving phenotypes from the reproduction records…"):
        with system_session("phenotypes derived from reproduction records") as session:
            result = write_derived(session, customer_by_code(session, customer).id)
    console.print("derived phenotypes: " + ", ".join(
        f"{n:,} {k}" for k, n in result.as_dict().items()))
