"""The hub's configuration file applies the operations settings: session lifetime and log
scrubbing (loaded the way JupyterHub loads it, in a separate process with its own settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOAD = """
import json, sys
from traitlets.config.loader import PyFileConfigLoader
cfg = PyFileConfigLoader("jupyterhub_config.py", path=sys.argv[1]).load_config()
hub = cfg.JupyterHub
print(json.dumps({"max_age_days": hub.cookie_max_age_days,
                  "logging": hub.logging_config}))
"""


def test_session_hours_and_log_scrubbing_reach_the_hub_config(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(tmp_path), REPROTECH_HUB_SESSION_HOURS="6",
               REPROTECH_LOG_FORMAT="json", JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", LOAD, str(ROOT / "hub")], env=env,
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["max_age_days"] == 0.25
    console = loaded["logging"]["handlers"]["console"]
    assert console["filters"] == ["scrub_secrets"] and console["formatter"] == "json"
    assert loaded["logging"]["filters"]["scrub_secrets"]["()"].endswith("SecretScrubber")


NETWORK = """
import json, sys
from traitlets.config.loader import PyFileConfigLoader
cfg = PyFileConfigLoader("jupyterhub_config.py", path=sys.argv[1]).load_config()
print(json.dumps({"hub_ip": cfg.JupyterHub.hub_ip, "connect": cfg.JupyterHub.hub_connect_url,
                  "proxy_api": cfg.ConfigurableHTTPProxy.api_url, "spawner_ip": cfg.Spawner.ip,
                  "dashboards": [s["url"] for s in cfg.JupyterHub.services
                                 if s["name"] == "dashboards"]}))
"""


def _network(tmp_path, **settings: str) -> dict:
    tmp_path.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(tmp_path), JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
               PYTHONPATH=str(ROOT), **settings)
    out = subprocess.run([sys.executable, "-c", NETWORK, str(ROOT / "hub")], env=env,
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_hub_listens_and_is_reached_where_the_settings_say(tmp_path):
    """Nothing on the hub's network path is pinned to 127.0.0.1 (issue 19): its API, its
    proxy's API and the notebook servers follow ``hub_api_bind``/``hub_api_url``; the embedded
    default stays on loopback."""
    assert _network(tmp_path / "default") == {
        "hub_ip": "127.0.0.1", "connect": "http://127.0.0.1:8081",
        "proxy_api": "http://127.0.0.1:8001", "spawner_ip": "127.0.0.1",
        "dashboards": ["http://127.0.0.1:8050"]}
    assert _network(tmp_path / "hosts", REPROTECH_HUB_API_BIND="10.1.0.4",
                    REPROTECH_HUB_API_URL="http://hub.internal:8081",
                    REPROTECH_DASHBOARDS_URL="http://dash.internal:8050") == {
        "hub_ip": "10.1.0.4", "connect": "http://hub.internal:8081",
        "proxy_api": "http://10.1.0.4:8001", "spawner_ip": "10.1.0.4",
        "dashboards": ["http://dash.internal:8050"]}
