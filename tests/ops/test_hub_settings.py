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
