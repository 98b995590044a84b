"""The embedded PostgreSQL cluster: created, started and stopped by the platform itself.

The server binaries come from the ``pgserver`` wheel (PostgreSQL 16), so a machine needs no
separately installed database. We drive ``initdb``/``pg_ctl`` ourselves rather than through
pgserver's Python API to control three things it decides for you: the OS account (PostgreSQL
refuses to run as root, so as root the cluster runs as the unprivileged ``db_os_user``), the
network (TCP on ``db_host`` only, no Unix socket in a shared folder) and authentication
(SCRAM passwords for every login, generated into 0600 files under ``var/secrets``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reprotech_core.errors import DatabaseError
from reprotech_core.settings import Settings, read_secret_file

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
"""Bootstrap superuser of the embedded cluster: used by migrations only, never by the app."""

HBA_NOTEBOOK_COMMENT = "# reprotech: notebook logins reach the platform database only"
HBA_NOTEBOOK_RULE = "host postgres,template1 +reprotech_notebook,+reprotech_research all reject"


def bin_dir() -> Path:
    """Where the bundled PostgreSQL binaries are (inside the pgserver wheel)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError(
            "the embedded PostgreSQL needs the 'pgserver' package; run ./run up to install it"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise DatabaseError(f"pgserver is installed but has no PostgreSQL binaries in {path}")
    return path


@dataclass(frozen=True)
class OsAccount:
    """The OS account the cluster's processes run as."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def current(cls) -> OsAccount:
        entry = pwd.getpwuid(os.geteuid())
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def cluster_account(settings: Settings) -> OsAccount:
    """The current user, or as root the unprivileged ``db_os_user`` (created if missing)."""
    if os.geteuid() != 0:
        return OsAccount.current()
    name = settings.db_os_user
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        log.info("creating system account %r to run the embedded PostgreSQL", name)
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(name)
    return OsAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, "/nonexistent")


class Cluster:
    """One embedded cluster under ``settings.pg_data_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data = settings.pg_data_dir
        self.log_file = settings.var_dir / "log" / "postgresql.log"

    # Secrets -------------------------------------------------------------------------------
    def password(self, login: str) -> str:
        """The password of an embedded login, generated once into a 0600 file."""
        path = self.settings.secrets_dir / f"db-{login}.password"
        if not path.exists():
            self.settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.settings.secrets_dir, 0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        return read_secret_file(path, f"password of {login}")

    def url(self, login: str) -> str:
        s = self.settings
        return (
            f"postgresql+psycopg://{login}:{self.password(login)}@{s.db_host}:{s.db_port}/"
            f"{s.db_name}"
        )

    # Lifecycle -----------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        account = cluster_account(self.settings)
        as_other = account.uid != os.geteuid()
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "HOME": account.home}
        result = subprocess.run(
            [str(bin_dir() / args[0]), *args[1:]],
            user=account.uid if as_other else None,
            group=account.gid if as_other else None,
            extra_groups=[] if as_other else None,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )
        if check and result.returncode != 0:
            raise DatabaseError(
                f"{args[0]} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def _prepare_dirs(self, account: OsAccount) -> None:
        for folder in (self.data, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(folder, account.uid, account.gid)
        os.chmod(self.data, 0o700)
        if os.geteuid() == 0 and account.uid != 0:
            # The unprivileged account must be able to reach its data folder and the binaries:
            # grant traverse (x, not read) on the parents that lack it.
            for target in (self.data, bin_dir()):
                for parent in target.parents:
                    mode = parent.stat().st_mode
                    if not mode & stat.S_IXOTH:
                        log.info("granting traverse permission (o+x) on %s", parent)
                        os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)

    def init(self) -> bool:
        """Create the cluster if it does not exist. Returns True when it was created."""
        if self.initialised:
            return False
        account = cluster_account(self.settings)
        self._prepare_dirs(account)
        if any(self.data.iterdir()):
            raise DatabaseError(
                f"{self.data} is not empty but holds no PostgreSQL cluster; move it away"
            )
        pwfile = self.data.parent / ".initdb-pw"
        pwfile.write_text(self.password(SUPERUSER))
        os.chmod(pwfile, 0o600)
        if os.geteuid() == 0:
            os.chown(pwfile, account.uid, account.gid)
        try:
            self._run(
                "initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# Reprotech embedded cluster\n"
                f"listen_addresses = '{self.settings.db_host}'\n"
                f"port = {self.settings.db_port}\n"
                "unix_socket_directories = ''\n"
                "timezone = 'UTC'\n"
                "log_timezone = 'UTC'\n"
                "password_encryption = 'scram-sha-256'\n"
                "shared_buffers = '256MB'\n"
                "max_connections = 200\n"
            )
        log.info("created embedded PostgreSQL cluster in %s", self.data)
        return True

    def running(self) -> bool:
        if not self.initialised:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def start(self) -> bool:
        """Start the cluster (creating it first if needed). Returns True if it was started."""
        self.init()
        if self.running():
            return False
        if _port_taken(self.settings.db_host, self.settings.db_port):
            raise DatabaseError(
                f"port {self.settings.db_port} on {self.settings.db_host} is used by another "
                "program; set REPROTECH_DB_PORT to a free port"
            )
        self._prepare_dirs(cluster_account(self.settings))
        self._keep_notebooks_in_their_database()
        result = self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60",
            check=False,
        )
        if result.returncode != 0:
            tail = _tail(self.log_file)
            raise DatabaseError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        return True

    def _keep_notebooks_in_their_database(self) -> None:
        """Refuse notebook logins the cluster's other databases (``pg_hba.conf``).

        ``pg_stat_activity`` is cluster-wide; the platform database revokes it from notebook
        logins, but connected to ``postgres`` they would read it there. Production adds the
        same line to its own ``pg_hba.conf`` (docs/operations.md). Written before every start,
        so a cluster made before the rule existed gets it too.
        """
        hba = self.data / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        if HBA_NOTEBOOK_RULE in lines:
            return
        first_rule = next((i for i, line in enumerate(lines)
                           if line.strip() and not line.lstrip().startswith("#")), len(lines))
        lines[first_rule:first_rule] = [HBA_NOTEBOOK_COMMENT, HBA_NOTEBOOK_RULE]
        hba.write_text("\n".join(lines) + "\n")

    def stop(self) -> bool:
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")
        return True

    def destroy(self) -> None:
        """Stop and delete the cluster and its secrets (tests and `db reset` only)."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.settings.secrets_dir, ignore_errors=True)


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
