"""Restores and restore drills.

A backup nobody has restored is a hope, not a backup. ``restore_drill`` restores the newest
(or a given) backup into a throwaway embedded cluster, compares every table's row count and
content checksum with the ones taken in the dump's snapshot, checks every file of the file
archive, and reports the recovery time. ``restore`` does the same onto the platform's own
database and data folder, and refuses a database that already holds tables unless forced.

Restoring needs the platform's cluster roles first (``data_models/sql/roles.sql``: roles are
cluster objects a database dump does not carry); notebook SQL logins are not restored and are
re-issued with ``reprotech user db-login``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from reprotech_core.db.cluster import Cluster, bin_dir
from reprotech_core.db.migrate import (
    SQL,
    admin_url,
    backup_url,
    ensure_database,
    migrate,
    set_login_passwords,
)
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.errors import ReprotechError
from reprotech_core.ops.backup import (
    SCHEMAS,
    BackupError,
    conninfo,
    fingerprints,
    libpq_args,
    newest,
    verify,
)
from reprotech_core.settings import Settings


class RestoreRefused(ReprotechError):
    """The target is not empty and the restore was not forced."""


@dataclass
class RestoreReport:
    backup: Path
    schema_revision: str
    tables: int
    rows: int
    files: int
    mismatches: list[str] = field(default_factory=list)
    skipped_extensions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches


EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(\S+)")


def restorable_toc(toc: str, available: set[str]) -> tuple[str, list[str]]:
    """The dump's table of contents without extensions the target server lacks.

    Production servers preload ``pg_stat_statements``; the embedded PostgreSQL of a drill
    has no such extension. The platform's schema uses no extension objects, so leaving the
    extension out loses nothing; which ones were left out is reported.
    """
    kept, skipped = [], []
    for line in toc.splitlines():
        match = EXTENSION_ENTRY.match(line)
        if match and match.group(1) not in available:
            if match.group(1) not in skipped:
                skipped.append(match.group(1))
            continue
        kept.append(line)
    return "\n".join(kept) + "\n", skipped


def user_tables(admin: str) -> int:
    """Tables outside the system schemas in the database at ``admin`` (an SQLAlchemy URL)."""
    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', "
            "'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'").fetchone()[0]


def restore_database(admin: str, folder: Path, *, force: bool = False,
                     report: RestoreReport | None = None, check: bool = True) -> RestoreReport:
    """Restore a verified backup's dump into the database at ``admin`` and (``check``)
    compare it with the backup.

    ``admin`` must be a login that may create roles (and, to check, bypass row security: the
    superuser of a drill's cluster). Refuses a database holding tables unless ``force``;
    forced, the platform's schemas are dropped first (other schemas are left alone).
    """
    started = time.perf_counter()
    verified = verify(folder)
    manifest = verified.manifest
    report = report or RestoreReport(folder, "", 0, 0, 0)
    report.schema_revision = manifest["schema_revision"]
    report.phases["verify backup"] = time.perf_counter() - started
    existing = user_tables(admin)
    if existing and not force:
        raise RestoreRefused(
            f"the target database already holds {existing} table(s); restoring would replace "
            "the platform's data. Restore into an empty database, or pass --force to drop the "
            "platform schemas (core, audit, research) and restore over them")
    t0 = time.perf_counter()
    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        if existing:
            conn.execute(f"DROP SCHEMA IF EXISTS {', '.join(SCHEMAS)} CASCADE")
        conn.execute((SQL / "roles.sql").read_text())
        # roles.sql also creates the (empty) schemas; the dump creates them itself.
        conn.execute(f"DROP SCHEMA {', '.join(SCHEMAS)}")
        available = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
    listing = subprocess.run([str(bin_dir() / "pg_restore"), "--list", str(folder / "db.dump")],
                             capture_output=True, text=True, check=True)
    toc, report.skipped_extensions = restorable_toc(listing.stdout, available)
    toc_file = Path(tempfile.mkstemp(prefix="reprotech-toc-", suffix=".list")[1])
    toc_file.write_text(toc)
    args, env = libpq_args(admin)
    try:
        result = subprocess.run(
            [str(bin_dir() / "pg_restore"), "--exit-on-error", "--single-transaction",
             "--no-password", f"--use-list={toc_file}", *args, str(folder / "db.dump")],
            capture_output=True, text=True, env=env)
    finally:
        toc_file.unlink(missing_ok=True)
    if result.returncode != 0:
        raise BackupError(f"pg_restore of {folder} failed: {result.stderr.strip()[-800:]}")
    report.phases["restore dump"] = time.perf_counter() - t0
    if check:
        compare_tables(admin, manifest, report)
    return report


def compare_tables(url: str, manifest: dict, report: RestoreReport) -> RestoreReport:
    """Compare every table's row count and checksum at ``url`` (a login that bypasses row
    security: a superuser or ``reprotech_backup``) with the backup's manifest."""
    t0 = time.perf_counter()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        restored = fingerprints(conn)
    expected = manifest["tables"]
    for table in sorted(set(expected) | set(restored)):
        want, got = expected.get(table), restored.get(table)
        if want is None or got is None:
            problem = "not in the backup" if want is None else "missing"
            report.mismatches.append(f"{table}: {problem}")
        elif want["rows"] != got["rows"]:
            report.mismatches.append(f"{table}: {got['rows']} rows restored, {want['rows']} dumped")
        elif want["checksum"] != got["checksum"]:
            report.mismatches.append(f"{table}: content checksum differs")
    report.tables = len(restored)
    report.rows = sum(int(v["rows"]) for v in restored.values())
    report.phases["compare tables"] = time.perf_counter() - t0
    return report


def extract_files(folder: Path, target: Path, *, replace: bool = False) -> int:
    """Unpack a backup's file archive into ``target`` (the data folder); returns files.

    Existing folders are kept aside as ``<name>.before-restore-<time>`` when ``replace``;
    without it an existing folder refuses the restore.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=target))
    try:
        with tarfile.open(folder / "files.tar") as tar:
            tar.extractall(staging, filter="data")
            count = sum(1 for m in tar.getmembers() if m.isfile())
        for item in sorted(staging.iterdir()):
            dest = target / item.name
            if dest.exists():
                if not replace:
                    raise RestoreRefused(f"{dest} exists; pass --force to keep it aside and "
                                         "restore the backup's copy")
                dest.rename(target / f"{item.name}.before-restore-{stamp}")
            item.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


def scratch_cluster() -> AbstractContextManager[Settings]:
    """An empty embedded cluster with an empty platform database; deleted on exit."""
    return scratch_platform(prepare=ensure_database, prefix="drill")


def restore_drill(settings: Settings, folder: Path | None = None) -> RestoreReport:
    """Restore a backup (default: the newest) into a scratch cluster and check everything.

    The recovery time counts what a real recovery needs: starting an empty server, restoring,
    checking every table and file. Each drill is appended to ``<backups>/drills.jsonl``.
    """
    folder = folder or newest(settings)
    started = time.perf_counter()
    with scratch_cluster() as scratch:
        report = RestoreReport(folder, "", 0, 0, 0)
        report.phases["start empty cluster"] = time.perf_counter() - started
        restore_database(admin_url(scratch), folder, report=report)
        t0 = time.perf_counter()
        report.files = extract_files(folder, scratch.var_dir)
        report.phases["restore files"] = time.perf_counter() - t0
        report.seconds = time.perf_counter() - started  # not counting the scratch clean-up
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "backup": folder.name,
              "ok": report.ok, "seconds": round(report.seconds, 2), "tables": report.tables,
              "rows": report.rows, "files": report.files, "mismatches": report.mismatches}
    with open(settings.backups_dir / "drills.jsonl", "a") as handle:
        handle.write(json.dumps(record) + "\n")
    return report


def restore(settings: Settings, folder: Path, *, force: bool = False) -> RestoreReport:
    """Restore a backup onto the platform's own database and data folder.

    Every table is compared with the backup through the backup login (it bypasses row
    security; a managed service's admin login may not), before ``migrate`` re-applies roles,
    passwords and privileges and a newer release's migrations. Raises
    :class:`RestoreRefused` when the database holds tables (or a data folder exists) and
    ``force`` is not given, :class:`BackupError` when the restored data do not match.
    """
    started = time.perf_counter()
    if settings.embedded:
        Cluster(settings).start()
    ensure_database(settings)
    admin = admin_url(settings)
    report = restore_database(admin, folder, force=force, check=False)
    engine = create_engine(admin)
    try:
        with engine.begin() as conn:
            set_login_passwords(conn, settings)
    finally:
        engine.dispose()
    # Compared before migrate: a newer release's migrations may rightly change the data.
    compare_tables(backup_url(settings), verify(folder).manifest, report)
    if report.mismatches:
        raise BackupError(f"restore of {folder.name} does not match the backup: "
                          + "; ".join(report.mismatches[:5]))
    migrate(settings)
    report.files = extract_files(folder, settings.var_dir, replace=force)
    report.seconds = time.perf_counter() - started
    return report
