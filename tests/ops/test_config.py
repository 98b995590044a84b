"""Monitoring and deployment files: they parse, carry what their tools require, and name only
metrics the platform exports. `promtool` and `helm` are not available here; `docker compose
config` runs when the compose plugin is installed, `docker build` when a daemon answers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DURATION = re.compile(r"^\d+[smhd]$")
SERIES = re.compile(r"\b((?:reprotech|jupyterhub)_[a-z0-9_]+)")


def exported_metrics() -> set[str]:
    """Metric names the platform's collectors define, and JupyterHub's own."""
    names = set()
    for path in [*(ROOT / "reprotech_core").rglob("*.py"), *(ROOT / "dashboards").glob("*.py")]:
        names |= set(re.findall(r"[\"'](reprotech_[a-z0-9_]+)[\"']", path.read_text()))
    from jupyterhub import metrics

    for obj in vars(metrics).values():
        name = getattr(obj, "_name", None)
        if isinstance(name, str) and name.startswith("jupyterhub_"):
            names.add(name)
    return names


def series_in(expr: str) -> set[str]:
    base = set()
    for name in SERIES.findall(expr):
        base.add(re.sub(r"_(count|sum|bucket|total)$", "", name))
    return base


def balanced(expr: str) -> bool:
    depth = {"(": 0, "{": 0, "[": 0}
    pairs = {")": "(", "}": "{", "]": "["}
    for ch in expr:
        if ch in depth:
            depth[ch] += 1
        elif ch in pairs:
            depth[pairs[ch]] -= 1
            if depth[pairs[ch]] < 0:
                return False
    return not any(depth.values())


def test_alert_rules_are_complete_and_use_exported_metrics():
    rules = yaml.safe_load((ROOT / "config/prometheus/alerts.yml").read_text())
    known = exported_metrics()
    names = []
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            names.append(rule["alert"])
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert DURATION.match(rule.get("for", "0s")), rule["alert"]
            assert balanced(rule["expr"]), rule["alert"]
            unknown = series_in(rule["expr"]) - known
            assert not unknown, (rule["alert"], unknown)
    assert len(names) == len(set(names))
    covered = " ".join(names)
    for topic in ("JobFailed", "QueueStuck", "ErrorRate", "Disk", "Backup", "Drill"):
        assert topic in covered


def test_prometheus_scrape_config_loads_the_rules():
    config = yaml.safe_load((ROOT / "config/prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["reprotech-hub"]["metrics_path"] == "/hub/metrics"
    assert jobs["reprotech-dashboards"]["metrics_path"] == "/services/dashboards/metrics"
    assert jobs["reprotech-exporter"]["metrics_path"] == "/metrics"
    # the public endpoints need the metrics token
    assert all("authorization" in jobs[j] for j in ("reprotech-hub", "reprotech-dashboards"))


def test_grafana_dashboard_panels_query_exported_metrics():
    dashboard = json.loads((ROOT / "config/grafana/reprotech.json").read_text())
    known = exported_metrics()
    assert dashboard["uid"] and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["targets"] and panel["gridPos"]["w"] > 0
        for target in panel["targets"]:
            assert balanced(target["expr"]) and series_in(target["expr"]) <= known, panel["title"]


def compose_file() -> dict:
    return yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())


def test_compose_file_has_the_platform_services():
    compose = compose_file()
    services = compose["services"]
    assert {"postgres", "pgbouncer", "migrate", "hub", "jobs"} <= set(services)
    assert "archive_mode=on" in services["postgres"]["command"]
    assert services["jobs"]["command"] == ["reprotech", "jobs", "serve"]
    assert services["hub"]["environment"]["REPROTECH_HUB_JOBS_SERVICE"] == "false"
    for name, spec in compose["secrets"].items():
        assert spec["file"].startswith("./secrets/"), name
    ignored = (ROOT / "deploy/secrets/.gitignore").read_text().split()
    assert ignored[-2:] == ["*", "!.gitignore"]


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_plugin(),
                    reason="the docker compose plugin is not installed on this machine "
                           "(docker client without `compose`); the file is still parsed above")
def test_docker_compose_config_accepts_the_file(tmp_path):
    secrets = ROOT / "deploy/secrets"
    made = []
    for name in ("pg_superuser_password", "app_database_url", "admin_database_url",
                 "backup_database_url", "pgbouncer.env", "hub.env", "metrics_token"):
        path = secrets / name
        if not path.exists():
            path.write_text("")
            made.append(path)
    try:
        result = subprocess.run(["docker", "compose", "-f", str(ROOT / "deploy/compose.yaml"),
                                 "config", "--quiet"], capture_output=True, text=True)
    finally:
        for path in made:
            path.unlink()
    assert result.returncode == 0, result.stderr


def test_kubernetes_values_parse_and_keep_secrets_out():
    values = yaml.safe_load((ROOT / "deploy/k8s/values.yaml").read_text())
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == \
        "hub.auth.ReprotechOIDCAuthenticator"
    assert values["ingress"]["tls"]
    env = values["hub"]["extraEnv"]
    for secret in ("REPROTECH_DATABASE_URL", "REPROTECH_HUB_OIDC_CLIENT_SECRET"):
        assert "secretKeyRef" in env[secret]["valueFrom"]
    jobs = yaml.safe_load((ROOT / "deploy/k8s/jobs.yaml").read_text())
    assert jobs["kind"] == "Deployment"
    assert jobs["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "serve"
    files = ("deploy/k8s/values.yaml", "deploy/compose.yaml")
    text = "".join((ROOT / f).read_text() for f in files)
    assert not re.search(r"postgresql://[^:\s]+:[^@\s…]+@", text)  # no password in a URL


def test_grafana_provisioning_files_parse():
    for path in (ROOT / "config/grafana/provisioning").rglob("*.yml"):
        data = yaml.safe_load(path.read_text())
        assert data["apiVersion"] == 1 and (data.get("providers") or data.get("datasources"))


def test_the_dockerfile_installs_only_the_lock_and_debian_packages():
    """What the image holds is what the lock pins: pip installs the lock, then the checkout
    without dependencies; npm installs the proxy at the version `run` installs; the rest
    comes from Debian."""
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    pip_lines = [line.strip() for line in dockerfile.splitlines() if "pip install" in line]
    assert pip_lines == ["RUN pip install --no-cache-dir -r requirements.lock",
                         "RUN pip install --no-cache-dir --no-deps -e ."]
    proxy = re.search(r"CHP_VERSION=\"?([\d.]+)", (ROOT / "run").read_text()).group(1)
    assert re.findall(r"configurable-http-proxy@([\d.]+)", dockerfile) == [proxy]
    assert re.search(r"apt-get install -y --no-install-recommends [a-z0-9. -]+\\", dockerfile)
    assert "USER reprotech" in dockerfile  # never runs as root


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True,
                              timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _docker_daemon(),
                    reason="no Docker daemon reachable on this machine (`docker info` fails), "
                           "so the image cannot be built here; its recipe is checked above")
def test_the_image_builds_and_runs_the_command():
    tag = "reprotech:suite"
    build = subprocess.run(["docker", "build", "-f", str(ROOT / "deploy/Dockerfile"), "-t", tag,
                            str(ROOT)], capture_output=True, text=True, timeout=3600)
    assert build.returncode == 0, build.stderr[-4000:]
    shown = subprocess.run(["docker", "run", "--rm", tag, "reprotech", "--help"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and "reprotech" in shown.stdout, shown.stderr[-2000:]
