"""Fixtures of the operations tests: a platform of their own for backups and restores (they
destroy and rebuild databases, so they never touch the suite's shared cluster)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprotech_core import demo
from reprotech_core.db.cluster import Cluster
from reprotech_core.db.migrate import app_url, migrate
from reprotech_core.db.session import Database
from reprotech_core.settings import Settings
from tests.conftest import make_settings


DB_FIXTURES = {"demo_platform", "db", "pg_settings", "system", "world", "admin_conninfo"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/ops/" in str(item.fspath) and DB_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def demo_platform() -> Iterator[Settings]:
    """A migrated embedded platform with the (small) demo loaded and some store files; shared by
    the operations tests (each leaves it working: a restore puts back what it replaced)."""
    root = Path(tempfile.mkdtemp(prefix="reprotech-ops-"))
    root.chmod(0o755)
    settings = make_settings(root, demo_snps=300)
    cluster = Cluster(settings)
    try:
        cluster.start()
        migrate(settings)
        db = Database(app_url(settings))
        try:
            demo.load(db, db.identity("system"), settings)
        finally:
            db.dispose()
        store = settings.var_dir / "store" / "snapshots"
        store.mkdir(parents=True)
        (store / "genotypes.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 40 + b"PAR1")
        (settings.var_dir / "reports" / "farm01").mkdir(parents=True)
        (settings.var_dir / "reports" / "farm01" / "report.html").write_text("<h1>herd</h1>")
        yield settings
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
