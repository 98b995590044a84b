"""``reprotech ops``: backups, restores and drills, audit-log retention, sign-in lock-outs,
customer data export and erasure (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reprotech_core.cli.context import print_table, settings
from reprotech_core.db.cluster import Cluster

app = typer.Typer(help="Operations: backups, restore drills, lock-outs, customer export and "
                  "erasure.", no_args_is_help=True)
console = Console()


def _started():  # noqa: ANN202
    config = settings()
    if config.embedded:
        Cluster(config).start()
    return config


@app.command("backup")
def backup(
    keep: Annotated[int | None, typer.Option(help="Backups kept (default: backup_keep)")] = None,
) -> None:
    """Take a verified backup now (database dump, files, checksums)."""
    from reprotech_core.ops.backup import run_backup

    result = run_backup(_started(), keep=keep)
    console.print(f"backup {result.folder}: {result.tables} tables, {result.rows} rows, "
                  f"{result.bytes / 1e6:.1f} MB, verified, in {result.seconds:.1f} s")


@app.command("backups")
def list_backups() -> None:
    """List the complete backups, newest last."""
    import json

    from reprotech_core.ops.backup import backups

    rows = []
    for folder in backups(settings()):
        manifest = json.loads((folder / "manifest.json").read_text())
        size = sum(p.stat().st_size for p in folder.iterdir())
        rows.append((folder.name, manifest["schema_revision"], len(manifest["tables"]),
                     sum(t["rows"] for t in manifest["tables"].values()), len(manifest["files"]),
                     f"{size / 1e6:.1f} MB"))
    print_table(("backup", "revision", "tables", "rows", "files", "size"), rows,
                title=str(settings().backups_dir))


def _folder(name: str | None) -> Path:
    from reprotech_core.ops.backup import newest

    if name is None:
        return newest(settings())
    path = Path(name)
    return path if path.is_dir() else settings().backups_dir / name


@app.command("verify")
def verify(backup: Annotated[str | None, typer.Argument(help="Folder or name; default newest")]
           = None) -> None:
    """Check a backup's checksums, dump and file archive (exit 1 when damaged)."""
    from reprotech_core.ops.backup import verify as check

    folder = _folder(backup)
    result = check(folder)
    console.print(f"{folder}: verified ({result.dump_entries} dump entries, "
                  f"{len(result.manifest['files'])} files)")


@app.command("restore-drill")
def restore_drill(
    backup: Annotated[str | None, typer.Argument(help="Folder or name; default newest")] = None,
) -> None:
    """Restore a backup into a scratch cluster, compare every table and file, time it."""
    from reprotech_core.ops.restore import restore_drill as drill

    report = drill(settings(), _folder(backup))
    for phase, seconds in report.phases.items():
        console.print(f"  {phase:<22} {seconds:6.2f} s")
    if report.skipped_extensions:
        console.print(f"  (extensions not available here, left out: "
                      f"{', '.join(report.skipped_extensions)})")
    if not report.ok:
        for line in report.mismatches:
            console.print(f"[red]{line}[/]")
        raise typer.Exit(1)
    console.print(f"restore drill of {report.backup.name}: {report.tables} tables, "
                  f"{report.rows} rows and {report.files} files match; recovery time "
                  f"{report.seconds:.1f} s")


@app.command("restore")
def restore(
    backup: Annotated[str, typer.Argument(help="Backup folder or name")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a database that holds tables (and keep data folders aside)")]
    = False,
) -> None:
    """Restore a backup onto this platform's database and data folder.

    Refuses a database that already holds tables unless --force. Stop the hub and job workers
    first. Notebook SQL logins are re-issued afterwards (`reprotech user db-login`).
    """
    from reprotech_core.ops.restore import restore as run

    report = run(settings(), _folder(backup), force=force)
    console.print(f"restored {report.backup.name}: {report.tables} tables, {report.rows} rows, "
                  f"{report.files} files, checked against the backup, in {report.seconds:.1f} s")


# Audit-log retention -------------------------------------------------------------------------
@app.command("audit-retention")
def audit_retention(
    keep_months: Annotated[int | None, typer.Option(
        help="Months of audit log kept before the current one (default: "
        "audit_retention_months; at least 12)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what would be exported and dropped; change nothing")] = False,
) -> None:
    """Export old monthly audit-log partitions to checksummed files and drop them.

    Runs as the administrative login; the current and future months and the default partition
    are never dropped. Files: <backup_dir>/audit-log/<partition>.csv.gz (+ .sha256, .json).
    """
    from reprotech_core.ops.audit_retention import run_audit_retention

    report = run_audit_retention(_started(), keep_months=keep_months, dry_run=dry_run)
    print_table(("partition", "from", "to", "rows", "file", "sha256"),
                [(m.partition, f"{m.start:%Y-%m-%d}", f"{m.end:%Y-%m-%d}", m.rows,
                  str(m.file or ""), (m.sha256 or "")[:16]) for m in report.dropped],
                title="would be dropped (dry run)" if dry_run else "exported and dropped")
    verb = "would drop" if dry_run else "dropped"
    console.print(f"audit retention: keeping {report.keep_months} months (from "
                  f"{report.cutoff:%Y-%m-%d}); {verb} {len(report.dropped)} partition(s), "
                  f"{report.rows} row(s); {len(report.kept)} monthly partition(s) kept")
    if report.default_rows_before_cutoff:
        console.print(f"[yellow]the default partition holds {report.default_rows_before_cutoff} "
                      "row(s) older than the cutoff; they are kept[/]")


# Sign-in lock-outs ---------------------------------------------------------------------------
@app.command("lockouts")
def lockouts() -> None:
    """List active sign-in lock-outs (usernames and addresses)."""
    from reprotech_core.cli.context import system_session
    from reprotech_core.ops.lockout import active_lockouts

    with system_session() as session:
        rows = active_lockouts(session)
    print_table(("username", "address", "failures", "locked at", "until"),
                [(r.username, r.source, r.failures, f"{r.locked_at:%Y-%m-%d %H:%M}",
                  f"{r.locked_until:%H:%M} UTC") for r in rows])


@app.command("unlock")
def unlock(
    who: Annotated[str, typer.Argument(help="Username or address")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log)")],
) -> None:
    """Lift a sign-in lock-out early (audited with the reason)."""
    from reprotech_core.cli.context import system_session
    from reprotech_core.ops.lockout import unlock as lift

    with system_session(reason=reason) as session:
        count = lift(session, who)
    console.print(f"{count} lock-out(s) of {who} lifted" if count else f"{who} is not locked out")


# Customer data: export (portability) and erasure ------------------------------------------
@app.command("export-customer")
def export_customer(
    code: Annotated[str, typer.Argument(help="Customer code")],
    out: Annotated[Path | None, typer.Option(help="Zip file (default <data>/exports/…)")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Export as this user")] = None,
) -> None:
    """Export everything the platform holds about a customer as one zip (data portability)."""
    from datetime import UTC, datetime

    from reprotech_core.cli.context import open_database
    from reprotech_core.ops.portability import export_customer as run

    config = settings()
    target = out or config.var_dir / "exports" / f"{code}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.zip"
    db, system = open_database()
    try:
        result = run(db, db.identity(as_user) if as_user else system, config, code, target)
    finally:
        db.dispose()
    console.print(f"{result.path}: {sum(result.rows.values())} rows in {len(result.rows)} "
                  f"tables, {result.files} files; sha256 {result.sha256}")


@app.command("erase-customer")
def erase_customer(
    code: Annotated[str, typer.Argument(help="Customer code")],
    reason: Annotated[str, typer.Option(help="Why (the request reference; audited)")],
    confirm: Annotated[str, typer.Option(help="Type the customer code again to confirm")],
) -> None:
    """Erase a customer's records and anonymise its users; the audit trail is kept.

    Export first if the customer asked for their data. Cannot be undone except by restoring a
    backup.
    """
    from reprotech_core.cli.context import open_database
    from reprotech_core.ops.portability import erase_customer as run

    if confirm != code:
        console.print(f"--confirm must repeat the customer code {code!r}; nothing erased")
        raise typer.Exit(2)
    db, system = open_database()
    try:
        result = run(db, system, settings(), code, reason=reason)
    finally:
        db.dispose()
    console.print(f"customer {code} erased: {sum(result.deleted.values())} records deleted, "
                  f"{result.users_anonymised} user(s) anonymised; audit trail kept")


# Metrics exporter ----------------------------------------------------------------------------
@app.command("exporter")
def exporter(
    port: Annotated[int, typer.Option(help="Port of /metrics")] = 9108,
    bind: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
) -> None:
    """Serve the database, job-queue, backup and disk metrics on http://BIND:PORT/metrics.

    Run it where the backups and the data folder are (next to the job workers); the dashboard
    service exports the same figures behind the hub's metrics token. Ctrl-C / SIGTERM stops it.
    """
    import signal
    import threading

    from prometheus_client import CollectorRegistry, start_http_server

    from reprotech_core.cli.context import database
    from reprotech_core.metrics import JobQueueCollector
    from reprotech_core.ops.dbmetrics import DatabaseCollector, PlatformFilesCollector

    config = settings()
    db = database(config, start=False)
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db, slow_seconds=config.db_slow_query_seconds))
    registry.register(JobQueueCollector(db))
    registry.register(PlatformFilesCollector(config))
    server, thread = start_http_server(port, addr=bind, registry=registry)
    console.print(f"metrics at http://{bind}:{port}/metrics", soft_wrap=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        thread.join()
        db.dispose()
