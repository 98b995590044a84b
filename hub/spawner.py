"""Per-role spawning: what a signed-in user gets, decided by their platform role.

``RoleSpawnerMixin`` goes in front of any JupyterHub spawner. ``IsolatedSpawner`` mixes it over
``LocalProcessSpawner`` and runs every user's server as their own unprivileged system account
(``hub/system_accounts.py``, created on first spawn as The Littlest JupyterHub does) with a
0700 home: the default, and what the hub runs as root for. ``RoleSpawner`` mixes it over
``SimpleLocalProcessSpawner``, which runs servers as the hub's own account and isolates nobody:
a single-user development machine only (``hub_notebook_isolation = false``). Production on
Kubernetes mixes it over KubeSpawner, which enforces the per-role ``mem_limit``/``cpu_limit``
set here (the local spawners only advertise them in ``MEM_LIMIT``/``CPU_LIMIT``).

- researcher, lab_ops, admin, super_admin: JupyterLab with the ``reprotech`` kernel as the
  default and the user's own database login (``reprotech_core.db.logins``: a login limited by
  the role's grants and row security, never the application's), handed over the standard libpq
  way — ``PGHOST``/``PGPORT``/``PGDATABASE``/``PGUSER`` and a 0600 ``PGPASSFILE`` in the user's
  home — so ``psycopg.connect("")`` in a notebook is that user. The password is rotated at
  every start. It is the only database credential the server holds: the platform's secrets
  under ``<data_dir>/secrets`` are the hub account's (0700), not the user's.
- veterinarian, technician, customer_admin, customer_user: no personal server; their work is
  in the shared dashboard service (``hub/services.py`` sends them there after sign-in; a spawn
  is refused with a message pointing there).

Per role: memory/CPU limits (enforced by the production spawner) and idle culling inside the
server (kernels and the server itself stop when idle; the hub's idle culler is the backstop).
The server's environment carries no ``REPROTECH_*`` variable of the hub's own (no database
URLs or secret files), user site-packages are ignored, and user Jupyter config is disabled.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, SpawnException
from traitlets import Dict, HasTraits, List, Unicode

from hub.groups import role_of
from hub.kernel import KERNEL_NAME
from hub.system_accounts import (
    RESEARCH_GROUP,
    Account,
    AccountError,
    account_name,
    ensure_account,
    hand_over,
    private_folder_on_the_way,
)
from reprotech_core.hub_services import dashboards_prefix
from reprotech_core.roles import Role

CUSTOMER_MESSAGE = (
    "Customer accounts have no personal notebook server. "
    "Your herd's dashboards are served by the Reprotech dashboard service"
)
DASHBOARD_MESSAGE = "The {role} role works in the Reprotech dashboards, without a notebook server"


class RoleSpawnerMixin(HasTraits):
    """Decide by role whether and what to spawn; set the role's resource limits."""

    server_roles = List(
        Unicode(),
        default_value=[Role.RESEARCHER, Role.LAB_OPS, Role.ADMIN, Role.SUPER_ADMIN],
        help="Roles that get a personal single-user server.",
    ).tag(config=True)

    role_mem_limits = Dict(
        default_value={Role.RESEARCHER: "8G", Role.LAB_OPS: "4G", Role.VETERINARIAN: "2G",
                       Role.TECHNICIAN: "2G", Role.ADMIN: "2G", Role.SUPER_ADMIN: "2G"},
        help="Memory limit per role (enforced by the production spawner).",
    ).tag(config=True)

    role_cpu_limits = Dict(
        default_value={Role.RESEARCHER: 2.0, Role.LAB_OPS: 1.0, Role.VETERINARIAN: 0.5,
                       Role.TECHNICIAN: 0.5, Role.ADMIN: 0.5, Role.SUPER_ADMIN: 0.5},
        help="CPU limit per role, in cores (enforced by the production spawner).",
    ).tag(config=True)

    role_idle_seconds = Dict(
        default_value={Role.RESEARCHER: 4 * 3600, Role.LAB_OPS: 2 * 3600, Role.ADMIN: 3600,
                       Role.SUPER_ADMIN: 3600},
        help="Idle kernels and an idle server stop after this many seconds, per role.",
    ).tag(config=True)

    platform_env = Dict(
        help="REPROTECH_* variables naming the platform (no secrets), set by the hub config.",
    ).tag(config=True)

    role_notebooks = Dict(
        default_value={Role.RESEARCHER: ["research"], Role.LAB_OPS: ["jobs"],
                       Role.ADMIN: ["research", "jobs"], Role.SUPER_ADMIN: ["research", "jobs"]},
        help="Folders of the platform's notebooks/ copied into a new user's home, per role "
             "(never over the user's own copy).",
    ).tag(config=True)

    _database_login: tuple[str, Path | None] | None = None  # (login, pgpass) of the running server

    db_host = Unicode("127.0.0.1", help="PostgreSQL host the users' logins connect to.").tag(
        config=True)
    db_port = Unicode("5432", help="PostgreSQL port.").tag(config=True)
    db_name = Unicode("reprotech", help="PostgreSQL database.").tag(config=True)

    @property
    def platform_role(self) -> str | None:
        return role_of(group.name for group in self.user.groups)

    def check_role(self) -> str:
        """The role of the user, or a readable refusal (403) when they get no server."""
        role = self.platform_role
        if role is None:
            raise SpawnException(
                "Your account has no platform role the hub knows; ask your administrator.",
                reason="role", status_code=403,
            )
        if role not in self.server_roles:
            message = (CUSTOMER_MESSAGE if role in (Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER)
                       else DASHBOARD_MESSAGE.format(role=role))
            raise SpawnException(f"{message}: {dashboards_prefix()}", reason="role",
                                 status_code=403)
        return role

    async def start(self):  # noqa: ANN201 (JupyterHub API)
        role = self.check_role()
        if role in self.role_mem_limits:
            self.mem_limit = self.role_mem_limits[role]
        if role in self.role_cpu_limits:
            self.cpu_limit = float(self.role_cpu_limits[role])
        try:
            self._database_login = await asyncio.to_thread(self._provision_database_login)
        except Exception as exc:  # the user must see why, not a hanging spawn page
            self.log.error("database login for %s failed: %s", self.user.name, exc)
            raise SpawnException(
                "Your database login could not be prepared; ask your administrator.",
                reason="database-login", status_code=500,
            ) from None
        await asyncio.to_thread(self._seed_notebooks, role)
        return await super().start()

    def _seed_notebooks(self, role: str) -> None:
        """Give a user the curated notebooks of their role, once: later edits are theirs."""
        from reprotech_core.settings import PROJECT_HOME

        home = Path(self.home_dir)
        for folder in self.role_notebooks.get(role, []):
            source, target = PROJECT_HOME / "notebooks" / folder, home / folder
            if source.is_dir() and not target.exists():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
                self._hand_over(target)

    def _hand_over(self, path: Path) -> None:
        """Make a file the hub wrote into the user's home the user's own (isolating spawners)."""

    def _provision_database_login(self) -> tuple[str, Path]:
        """Create or rotate the user's own database login; write it to a 0600 libpq pgpass."""
        from reprotech_core.accounts import provision_db_login
        from reprotech_core.db.migrate import admin_url
        from reprotech_core.db.session import get_database
        from reprotech_core.settings import get_settings

        db = get_database()
        creds = provision_db_login(db, admin_url(get_settings()), db.identity("system"),
                                   self.user.name)
        home = Path(self.home_dir)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = home / ".pgpass"
        path.unlink(missing_ok=True)  # the home is the user's: never write through their link
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{self.db_host}:{self.db_port}:{self.db_name}:{creds.login}:"
                      f"{creds.password}\n")
        self._hand_over(path)
        return creds.login, path

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        for key in [k for k in env if k.startswith("REPROTECH_")]:
            del env[key]  # nothing from the hub's own environment (database URLs, files)
        env.update({k: str(v) for k, v in self.platform_env.items()})
        env["REPROTECH_USER"] = self.user.name
        env["REPROTECH_ROLE"] = self.platform_role or ""
        env["PYTHONNOUSERSITE"] = "1"  # no packages from the user's own site-packages
        if self._database_login:
            login, pgpass = self._database_login
            env.update(PGHOST=self.db_host, PGPORT=self.db_port, PGDATABASE=self.db_name,
                       PGUSER=login)
            if pgpass is not None:  # None: the spawner hands the password over its own way
                env["PGPASSFILE"] = str(pgpass)
        return env

    def get_args(self) -> list[str]:
        args = super().get_args()
        idle = self.role_idle_seconds.get(self.platform_role or "")
        args.append(f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}")
        # Panel's server extension costs JupyterLab seconds at start; dashboards are a service.
        args.append("--ServerApp.jpserver_extensions=panel.io.jupyter_server_extension=False")
        if idle:
            args += [f"--MappingKernelManager.cull_idle_timeout={idle}",
                     "--MappingKernelManager.cull_interval=300",
                     f"--ServerApp.shutdown_no_activity_timeout={idle}"]
        return args


class IsolatedSpawner(RoleSpawnerMixin, LocalProcessSpawner):
    """Each user's server as their own system account, created on first spawn (needs root).

    The account (``hub_account_prefix`` + username) owns a 0700 home under ``homes_root`` and
    nothing else; researchers (``research_roles``) also join the group that reads the
    pseudonymised research store. The server starts with the account's uid, gid and groups,
    umask 077 and its home as working folder, so it can read neither the hub's secrets, nor
    other users' homes, nor the platform's private files under ``<data_dir>``.
    """

    account_prefix = Unicode("rt-", help="Prefix of the users' system accounts.").tag(config=True)
    homes_root = Unicode(help="Folder of the users' homes (one 0700 folder each).").tag(config=True)
    research_roles = List(
        Unicode(), default_value=[Role.RESEARCHER, Role.ADMIN, Role.SUPER_ADMIN],
        help="Roles whose accounts may read the pseudonymised research store.",
    ).tag(config=True)

    _account: Account | None = None

    @property
    def account_name(self) -> str:
        return account_name(self.account_prefix, self.user.name)

    @property
    def home_dir(self) -> str:
        return str(Path(self.homes_root) / self.account_name)

    async def start(self):  # noqa: ANN201 (JupyterHub API)
        role = self.check_role()
        groups = (RESEARCH_GROUP,) if role in self.research_roles else ()
        for program in {Path(self.cmd[0]), Path(sys.executable)}:
            blocked = await asyncio.to_thread(private_folder_on_the_way, program)
            if blocked is not None:
                self.log.error("notebook accounts cannot reach %s: %s is private", program,
                               blocked)
                raise SpawnException(
                    f"Notebook servers cannot start: {blocked} is private to the hub's account, "
                    "so notebook accounts cannot run the platform's Python. Start the hub as root "
                    "(it lets the accounts pass through, o+x) or install the platform under a "
                    "system-wide Python.",
                    reason="account", status_code=500,
                )
        try:
            self._account = await asyncio.to_thread(
                ensure_account, self.account_name, Path(self.home_dir), groups=groups)
        except AccountError as exc:
            self.log.error("system account for %s: %s", self.user.name, exc)
            raise SpawnException(
                "Your notebook account could not be prepared; ask your administrator.",
                reason="account", status_code=500,
            ) from None
        return await super().start()

    def _hand_over(self, path: Path) -> None:
        if self._account is not None:
            hand_over(path, self._account)

    def make_preexec_fn(self, name: str):  # noqa: ANN201, ARG002 (the account, not the name)
        account = self._account
        if account is None:
            raise SpawnException("no system account prepared", reason="account")

        def preexec() -> None:  # runs in the child between fork and exec
            os.setgid(account.gid)
            os.setgroups(list(account.groups))
            os.setuid(account.uid)
            os.umask(0o077)
            os.chdir(account.home)

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env.update(USER=self.account_name, LOGNAME=self.account_name, HOME=self.home_dir,
                   SHELL="/bin/bash")  # the account's login shell is nologin; terminals need one
        return env


class RoleSpawner(RoleSpawnerMixin, SimpleLocalProcessSpawner):
    """The role spawner as the hub's own account: no isolation, a development machine only."""

    def get_args(self) -> list[str]:
        args = super().get_args()
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")  # jupyter-server refuses root otherwise
        return args
