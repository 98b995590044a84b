"""Per-role spawning: what a signed-in user gets, decided by their platform role.

``RoleSpawnerMixin`` goes in front of any JupyterHub spawner. Here it is mixed over
``SimpleLocalProcessSpawner`` (``RoleSpawner``), which isolates nobody and is for tests and the
single-machine demo only; production mixes it over KubeSpawner or SystemdSpawner, which enforce
the per-role ``mem_limit``/``cpu_limit`` set here (the local spawner only advertises them in
``MEM_LIMIT``/``CPU_LIMIT``).

- researcher, lab_ops, admin, super_admin: JupyterLab with the ``reprotech`` kernel as the
  default and the user's own database login (``reprotech_core.db.logins``: a login limited by
  the role's grants and row security, never the application's), handed over the standard libpq
  way — ``PGHOST``/``PGPORT``/``PGDATABASE``/``PGUSER`` and a 0600 ``PGPASSFILE`` in the user's
  home — so ``psycopg.connect("")`` in a notebook is that user. The password is rotated at
  every start.
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
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner, SpawnException
from traitlets import Dict, HasTraits, List, Unicode

from hub.groups import role_of
from hub.kernel import KERNEL_NAME
from hub.services import dashboards_prefix

CUSTOMER_MESSAGE = (
    "Customer accounts have no personal notebook server. "
    "Your herd's dashboards are served by the Reprotech dashboard service"
)
DASHBOARD_MESSAGE = "The {role} role works in the Reprotech dashboards, without a notebook server"


class RoleSpawnerMixin(HasTraits):
    """Decide by role whether and what to spawn; set the role's resource limits."""

    server_roles = List(
        Unicode(),
        default_value=["researcher", "lab_ops", "admin", "super_admin"],
        help="Roles that get a personal single-user server.",
    ).tag(config=True)

    role_mem_limits = Dict(
        default_value={"researcher": "8G", "lab_ops": "4G", "veterinarian": "2G",
                       "technician": "2G", "admin": "2G", "super_admin": "2G"},
        help="Memory limit per role (enforced by the production spawner).",
    ).tag(config=True)

    role_cpu_limits = Dict(
        default_value={"researcher": 2.0, "lab_ops": 1.0, "veterinarian": 0.5,
                       "technician": 0.5, "admin": 0.5, "super_admin": 0.5},
        help="CPU limit per role, in cores (enforced by the production spawner).",
    ).tag(config=True)

    role_idle_seconds = Dict(
        default_value={"researcher": 4 * 3600, "lab_ops": 2 * 3600, "admin": 3600,
                       "super_admin": 3600},
        help="Idle kernels and an idle server stop after this many seconds, per role.",
    ).tag(config=True)

    platform_env = Dict(
        help="REPROTECH_* variables naming the platform (no secrets), set by the hub config.",
    ).tag(config=True)

    role_notebooks = Dict(
        default_value={"researcher": ["research"], "lab_ops": ["jobs"],
                       "admin": ["research", "jobs"], "super_admin": ["research", "jobs"]},
        help="Folders of the platform's notebooks/ copied into a new user's home, per role "
             "(never over the user's own copy).",
    ).tag(config=True)

    _database_login: tuple[str, Path] | None = None  # (login, pgpass file) of the running server

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
            message = (CUSTOMER_MESSAGE if role.startswith("customer_")
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

    def _provision_database_login(self) -> tuple[str, Path]:
        """Create or rotate the user's own database login; write it to a 0600 libpq pgpass."""
        from reprotech_core.db.logins import provision
        from reprotech_core.db.migrate import admin_url
        from reprotech_core.db.session import get_database
        from reprotech_core.settings import get_settings

        db = get_database()
        creds = provision(db, admin_url(get_settings()), db.identity("system"), self.user.name)
        home = Path(self.home_dir)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = home / ".pgpass"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{self.db_host}:{self.db_port}:{self.db_name}:{creds.login}:"
                      f"{creds.password}\n")
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
                       PGUSER=login, PGPASSFILE=str(pgpass))
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
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")  # jupyter-server refuses root otherwise (CI runs as root)
        return args


class RoleSpawner(RoleSpawnerMixin, SimpleLocalProcessSpawner):
    """The role spawner over local processes: tests and the single-machine demo only."""
