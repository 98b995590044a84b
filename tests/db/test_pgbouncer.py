"""Identity and row security through PgBouncer's transaction pooling (issue 19).

In production the application reaches PostgreSQL through PgBouncer (Debian's ``pgbouncer``,
installed by the test set-up when missing) in ``pool_mode = transaction``: consecutive
transactions of different users run on the *same* server connection. The platform states the
acting user with ``set_config(..., true)`` at the start of every transaction
(:mod:`reprotech_core.db.session`), so nothing of one user's identity may survive into the
next transaction on that connection. These tests run the real pooler in front of the suite's
PostgreSQL with one server connection, interleave two customers' transactions on it and check
that neither ever reads the other's animals; that psycopg's automatic server-side prepared
statements (which transaction pooling cannot carry between connections) are off through the
pooler; and that a restarted pooler fails requests cleanly and the next one succeeds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from reprotech_core.db.cluster import cluster_account
from reprotech_core.db.migrate import app_url
from reprotech_core.db.session import Database
from reprotech_core.errors import DatabaseError
from reprotech_core.settings import Settings
from tests.support import free_port

WORLD_COWS = "official_id IN ('WA-COW', 'WA-CALF', 'WB-COW', 'WB-SECRET')"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
pytestmark = [pytest.mark.db, pytest.mark.skipif(
    not os.access(PGBOUNCER, os.X_OK),
    reason="Debian's pgbouncer is not installed: `./run test` installs it (apt-get install "
    "pgbouncer); without root and sudo it cannot")]


@dataclass
class Bouncer:
    port: int
    folder: Path
    ini: Path
    account: object
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"  # its listen_addr (tests/hub/test_multihost.py: a host of its own)

    def start(self) -> None:
        as_other = self.account.uid != os.geteuid()  # PgBouncer refuses to run as root
        self.process = subprocess.Popen(
            [PGBOUNCER, str(self.ini)], user=self.account.uid if as_other else None,
            group=self.account.gid if as_other else None,
            extra_groups=[] if as_other else None, cwd="/", start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"pgbouncer exited: {self.log()}")
            try:
                import socket
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"pgbouncer did not listen in 20 s: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text()[-3000:] if path.exists() else "(no log)"

    def url(self, settings: Settings) -> str:
        return make_url(app_url(settings)).set(host=self.host, port=self.port).render_as_string(
            hide_password=False)


@pytest.fixture(scope="module")
def bouncer(pg_settings: Settings) -> Iterator[Bouncer]:
    """PgBouncer in transaction mode with ONE server connection to the suite's database, so
    every client transaction runs on the same PostgreSQL backend."""
    account = cluster_account(pg_settings)
    folder = Path(tempfile.mkdtemp(prefix="reprotech-pgbouncer-"))
    app = make_url(app_url(pg_settings))
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{app.username}" "{app.password}"\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(f"""[databases]
{app.database} = host={pg_settings.db_host} port={pg_settings.db_port} dbname={app.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder / 'userlist.txt'}
pool_mode = transaction
default_pool_size = 1
max_client_conn = 100
logfile = {folder / 'pgbouncer.log'}
pidfile = {folder / 'pgbouncer.pid'}
""")
    for path in (folder, *folder.iterdir()):
        os.chown(path, account.uid, account.gid)
    (folder / "userlist.txt").chmod(0o600)
    running = Bouncer(port, folder, ini, account)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_two_customers_interleaved_on_one_server_connection_never_cross_read(
        bouncer, pg_settings, world):
    """Customer A's and customer B's users alternate transactions (two threads, one server
    connection): each sees only its own animals every time, and the server backend is the
    same for both — the pooling really shares it."""
    url = bouncer.url(pg_settings)
    own = {"w-a-user": {"WA-COW", "WA-CALF"}, "w-b-user": {"WB-COW", "WB-SECRET"}}
    seen: dict[str, list[set[str]]] = {u: [] for u in own}
    backends: dict[str, set[int]] = {u: set() for u in own}
    errors: list[BaseException] = []
    turn = threading.Condition()
    order = ["w-a-user", "w-b-user"] * 15 + [""]
    position = [0]

    def worker(user: str) -> None:
        db = Database(url, pool_size=1, transaction_pooling=True)
        try:
            identity = db.identity(user)
            for _ in range(15):
                with turn:
                    assert turn.wait_for(lambda: order[position[0]] == user, timeout=30)
                    with db.session(identity) as s:
                        backends[user].add(s.scalar(text("SELECT pg_backend_pid()")))
                        seen[user].append(set(s.scalars(text(
                            f"SELECT official_id FROM core.animals WHERE {WORLD_COWS}"))))
                    position[0] += 1
                    turn.notify_all()
        except BaseException as exc:  # noqa: BLE001 (reported by the test below)
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=worker, args=(u,)) for u in own]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for user, views in seen.items():
        assert len(views) == 15 and all(v == own[user] for v in views), (user, views)
    assert backends["w-a-user"] == backends["w-b-user"] and len(backends["w-a-user"]) == 1


def test_no_identity_survives_its_transaction_on_the_shared_connection(bouncer, pg_settings,
                                                                        world):
    """After a customer's transaction, a transaction that states no identity (as any code
    path that forgot to would) on the same server connection is nobody: no user id, no
    tenant, no rows."""
    db = Database(bouncer.url(pg_settings), pool_size=1, transaction_pooling=True)
    try:
        with db.session(db.identity("w-b-user"), tenant_id=None) as s:
            assert s.scalar(text(f"SELECT count(*) FROM core.animals WHERE {WORLD_COWS}")) == 2
            first = s.scalar(text("SELECT pg_backend_pid()"))
        with db.engine.connect() as raw:  # no identity hook: a bare connection
            assert raw.scalar(text("SELECT pg_backend_pid()")) == first
            assert raw.scalar(text("SELECT current_setting('app.user_id', true)")) in ("", None)
            assert raw.scalar(text("SELECT count(*) FROM core.animals")) == 0  # not even sires
    finally:
        db.dispose()


def test_repeated_statements_work_through_the_pooler(bouncer, pg_settings, world):
    """psycopg prepares a statement on the server after a few executions (``_pg3_0``, ...);
    through transaction pooling two client connections share a server connection, and the
    second one's "prepare _pg3_0" fails ("already exists"; on another server connection it
    would be "does not exist"). With ``db_transaction_pooling`` the platform does not prepare,
    so the same query many times from two clients in turn just works."""
    clients = [Database(bouncer.url(pg_settings), pool_size=1, transaction_pooling=True)
               for _ in range(2)]
    try:
        identity = clients[0].identity("w-a-user")
        for _ in range(10):
            for db in clients:  # in turn: one server connection, never two at once
                with db.session(identity) as s:
                    assert s.scalar(text(
                        f"SELECT count(*) FROM core.animals WHERE sex = :x AND {WORLD_COWS}"),
                        {"x": "F"}) == 2
    finally:
        for db in clients:
            db.dispose()


def test_a_restarted_pooler_fails_requests_cleanly_and_recovers(bouncer, pg_settings, world):
    db = Database(bouncer.url(pg_settings), pool_size=1, transaction_pooling=True)
    try:
        identity = db.identity("w-a-user")
        with db.session(identity) as s:
            assert s.scalar(text(f"SELECT count(*) FROM core.animals WHERE {WORLD_COWS}")) == 2
        bouncer.stop()
        with pytest.raises(DatabaseError, match="database unavailable: connection failed"):
            with db.session(identity) as s:
                s.scalar(text(f"SELECT count(*) FROM core.animals WHERE {WORLD_COWS}"))
        bouncer.start()
        with db.session(identity) as s:  # the pool's pre-ping replaces the dead connection
            assert s.scalar(text(f"SELECT count(*) FROM core.animals WHERE {WORLD_COWS}")) == 2
    finally:
        db.dispose()
