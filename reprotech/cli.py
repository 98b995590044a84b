"""The ``reprotech`` entry point: the core's commands, ``reprotech jobs`` and ``reprotech up``.

(The executable starts in :mod:`reprotech.launch`, which hands everything but ``geno`` here.)

Why a launcher module above both layers, and not command groups discovered as Python entry
points: the platform has exactly two command families above the core — the job queue's
(``jobs/cli.py``) and ``up``, which composes core, jobs and hub (it runs the daily jobs, then
starts the hub) — and no third-party plugins. An explicit import here keeps the direction
visible to a reader and to ``tests/unit/test_layers.py`` (the core never imports ``jobs``), costs
no scan of installed distributions at every start, and cannot lose a command group silently when
an editable install's metadata is stale (entry points are read from it, imports are not).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobs import cli as jobs_cli
from jobs.pipeline import run_daily_once
from reprotech_core import demo
from reprotech_core.cli import context
from reprotech_core.cli import hub as hub_cli
from reprotech_core.cli import main as core_cli
from reprotech_core.db.cluster import Cluster
from reprotech_core.db.migrate import migrate
from reprotech_core.ops.private_files import protect_data_dir

app = typer.Typer(
    help="Reprotech Analytics platform: database, data, users and analyses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

console = Console()


@app.command()
def up(
    hub: Annotated[bool, typer.Option(
        "--hub/--no-hub", help="End with the hub running in the background")] = True,
) -> None:
    """Run the main job on the embedded default (safe to run again).

    Starts the database, migrates, loads and processes the demo data, prints the demo
    accounts, and ends with the hub running in the background at ``hub_bind_url``
    (``reprotech hub stop`` stops it): the command returns, the platform stays up.
    """
    settings = context.settings()
    if settings.embedded:
        started = Cluster(settings).start()
        console.print(
            f"[bold]database[/] embedded PostgreSQL on {settings.db_host}:{settings.db_port} "
            f"({'started' if started else 'already running'}), data in {settings.pg_data_dir}"
        )
    revision = migrate(settings)
    console.print(f"[bold]schema[/] at revision {revision}")
    db = context.database(settings, start=False)
    try:
        system = db.identity("system")
        with console.status("loading the demo farms through the imports…"):
            summary = demo.load(db, system, settings)
        factors = demo.staff_second_factors(db, system, settings)
        console.print(
            f"[bold]demo data[/] {'loaded' if summary.created else 'already present'}: "
            f"{summary.customers} customers, {summary.animals} animals; "
            f"{len(summary.lab_files)} new lab file(s) in {settings.var_dir / 'inbox'}"
        )
        for line in summary.imports:
            console.print(f"  imported {escape(line)}", highlight=False)
        with console.status("running the daily jobs through the queue…"):
            # The demo releases its evaluation at once; in production a person releases it
            # after review (reprotech eval release RUN).
            runs = run_daily_once(db, system, settings, tag=f"up-{datetime.now(UTC):%Y-%m-%d}",
                                  parameters={"evaluation": {"release": True}})
    finally:
        db.dispose()
    protect_data_dir(settings)
    jobs_table = Table(title="Daily jobs (reprotech jobs show ID)")
    for col in ("run", "job", "status", "attempts", "record"):
        jobs_table.add_column(col)
    for r in runs:
        jobs_table.add_row(str(r.id), r.job, r.status, str(r.attempts),
                           r.output_html or (r.error or "")[:80])
    console.print(jobs_table)
    table = Table(title="Demo accounts (password below)")
    for col in ("username", "role", "customer", "second factor"):
        table.add_column(col)
    for account in summary.accounts:
        table.add_row(account.username, account.role.value, account.customer or "—",
                      f"reprotech demo code {account.username}"
                      if account.username in factors else "—")
    console.print(table)
    console.print(f"demo password: [bold]{summary.password}[/] (stored in {settings.secrets_dir})")
    console.print(
        "\nNext:\n"
        "  .venv/bin/reprotech customer list           customers and animal counts\n"
        "  .venv/bin/reprotech user list                users and roles\n"
        "  .venv/bin/reprotech user db-login researcher a notebook SQL login (row security applies)\n"
        "  .venv/bin/reprotech db psql                  SQL as the application login\n"
        "  .venv/bin/reprotech jobs list                the job runs and their records\n"
        "  .venv/bin/reprotech lab batches              genotyping batches and QC\n"
        "  .venv/bin/reprotech db stop                  stop the embedded database\n"
    )
    if not hub:
        return
    with console.status(f"starting the hub at {settings.hub_bind_url}…"):
        pid = hub_cli.start(settings)
    console.print(
        f"[bold]hub[/] running at {settings.hub_bind_url} (pid {pid}; log "
        f"{hub_cli.log_file(settings)}): customers, vets and technicians land on the "
        "dashboards, researchers and lab ops on JupyterLab. Stop: .venv/bin/reprotech hub stop"
    )


app.add_typer(core_cli.app)  # no name: the core's groups (db, lab, eval, …) at the top level
app.add_typer(jobs_cli.app, name="jobs")


def main() -> None:
    core_cli.run(app)


if __name__ == "__main__":
    main()
