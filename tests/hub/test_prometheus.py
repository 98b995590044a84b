"""Prometheus really scrapes the platform (issue 19, item 4): Debian's ``prometheus`` (the test
set-up installs it when missing) runs ``config/prometheus/prometheus.yml`` — the shipped file,
with only its targets, scheme and token path pointed at this test's hub — against the hub's
``/hub/metrics``, the dashboard service's ``/services/dashboards/metrics`` (both behind the
metrics token) and ``reprotech ops exporter``; the alert rules load and evaluate, and every
target is up."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from reprotech_core.settings import PROJECT_HOME, Settings
from tests.support import free_port

CONFIG = PROJECT_HOME / "config" / "prometheus"
pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="Debian's prometheus is not installed: `./run test` installs it (apt-get install "
    "prometheus); without root and sudo it cannot")


def test_the_alert_rules_pass_promtool():
    out = subprocess.run(["promtool", "check", "rules", str(CONFIG / "alerts.yml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


def scrape_config(hub_url: str, exporter: str, token_file: Path) -> dict:
    """The shipped configuration with this test's addresses: every job and rule kept."""
    shipped = yaml.safe_load((CONFIG / "prometheus.yml").read_text())
    hub = urlsplit(hub_url)
    jobs = {j["job_name"]: j for j in shipped["scrape_configs"]}
    assert set(jobs) == {"reprotech-hub", "reprotech-dashboards", "reprotech-exporter"}
    for name in ("reprotech-hub", "reprotech-dashboards"):
        jobs[name].update(scheme=hub.scheme, static_configs=[{"targets": [hub.netloc]}])
        jobs[name]["authorization"]["credentials_file"] = str(token_file)
    jobs["reprotech-exporter"]["static_configs"] = [{"targets": [exporter]}]
    shipped["global"].update(scrape_interval="1s", evaluation_interval="1s")
    shipped["rule_files"] = [str(CONFIG / f) for f in shipped["rule_files"]]
    return shipped


@pytest.fixture
def exporter(pg_settings: Settings):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(pg_settings.home), REPROTECH_DATA_DIR=str(pg_settings.var_dir),
               REPROTECH_DB_PORT=str(pg_settings.db_port))
    proc = subprocess.Popen([str(Path(sys.executable).with_name("reprotech")), "ops", "exporter",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert "metrics at" in proc.stdout.readline()
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_prometheus_scrapes_hub_dashboards_and_exporter(hub, pg_settings, exporter, tmp_path):
    token = pg_settings.secrets_dir / "metrics_token"
    token_copy = tmp_path / "metrics_token"  # Prometheus reads its own 0600 copy
    token_copy.write_text(token.read_text())
    token_copy.chmod(0o600)
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(hub.url, exporter, token_copy)))
    checked = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}"], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        targets = _wait_for(lambda: _targets_up(api), timeout=90, what="every target up",
                            log=log, api=api)
        assert {t["labels"]["job"] for t in targets} == {
            "reprotech-hub", "reprotech-dashboards", "reprotech-exporter"}
        groups = _wait_for(lambda: _rules_evaluated(api), timeout=60,
                           what="the alert rules evaluated", log=log, api=api)
        shipped = yaml.safe_load((CONFIG / "alerts.yml").read_text())["groups"]
        assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in shipped)
        assert all(r["health"] == "ok" for g in groups for r in g["rules"]), [
            (r["name"], r.get("lastError")) for g in groups for r in g["rules"]
            if r["health"] != "ok"]
        for metric, job in (("jupyterhub_active_users", "reprotech-hub"),
                            ("reprotech_job_queue_oldest_seconds", "reprotech-dashboards"),
                            ("reprotech_db_up", "reprotech-exporter")):
            found = _wait_for(lambda m=metric, j=job: _query(api, f'{m}{{job="{j}"}}'),
                              timeout=30, what=f"{metric} from {job}", log=log, api=api)
            assert found, metric
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _targets_up(api: str) -> list[dict] | None:
    active = requests.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
    return active if active and all(t["health"] == "up" for t in active) else None


def _rules_evaluated(api: str) -> list[dict] | None:
    groups = requests.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
    done = groups and all(r.get("lastEvaluation", "").startswith("20") and
                          r["health"] != "unknown" for g in groups for r in g["rules"])
    return groups if done else None


def _query(api: str, expr: str) -> list | None:
    result = requests.get(f"{api}/query", params={"query": expr}, timeout=5).json()
    return result["data"]["result"] or None


def _wait_for(check, *, timeout: float, what: str, log: Path, api: str):
    """Poll ``check`` until it returns something; fail with the targets' last scrape errors
    and the end of Prometheus's log."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except (requests.ConnectionError, KeyError) as exc:
            last = exc
        time.sleep(0.5)
    try:
        errors = [(t["labels"]["job"], t["health"], t["lastError"]) for t in requests.get(
            f"{api}/targets", timeout=5).json()["data"]["activeTargets"]]
    except (requests.ConnectionError, KeyError, ValueError) as exc:
        errors = [repr(exc)]
    pytest.fail(f"Prometheus did not report {what} in {timeout} s ({last}); targets: {errors}"
                f"\n{log.read_text()[-3000:]}")
