"""The Kubernetes files render and start, as far as can be told without a cluster.

- ``deploy/k8s/values.yaml`` validates against the Zero to JupyterHub chart's own
  ``values.schema.yaml`` (the chart source is in ``../shared/z2jh`` beside the checkout; CI has
  it there too), after merging them over the chart's defaults as helm does. ``helm template``
  is not run: Debian's archive has no helm package (``apt-cache policy helm``: none), no PyPI
  package found ships the helm binary, and building helm from its Go module needs a newer Go
  than Debian's 1.19; so the chart's schema is the check of the chart we can apply.
- The hub's ``extraConfig`` runs, in its own process, with exactly the environment the values
  give the hub (Secret references replaced by stand-ins): KubeSpawner imports, the spawner
  class builds, and the settings load (they refuse to load on a missing or malformed one).
- The dashboards Deployment + Service, the jobs Deployment and the values agree on names,
  ports, the public URL and the Secrets they read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from reprotech_core.hub_services import DASHBOARDS, dashboards_prefix
from reprotech_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT.parent / "shared" / "z2jh" / "jupyterhub"
K8S = ROOT / "deploy" / "k8s"
STAND_IN = "ab" * 32  # a valid hex secret standing in for every Secret value


def chart_file(name: str) -> Path:
    path = CHART / name
    if not path.is_file():
        pytest.fail(f"the Zero to JupyterHub chart source is missing at {path}: the tests need "
                    "../shared/z2jh beside the checkout (as CI lays it)")
    return path


def values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


def manifests(name: str) -> dict[tuple[str, str], dict]:
    """The documents of a manifest file by (kind, name)."""
    docs = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container_env(container: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


STAND_IN_URL = "postgresql://reprotech_app:stand-in@postgres.reprotech.svc:5432/reprotech"


def resolved(env: dict[str, object]) -> dict[str, str]:
    """The environment a pod gets, with every Secret reference replaced by a stand-in (a
    database URL for the `*-url` keys, a hex token for the others)."""
    out = {}
    for name, value in env.items():
        if isinstance(value, dict):
            ref = (value.get("valueFrom") or value)["secretKeyRef"]
            out[name] = STAND_IN_URL if ref["key"].endswith("-url") else STAND_IN
        else:
            out[name] = str(value)
    return out


def secret_refs(env: dict[str, object]) -> set[tuple[str, str]]:
    found = set()
    for value in env.values():
        if isinstance(value, dict):
            ref = value["valueFrom"]["secretKeyRef"] if "valueFrom" in value else \
                value["secretKeyRef"]
            found.add((ref["name"], ref["key"]))
    return found


def settings_from(env: dict[str, str], home: Path) -> Settings:
    """The settings a process with exactly ``env`` loads (no file, nothing of this process)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("REPROTECH_")}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if k.startswith("REPROTECH_")})
        os.environ["REPROTECH_HOME"] = str(home)  # no settings file of the checkout's
        return Settings()
    finally:
        for key in [k for k in os.environ if k.startswith("REPROTECH_")]:
            del os.environ[key]
        os.environ.update(saved)


def coalesce(defaults: dict, given: dict) -> dict:
    """Helm's merge of a chart's values.yaml with user values: mappings merge key by key, any
    other given value replaces the default, and a given null deletes the key."""
    merged = dict(defaults)
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def chart_values(given: dict) -> dict:
    """The values helm validates: the chart's defaults with ours over them."""
    return coalesce(yaml.safe_load(chart_file("values.yaml").read_text()), given)


# The chart ----------------------------------------------------------------------------------

def test_values_validate_against_the_charts_schema():
    schema = yaml.safe_load(chart_file("values.schema.yaml").read_text())
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(chart_values(values()))]
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_a_wrong_value():
    """The check is live: a misspelt key and a wrong type are refused by the same schema."""
    schema = yaml.safe_load(chart_file("values.schema.yaml").read_text())
    wrong = values()
    wrong["cull"]["timout"] = 3600
    with pytest.raises(jsonschema.ValidationError, match="timout"):
        jsonschema.validate(chart_values(wrong), schema)
    wrong = values()
    wrong["hub"]["extraConfig"] = ["not a mapping"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(chart_values(wrong), schema)


def test_the_header_names_the_chart_validated_against():
    """The values' header explains the chart choice with the appVersion and commit of the
    chart source the tests validate against, and the JupyterHub the platform locks."""
    header = (K8S / "values.yaml").read_text().split("\n\n", 1)[0]
    app_version = yaml.safe_load(chart_file("Chart.yaml").read_text())["appVersion"]
    commit = chart_file("../UPSTREAM_COMMIT").read_text().split()[0]
    assert f"appVersion\n# {app_version}" in header or f"appVersion {app_version}" in header
    assert commit[:7] in header
    locked = re.search(r"^jupyterhub==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M)
    assert locked and f"JupyterHub {locked.group(1)}" in header


def test_one_idle_culler_and_the_chart_names_the_dashboards_rely_on():
    v = values()
    assert v["cull"]["enabled"] is True
    assert v["hub"]["extraEnv"]["REPROTECH_HUB_IDLE_CULLER"] == "false"
    assert v["fullnameOverride"] == ""  # Service `hub`, as dashboards.yaml's API URL says


# KubeSpawner in the lock and the image --------------------------------------------------------

def test_kubespawner_is_pinned_and_installed_as_locked():
    lock = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().split()
                if "==" in line)
    pinned = lock["jupyterhub-kubespawner"]
    assert metadata.version("jupyterhub-kubespawner") == pinned
    for requirement in metadata.requires("jupyterhub-kubespawner") or []:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[<>=!; \[]", requirement, maxsplit=1)[0]
        key = next((k for k in lock if k.lower().replace("_", "-") ==
                    name.lower().replace("_", "-")), None)
        assert key, f"{name} (needed by jupyterhub-kubespawner) is not in requirements.lock"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile


def test_the_charts_hub_config_finds_what_it_imports_in_the_platform_image():
    """The chart runs its own jupyterhub_config.py in our hub image: its imports and its curl
    HTTP client (pycurl) must be in the lock, or the hub stops before reading our config."""
    source = chart_file("files/hub/jupyterhub_config.py").read_text()
    statements = [line for line in source.splitlines()
                  if re.match(r"^(import |from (?!z2jh)\S+ import [^(]+$)", line)
                  or line.startswith("AsyncHTTPClient.configure(")]
    assert any("curl" in line for line in statements), statements
    out = subprocess.run([sys.executable, "-c", "\n".join(statements)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_embedded_hub_does_not_import_kubespawner():
    code = ("import sys, hub.services, hub.spawner, hub.auth; "
            "print('kubespawner' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


# The hub's extraConfig with the hub's environment ----------------------------------------------

RUN_EXTRA_CONFIG = r"""
import json, sys
from traitlets.config import Config
import yaml

values = yaml.safe_load(open(sys.argv[1]))
c = Config()
c.JupyterHub.services = []          # what the chart's jupyterhub_config.py sets before
c.JupyterHub.load_roles = []        # running hub.extraConfig
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
for name, code in sorted(values["hub"]["extraConfig"].items()):
    exec(compile(code, f"hub.extraConfig.{name}", "exec"), {"c": c})

from jupyterhub.objects import Hub
from jupyterhub.user import User
from hub.kube import ReprotechKubeSpawner

spawner_class = c.JupyterHub.spawner_class
assert spawner_class is ReprotechKubeSpawner, spawner_class

class Group:
    def __init__(self, name): self.name = name

class FakeUser:
    name = "k8s-researcher"
    id = 1
    url = "/user/k8s-researcher/"
    groups = [Group("reprotech-role-researcher")]

async def build():  # as the hub does, inside its event loop
    return ReprotechKubeSpawner(config=c, user=FakeUser(), _mock=True)

import asyncio
spawner = asyncio.run(build())
profiles = spawner.profile_list(spawner) if callable(spawner.profile_list) else spawner.profile_list
print(json.dumps({
    "public_url": c.JupyterHub.public_url,
    "callback": c.GenericOAuthenticator.oauth_callback_url,
    "client_id": c.GenericOAuthenticator.client_id,
    "services": c.JupyterHub.services,
    "roles": [r["name"] for r in c.JupyterHub.load_roles],
    "tornado": c.JupyterHub.tornado_settings,
    "profiles": profiles,
    "db_host": spawner.db_host,
    "platform_env": dict(spawner.platform_env),
    "namespace": spawner.namespace,
}))
"""


@pytest.fixture(scope="module")
def hub_env() -> dict[str, str]:
    env = values()["hub"]["extraEnv"]
    return resolved(env)


@pytest.fixture(scope="module")
def extra_config(hub_env, tmp_path_factory) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REPROTECH_", "JUPYTERHUB_"))}
    env.update(hub_env)
    home = tmp_path_factory.mktemp("k8s-hub")
    # KubeSpawner loads a cluster configuration when built (it connects only on spawn): a
    # kubeconfig naming an unreachable API server stands in for the hub pod's service account.
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "test", "user": {"token": "stand-in"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    }))
    env.update(REPROTECH_HOME=str(home), REPROTECH_DATA_DIR=str(home / "var"),
               PYTHONPATH=str(ROOT), POD_NAMESPACE="reprotech", KUBECONFIG=str(kubeconfig))
    out = subprocess.run([sys.executable, "-c", RUN_EXTRA_CONFIG, str(K8S / "values.yaml")],
                         env=env, capture_output=True, text=True, timeout=180, cwd=home)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_hubs_environment_satisfies_the_settings(hub_env, tmp_path):
    settings = settings_from(hub_env, tmp_path)
    assert settings.hub_authenticator == "oidc" and settings.hub_oidc_client_secret
    assert settings.public_url and settings.public_is_https
    assert not settings.dashboards_managed and not settings.hub_idle_culler
    assert not settings.hub_jobs_service


def test_extra_config_builds_the_hub_from_the_settings(extra_config, hub_env):
    public = hub_env["REPROTECH_PUBLIC_URL"].rstrip("/")
    assert extra_config["public_url"] == public + "/"
    assert extra_config["callback"] == f"{public}/hub/oauth_callback"
    assert extra_config["client_id"] == hub_env["REPROTECH_HUB_OIDC_CLIENT_ID"]
    services = {s["name"]: s for s in extra_config["services"]}
    assert set(services) == {DASHBOARDS, "prometheus"}  # no idle-culler, no jobs: one culler
    dashboards = services[DASHBOARDS]
    assert "command" not in dashboards  # its own Deployment, not a hub subprocess
    assert dashboards["url"] == hub_env["REPROTECH_DASHBOARDS_URL"]
    assert dashboards["oauth_redirect_uri"] == f"{public}{dashboards_prefix()}login"
    assert dashboards["api_token"] == STAND_IN
    assert services["prometheus"]["api_token"] == STAND_IN
    assert "idle-culler" not in extra_config["roles"]
    assert extra_config["tornado"]["slow_spawn_timeout"] == 0  # the chart's, kept
    assert extra_config["tornado"]["cookie_options"]["secure"] is True
    assert extra_config["platform_env"]["REPROTECH_HUB_URL"] == public
    assert extra_config["db_host"] == hub_env["REPROTECH_DB_HOST"]


def test_the_researcher_profile_comes_from_the_role_mixin(extra_config):
    from hub.spawner import RoleSpawnerMixin
    from reprotech_core.roles import Role

    mixin = RoleSpawnerMixin()
    (profile,) = extra_config["profiles"]
    override = profile["kubespawner_override"]
    assert override["mem_limit"] == mixin.role_mem_limits[Role.RESEARCHER]
    assert override["cpu_limit"] == mixin.role_cpu_limits[Role.RESEARCHER]
    assert profile["default"] is True


def test_the_hub_refuses_kubernetes_values_without_a_public_url(hub_env, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update({k: v for k, v in hub_env.items() if k != "REPROTECH_PUBLIC_URL"})
    env.update(REPROTECH_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", RUN_EXTRA_CONFIG, str(K8S / "values.yaml")],
                         env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.returncode != 0 and "public_url" in out.stderr


# The other manifests ---------------------------------------------------------------------------

def test_dashboards_deployment_and_service_match_the_hub(hub_env, tmp_path):
    docs = manifests("dashboards.yaml")
    deployment = docs[("Deployment", "reprotech-dashboards")]
    service = docs[("Service", "reprotech-dashboards")]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    # the chart's hub NetworkPolicy admits pods with this label (the service calls the hub API)
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    (container,) = pod["spec"]["containers"]
    env = container_env(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (port,) = service["spec"]["ports"]
    assert ports[port["targetPort"]] == int(env["REPROTECH_DASHBOARDS_PORT"])
    # the hub reaches the Service at the URL it is given
    url = urlsplit(hub_env["REPROTECH_DASHBOARDS_URL"])
    assert (url.hostname, url.port) == (service["metadata"]["name"], port["port"])
    # Panel binds every interface (the proxy pod must reach it), the rest as the hub says
    settings = settings_from(resolved(env), tmp_path)
    assert settings.dashboards_bind == "0.0.0.0"
    assert settings.public_base == hub_env["REPROTECH_PUBLIC_URL"].rstrip("/")
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == dashboards_prefix()
    assert env["JUPYTERHUB_CLIENT_ID"] == f"service-{DASHBOARDS}"
    api = urlsplit(env["JUPYTERHUB_API_URL"])
    assert (api.hostname, api.port, api.path) == ("hub", 8081, "/hub/api")
    # the token the hub registers is the one the service presents; the cookie secret is shared
    hub_refs = secret_refs(values()["hub"]["extraEnv"])
    assert env["JUPYTERHUB_API_TOKEN"]["secretKeyRef"] in [
        {"name": n, "key": k} for n, k in hub_refs if k == "dashboards-api-token"]
    assert ("reprotech-hub", "metrics-token") in secret_refs(env) & hub_refs


def test_public_url_ingress_host_and_email_links_agree(hub_env):
    v = values()
    jobs = yaml.safe_load((K8S / "jobs.yaml").read_text())
    jobs_env = container_env(jobs["spec"]["template"]["spec"]["containers"][0])
    assert jobs_env["REPROTECH_PUBLIC_URL"] == hub_env["REPROTECH_PUBLIC_URL"]
    host = urlsplit(hub_env["REPROTECH_PUBLIC_URL"]).hostname
    assert v["ingress"]["hosts"] == [host]
    assert host in v["ingress"]["tls"][0]["hosts"]


def test_images_volumes_and_accounts_agree_across_manifests():
    v = values()
    image = f'{v["hub"]["image"]["name"]}:{v["hub"]["image"]["tag"]}'
    dashboards = manifests("dashboards.yaml")[("Deployment", "reprotech-dashboards")]
    jobs = yaml.safe_load((K8S / "jobs.yaml").read_text())
    for deployment in (dashboards, jobs):
        spec = deployment["spec"]["template"]["spec"]
        assert spec["containers"][0]["image"] == image
        assert spec["securityContext"]["runAsUser"] == v["hub"]["containerSecurityContext"][
            "runAsUser"] == v["singleuser"]["uid"]
        claims = {vol["persistentVolumeClaim"]["claimName"] for vol in spec["volumes"]}
        assert "reprotech-data" in claims
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert f'--uid {v["singleuser"]["uid"]}' in dockerfile
