"""Per-role spawning: what a signed-in user gets, decided by their platform role.

``RoleSpawnerMixin`` goes in front of any JupyterHub spawner. Here it is mixed over
``SimpleLocalProcessSpawner`` (``RoleSpawner``), which isolates nobody and is for tests and the
single-machine demo only; production mixes it over KubeSpawner or SystemdSpawner, which enforce
the per-role ``mem_limit``/``cpu_limit`` set here (the local spawner only advertises them in
``MEM_LIMIT``/``CPU_LIMIT``).

- researcher, lab_ops: a single-user Jupyter server (JupyterLab);
- veterinarian, technician, admin, super_admin: allowed too for now (their staff dashboards
  arrive with the dashboards issue);
- customer_admin, customer_user: no personal server; the spawn is refused with a readable
  message (the shared dashboard service is where customers go).

The server's environment names the platform (database host, port, name, the user and role)
and never carries the application's database password.
"""

from __future__ import annotations

import os

from jupyterhub.spawner import SimpleLocalProcessSpawner, SpawnException
from traitlets import Dict, HasTraits, List, Unicode

from hub.groups import role_of

CUSTOMER_MESSAGE = (
    "Customer accounts have no personal notebook server. "
    "Your herd's dashboards are served by the Reprotech dashboard service."
)


class RoleSpawnerMixin(HasTraits):
    """Decide by role whether and what to spawn; set the role's resource limits."""

    server_roles = List(
        Unicode(),
        default_value=["researcher", "lab_ops", "veterinarian", "technician", "admin",
                       "super_admin"],
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

    platform_env = Dict(
        help="REPROTECH_* variables naming the platform (no secrets), set by the hub config.",
    ).tag(config=True)

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
            raise SpawnException(CUSTOMER_MESSAGE if role.startswith("customer_") else
                                 f"The {role} role has no personal server.",
                                 reason="role", status_code=403)
        return role

    async def start(self):  # noqa: ANN201 (JupyterHub API)
        role = self.check_role()
        if role in self.role_mem_limits:
            self.mem_limit = self.role_mem_limits[role]
        if role in self.role_cpu_limits:
            self.cpu_limit = float(self.role_cpu_limits[role])
        return await super().start()

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        for key in [k for k in env if k.startswith("REPROTECH_")]:
            del env[key]  # nothing from the hub's own environment (database URLs, files)
        env.update({k: str(v) for k, v in self.platform_env.items()})
        env["REPROTECH_USER"] = self.user.name
        env["REPROTECH_ROLE"] = self.platform_role or ""
        return env

    def get_args(self) -> list[str]:
        args = super().get_args()
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")  # jupyter-server refuses root otherwise (CI runs as root)
        return args


class RoleSpawner(RoleSpawnerMixin, SimpleLocalProcessSpawner):
    """The role spawner over local processes: tests and the single-machine demo only."""
