"""``reprotech herd``: bring a customer's herd register in from a herd-book export (thin
commands over :mod:`reprotech_core.herd`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from reprotech_core.accounts import customer_by_code
from reprotech_core.cli.context import open_database, print_table
from reprotech_core.errors import ReprotechError
from reprotech_core.herd.register import COLUMNS
from reprotech_core.herd.register_import import import_register, write_template
from reprotech_core.herd.report import RegisterReport

app = typer.Typer(help="A customer's herd: import the herd register (animals and pedigree).",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)
SHOWN = 200

class ImportRefused(ReprotechError):
    """The register had problems and nothing was imported."""


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(
        help="CSV (UTF-8 or UTF-16, comma-separated) or Excel (.xlsx, one sheet) herd register",
        exists=True, dir_okay=False)],
    customer: Annotated[str, typer.Option(help="Customer code the herd belongs to")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Judge the file and print the report; write nothing")] = False,
    create_parents: Annotated[bool, typer.Option(
        "--create-parents", help="Create unknown sires and dams as placeholder animals of "
        "this customer")] = False,
    create_herds: Annotated[bool, typer.Option(
        "--create-herds", help="Create herds the file names that the customer lacks")] = False,
    as_user: Annotated[str | None, typer.Option(
        "--as", help="Import as this user (row security applies to them)")] = None,
    report_csv: Annotated[Path | None, typer.Option(
        "--report", help="Also write the report as CSV to this file")] = None,
) -> None:
    """Import a herd register: all or nothing, every problem named with line and column.

    Re-importing the same file changes nothing; a corrected file updates the changed fields
    (audited) and lists them. The file passes the upload checks first (size limit
    upload_max_mb, a regular file of its type). Rules: docs/onboarding.md."""
    total = _line_estimate(file)
    db, system = open_database()
    try:
        who = db.identity(as_user) if as_user else system
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"reading {escape(file.name)}", total=total)
            with db.session(who, reason=f"herd register imported from {file.name}") as session:
                cust = customer_by_code(session, customer)
                report = import_register(
                    session, cust, file, dry_run=dry_run, create_parents=create_parents,
                    create_herds=create_herds,
                    progress=lambda n: progress.update(task, completed=n))
                progress.update(task, description="writing" if report.ok and not dry_run
                                else "judged")
    finally:
        db.dispose()
    show(report)
    if report_csv:
        report.to_frame().to_csv(report_csv, index=False)
    if not report.ok:
        raise ImportRefused(f"{file.name}: nothing imported; fix the rows above")


@app.command("template")
def template(out: Annotated[Path, typer.Option(help="Where to write the template CSV")]) -> None:
    """Write a template register CSV: the columns the import reads, with three example rows."""
    write_template(out)
    console.print(f"template written to {escape(str(out))} (columns: {', '.join(COLUMNS)})")


def show(report: RegisterReport) -> None:
    """Print a report: problems, or changes and notes, then the summary line."""
    if report.problems:
        print_table(("line", "column", "rule", "problem"),
                    [(p.line, p.column, p.rule, p.message) for p in report.problems[:SHOWN]],
                    title=f"{len(report.problems)} problem(s) in {report.file}"
                          + (f" (first {SHOWN})" if len(report.problems) > SHOWN else ""))
    elif report.judgement.changes:
        changes = report.judgement.changes
        print_table(("line", "animal", "field", "old", "new"),
                    [(c.line, c.official_id, c.field, c.old, c.new) for c in changes[:SHOWN]],
                    title=f"{len(changes)} changed field(s)")
    for note in report.notes():
        console.print(f"note: {escape(note)}")
    console.print(escape(report.summary()))


def _line_estimate(path: Path) -> int | None:
    """Rows of a CSV for the progress bar (its line count); unknown for a workbook."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return None
    with open(path, "rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) or None
