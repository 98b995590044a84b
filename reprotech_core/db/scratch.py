"""A throwaway platform: an embedded cluster in a temporary folder on a free loopback port,
migrated, removed afterwards. Used by the tests, the benchmarks and restore drills."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reprotech_core.db.cluster import Cluster
from reprotech_core.db.migrate import migrate
from reprotech_core.settings import Settings


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a platform under ``root`` (no environment, no settings file)."""
    values: dict[str, object] = dict(home=root, data_dir=root / "var", db_port=free_port())
    values.update(overrides)
    return Settings(**values)


@contextmanager
def scratch_platform(*, prepare: Callable[[Settings], object] = migrate, prefix: str = "scratch",
                     **overrides: object) -> Iterator[Settings]:
    """Start a fresh embedded cluster and ``prepare`` it (default: migrate the platform; a
    restore drill only creates the empty database); stop and delete it on exit."""
    root = Path(tempfile.mkdtemp(prefix=f"reprotech-{prefix}-"))
    root.chmod(0o755)  # the cluster's OS account (as root: an unprivileged one) must reach it
    settings = scratch_settings(root, **overrides)
    cluster = Cluster(settings)
    try:
        cluster.start()
        prepare(settings)
        yield settings
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
