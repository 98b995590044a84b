"""Backups: a consistent PostgreSQL dump (custom format) and the Parquet store, checksummed,
verified and kept for a number of generations.

A backup is written to a temporary folder and renamed only when complete and verified, so a
failure (full disk included) leaves the previous backups intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from reprotech_core.db.cluster import bin_dir
from reprotech_core.db.migrate import admin_url
from reprotech_core.errors import ReprotechError
from reprotech_core.settings import Settings


class BackupError(ReprotechError):
    """A backup could not be made or did not verify; earlier backups are untouched."""


@dataclass(frozen=True)
class Backup:
    folder: Path
    files: dict[str, str]  # name -> sha256
    dump_entries: int
    seconds: float


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_env(settings: Settings) -> tuple[list[str], dict[str, str]]:
    url = make_url(admin_url(settings))
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "",
            "-d", url.database or settings.db_name]
    return args, env


def verify(folder: Path, settings: Settings) -> int:
    """Check every checksum and that the dump's table of contents reads; returns its entries."""
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        raise BackupError(f"{folder}: no SHA256SUMS")
    for line in sums.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if _sha256(folder / name) != digest:
            raise BackupError(f"{folder / name}: checksum does not match")
    listing = subprocess.run([str(bin_dir() / "pg_restore"), "--list", str(folder / "db.dump")],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{folder}: pg_restore cannot read the dump: {listing.stderr.strip()}")
    return sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))


def run_backup(settings: Settings, *, keep: int = 7) -> Backup:
    started = datetime.now(UTC)
    root = settings.var_dir / "backups"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = root / started.strftime("%Y%m%dT%H%M%SZ")
    tmp = root / (final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        args, env = _pg_env(settings)
        dump = subprocess.run([str(bin_dir() / "pg_dump"), "--format=custom", "--no-password",
                               "--file", str(tmp / "db.dump"), *args],
                              capture_output=True, text=True, env=env)
        if dump.returncode != 0:
            raise BackupError(f"pg_dump failed: {dump.stderr.strip()}")
        store = settings.var_dir / "store"
        with tarfile.open(tmp / "store.tar", "w") as tar:
            if store.exists():
                tar.add(store, arcname="store")
        files = {name: _sha256(tmp / name) for name in ("db.dump", "store.tar")}
        (tmp / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in files.items()))
        entries = verify(tmp, settings)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".partial")
                      )[:-keep]:
        shutil.rmtree(old)
    return Backup(final, files, entries, (datetime.now(UTC) - started).total_seconds())
