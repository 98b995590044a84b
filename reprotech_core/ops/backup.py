"""Backups: a consistent PostgreSQL dump (custom format), the platform's files (Parquet store,
job records, reports, evaluation folders), per-table row counts and content checksums taken in
the dump's own snapshot, all checksummed, verified, and kept for ``backup_keep`` generations.

Why these choices:

- The dump runs as ``reprotech_backup``, not the superuser: a login that can read everything
  (``pg_read_all_data``) and bypass row security (every tenant table has FORCE ROW LEVEL
  SECURITY, and pg_dump refuses to dump a table it would see filtered), but writes nothing,
  owns nothing and cannot create roles. The application refuses to run with such a login.
- The fingerprints (row count and an order-independent MD5 of every row's text per table) are
  read in the same exported snapshot pg_dump uses (``--snapshot``), so a restore can be
  checked row for row against what was dumped, not against a later state.
- A backup is written into a hidden ``.<name>.partial`` folder, fsynced, verified, and only
  then renamed (atomic on one file system). A failure at any point, a full disk included,
  removes the partial folder and leaves every earlier backup as it was; retention only runs
  after the new backup verified.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from reprotech_core.db.cluster import bin_dir
from reprotech_core.db.migrate import backup_url
from reprotech_core.errors import ReprotechError
from reprotech_core.settings import Settings

log = logging.getLogger(__name__)

FILE_FOLDERS = ("store", "jobs", "reports", "evaluations")
"""Folders under the data folder that hold what the database does not: Parquet snapshots and
analytics tables, executed job notebooks, customer reports, evaluation artefacts."""
SCHEMAS = ("core", "audit", "research")
FILES = ("db.dump", "files.tar", "manifest.json")
STALE_PARTIAL_S = 6 * 3600
"""A partial folder untouched this long belongs to a crashed backup and is removed."""


class BackupError(ReprotechError):
    """A backup could not be made or does not verify; earlier backups are untouched."""


@dataclass(frozen=True)
class Backup:
    folder: Path
    files: dict[str, str]  # name -> sha256
    dump_entries: int
    tables: int
    rows: int
    bytes: int
    seconds: float


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def conninfo(sqlalchemy_url: str) -> str:
    """A libpq URL from an SQLAlchemy one (drops ``+psycopg``)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def libpq_args(sqlalchemy_url: str) -> tuple[list[str], dict[str, str]]:
    """Command-line arguments and environment (password) for pg_dump / pg_restore / psql."""
    url = make_url(sqlalchemy_url)
    env = {**os.environ, "PGPASSWORD": url.password or "", "PGCONNECT_TIMEOUT": "10"}
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "",
            "-d", url.database or ""]
    return args, env


def platform_tables(conn: psycopg.Connection) -> list[str]:
    """The platform's tables (partitioned parents, not their partitions), sorted."""
    rows = conn.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY(%s) "
        "ORDER BY 1", (list(SCHEMAS),)).fetchall()
    return [r[0] for r in rows]


def fingerprints(conn: psycopg.Connection) -> dict[str, dict[str, object]]:
    """Row count and content checksum of every platform table, as ``conn`` sees it.

    The checksum is an MD5 over the sorted MD5s of each row's text form (UTC, so timestamps
    print alike everywhere): independent of physical row order, which a restore changes.
    ``conn`` must bypass row security (backup login or superuser); ``row_security = off`` turns
    a login that would see filtered rows into an error instead of a silently short count.
    """
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET row_security = off")
    out: dict[str, dict[str, object]] = {}
    for table in platform_tables(conn):
        rows, checksum = conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') "  # noqa: S608
            f"FROM (SELECT md5(t::text) AS h FROM {table} t) s").fetchone()
        out[table] = {"rows": rows, "checksum": checksum}
    return out


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_files_tar(settings: Settings, target: Path) -> dict[str, str]:
    """Tar the platform's file folders; returns member name -> sha256 of its content."""
    members: dict[str, str] = {}
    with tarfile.open(target, "w") as tar:
        for name in FILE_FOLDERS:
            folder = settings.var_dir / name
            if not folder.is_dir():
                continue
            tar.add(folder, arcname=name, recursive=False)
            for path in sorted(folder.rglob("*")):
                arcname = str(Path(name) / path.relative_to(folder))
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    continue
                tar.add(path, arcname=arcname, recursive=False)
                if path.is_file():
                    members[arcname] = sha256_file(path)
    return members


@dataclass(frozen=True)
class Verified:
    dump_entries: int
    manifest: dict


def verify(folder: Path) -> Verified:
    """Check a backup: every checksum, the dump's table of contents, every file in the tar.

    Raises :class:`BackupError` naming the first problem.
    """
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise BackupError(f"{folder}: no SHA256SUMS (not a complete backup)")
    listed = {}
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BackupError(f"{sums} line {number}: not '<sha256>  <file>'")
        listed[name] = digest
    for name in FILES:
        if name not in listed:
            raise BackupError(f"{folder}: {name} is not in SHA256SUMS")
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{path}: missing")
        if sha256_file(path) != listed[name]:
            raise BackupError(f"{path}: checksum does not match SHA256SUMS (damaged or altered)")
    listing = subprocess.run([str(bin_dir() / "pg_restore"), "--list", str(folder / "db.dump")],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{folder}: pg_restore cannot read the dump: {listing.stderr.strip()}")
    entries = sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = manifest.get("files", {})
    seen = set()
    try:
        with tarfile.open(folder / "files.tar") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                digest = hashlib.sha256()
                for chunk in iter(lambda: handle.read(1 << 20), b""):  # noqa: B023
                    digest.update(chunk)
                if expected.get(member.name) != digest.hexdigest():
                    raise BackupError(f"{folder}/files.tar: {member.name} does not match the "
                                      "manifest")
                seen.add(member.name)
    except tarfile.TarError as exc:
        raise BackupError(f"{folder}/files.tar: unreadable ({exc})") from None
    if missing := sorted(set(expected) - seen):
        raise BackupError(f"{folder}/files.tar: {len(missing)} file(s) missing, e.g. {missing[0]}")
    return Verified(entries, manifest)


def backups(settings: Settings) -> list[Path]:
    """Complete backups, oldest first (partial folders are hidden and never listed)."""
    root = settings.backups_dir
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "SHA256SUMS").exists())


def newest(settings: Settings) -> Path:
    found = backups(settings)
    if not found:
        raise BackupError(f"no backup in {settings.backups_dir} (run `reprotech ops backup`)")
    return found[-1]


def run_backup(settings: Settings, *, keep: int | None = None) -> Backup:
    """Take a backup, verify it, publish it atomically, then apply retention."""
    started = time.perf_counter()
    keep = keep or settings.backup_keep
    root = settings.backups_dir
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    final = root / name
    for stale in root.glob(".*.partial"):  # a crashed run's leftovers, not a running backup's
        if time.time() - stale.stat().st_mtime > STALE_PARTIAL_S:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".{name}.partial"
    tmp.mkdir(mode=0o700)
    try:
        url = backup_url(settings)
        args, env = libpq_args(url)
        with psycopg.connect(conninfo(url), autocommit=False,
                             application_name="reprotech-backup") as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            dump = subprocess.run(
                [str(bin_dir() / "pg_dump"), "--format=custom", "--no-password",
                 f"--snapshot={snapshot}", "--file", str(tmp / "db.dump"), *args],
                capture_output=True, text=True, env=env)
            if dump.returncode != 0:
                raise BackupError(f"pg_dump failed (exit {dump.returncode}): "
                                  f"{dump.stderr.strip()[-800:]}")
            tables = fingerprints(conn)
            revision = conn.execute("SELECT version_num FROM core.alembic_version").fetchone()[0]
            server = conn.execute("SHOW server_version").fetchone()[0]
            conn.rollback()
        files = _write_files_tar(settings, tmp / "files.tar")
        manifest = {"created_at": name, "schema_revision": revision, "server_version": server,
                    "login": make_url(url).username, "tables": tables, "files": files}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        sums = {f: sha256_file(tmp / f) for f in FILES}
        (tmp / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))
        for f in (*FILES, "SHA256SUMS"):
            _fsync(tmp / f)
        verified = verify(tmp)
        os.rename(tmp, final)
        _fsync(root)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise BackupError(f"backup to {root} ran out of space ({exc.strerror}); earlier "
                              "backups are intact") from exc
        if isinstance(exc, psycopg.Error):
            raise BackupError(f"backup login could not read the database: "
                              f"{str(exc).splitlines()[0]}") from exc
        raise
    for old in backups(settings)[:-keep]:
        shutil.rmtree(old)
    size = sum((final / f).stat().st_size for f in FILES)
    result = Backup(final, sums, verified.dump_entries, len(tables),
                    sum(int(t["rows"]) for t in tables.values()), size,
                    time.perf_counter() - started)
    log.info("backup %s: %d tables, %d rows, %d bytes in %.1f s", final, result.tables,
             result.rows, size, result.seconds)
    return result
