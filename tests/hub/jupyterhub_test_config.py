"""The platform's hub configuration plus a test-only admin service token (tests/hub)."""

# ruff: noqa: F821 (``c``, ``get_config`` and ``load_subconfig`` are provided by JupyterHub)
import os
from pathlib import Path

c = get_config()
load_subconfig(str(Path(__file__).resolve().parents[2] / "hub" / "jupyterhub_config.py"))
c.JupyterHub.services.append({"name": "hub-tests", "api_token": os.environ["HUB_TEST_API_TOKEN"]})
c.JupyterHub.load_roles.append(
    {"name": "hub-tests", "scopes": ["admin:users", "admin:servers", "list:users", "list:services",
                "read:services", "tokens"],
     "services": ["hub-tests"]},
)
