"""The `reprotech` command as a person runs it: a fresh home, the main job twice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reprotech_core.db.migrate import head_revision
from tests.support import free_port

BIN = Path(sys.executable).with_name("reprotech")
ROOT = Path(__file__).resolve().parents[2]


def run(args, env, check=True):
    result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True,
                            timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"reprotech {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def demo_home():
    """One fresh platform home for this module; ``up`` runs once here and once in a test."""
    root = Path(tempfile.mkdtemp(prefix="reprotech-cli-"))
    root.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(root), REPROTECH_DB_PORT=str(free_port()),
               REPROTECH_DEMO_CUSTOMERS="2", REPROTECH_DEMO_ANIMALS_PER_CUSTOMER="30",
               REPROTECH_DEMO_SNPS="300", COLUMNS="250")
    # The checkout's config/ and notebooks/ serve the fresh home.
    for folder in ("config", "notebooks"):
        (root / folder).symlink_to(ROOT / folder)
    first = run(["up", "--no-hub"], env).stdout
    yield root, env, first
    run(["db", "stop"], env, check=False)
    shutil.rmtree(root, ignore_errors=True)


def test_help_lists_the_commands():
    out = run(["--help"], dict(os.environ)).stdout
    for command in ("up", "db", "demo", "customer", "user", "settings", "lab", "geno", "jobs"):
        assert command in out


@pytest.mark.slow
def test_up_from_scratch_then_again_reuses_everything(demo_home):
    root, env, first = demo_home
    loaded = re.search(r"demo data loaded: 3 customers, (\d+) animals; 3 new lab", first)
    assert "started" in first and loaded, first
    animals = int(loaded.group(1))  # 60 genotyped, and the calves of the simulated calvings
    assert animals > 60
    for name in ("lab-ingest", "lab-qc", "evaluation", "population-report", "customer-reports",
                 "invoices", "backup"):
        assert re.search(rf"{name}\s+│ succeeded", first), first
    second = run(["up", "--no-hub"], env).stdout
    assert "already running" in second
    assert f"already present: 3 customers, {animals} animals; 0 new" in second
    assert second.count("succeeded") == 7  # the same runs: nothing ran twice
    secrets = root / "var" / "secrets"
    assert all((p.stat().st_mode & 0o077) == 0 for p in secrets.iterdir())
    snapshots = list((root / "var" / "store").rglob("*.parquet"))
    assert snapshots and all((p.stat().st_mode & 0o007) == 0 for p in snapshots)
    assert list((root / "var" / "reports").glob("farm01/*/report.html"))
    assert list((root / "var" / "backups").glob("*/SHA256SUMS"))
    listing = run(["customer", "list"], env).stdout
    assert "farm01" in listing and "ai-sires" in listing
    status = run(["db", "status"], env).stdout
    assert "running" in status and f"schema revision {head_revision()}" in status


@pytest.mark.slow
def test_up_ends_with_the_hub_running_for_the_demo_accounts(demo_home):
    """The README's main command returns and leaves the platform running at the hub's URL."""
    import requests

    root, env, _ = demo_home
    port = free_port()
    env = {**env, "REPROTECH_HUB_BIND_URL": f"http://127.0.0.1:{port}",
           "REPROTECH_HUB_API_PORT": str(free_port()),
           "REPROTECH_HUB_PROXY_API_PORT": str(free_port()),
           "REPROTECH_DASHBOARDS_PORT": str(free_port()),
           "REPROTECH_SCHEDULER_CATCHUP_HOURS": "0"}
    hub = f"http://127.0.0.1:{port}"
    try:
        printed = run(["up"], env).stdout
        assert f"hub running at {hub}" in printed
        assert "farm01-user" in printed and "reprotech demo code vet" in printed
        assert requests.get(f"{hub}/hub/api", timeout=10).status_code == 200
        assert "answering" in run(["hub", "status"], env).stdout
        password = (root / "var" / "secrets" / "demo-password").read_text().strip()
        code = run(["demo", "code", "vet"], env).stdout.strip()
        for username, otp, lands in (("farm01-user", None, "/services/dashboards/"),
                                     ("vet", code, "/services/dashboards/")):
            browser = requests.Session()
            page = browser.get(f"{hub}/hub/login", timeout=30)
            xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text).group(1)
            form = {"username": username, "password": password, "_xsrf": xsrf}
            if otp:
                form["otp"] = otp
            signed = browser.post(f"{hub}/hub/login", data=form, allow_redirects=False,
                                  timeout=30)
            assert signed.status_code == 302 and signed.headers["Location"].endswith(lands)
            assert browser.get(f"{hub}{lands}", timeout=60).status_code == 200
    finally:
        stopped = run(["hub", "stop"], env, check=False)
    assert "hub stopped" in stopped.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{hub}/hub/api", timeout=5)


@pytest.mark.slow
def test_user_administration_and_notebook_login(demo_home):
    root, env, _ = demo_home
    run(["user", "add", "vet2", "--role", "veterinarian"], env)
    run(["user", "assign", "vet2", "farm02"], env)
    url = run(["user", "db-login", "vet2"], env).stdout.strip()
    assert url.startswith("postgresql://rt_vet2:")
    import psycopg

    with psycopg.connect(url) as conn:
        herds = {r[0] for r in conn.execute(
            "SELECT DISTINCT c.code FROM core.animals a JOIN core.customers c "
            "ON c.id = a.customer_id")}
    assert herds == {"farm02", "ai-sires"}
    refused = run(["user", "add", "bad", "--role", "customer_user"], env, check=False)
    assert refused.returncode == 1 and "role customer_user needs a customer" in refused.stderr
    refused = run(["user", "db-login", "farm01-user"], env, check=False)
    assert refused.returncode == 1 and "customer users get dashboards" in refused.stderr


@pytest.mark.slow
@pytest.mark.plink
def test_lab_commands_on_the_demo(demo_home, tmp_path):
    root, env, _ = demo_home
    batches = run(["lab", "batches"], env).stdout
    assert "DEMO-2026-01" in batches and "released" in batches
    demo_file = root / "var" / "inbox" / "processed" / "DEMO-2026-01_FinalReport.txt"
    again = run(["lab", "ingest", str(demo_file), "--batch", "DEMO-2026-01", "--panel", "DemoSNP"],
                env).stdout
    assert "ingested before; nothing changed" in again
    out = run(["lab", "export", "--customer", "farm01", "--out", str(tmp_path / "farm01")],
              env).stdout
    assert "animals x 300 SNPs written" in out
    freq = subprocess.run(["plink2", "--cow", "--bfile", str(tmp_path / "farm01"), "--freq",
                           "--out", str(tmp_path / "f")], capture_output=True, text=True)
    assert freq.returncode == 0, freq.stdout + freq.stderr
    samples = tmp_path / "s.csv"
    samples.write_text("barcode,animal\nX1,NO-SUCH-ANIMAL\n")
    refused = run(["lab", "samples", str(samples), "--customer", "farm01"], env, check=False)
    assert refused.returncode == 1 and "no animals NO-SUCH-ANIMAL" in refused.stderr
    refused = run(["lab", "qc", "NO-BATCH"], env, check=False)
    assert refused.returncode == 1 and "no genotyping batch 'NO-BATCH'" in refused.stderr


@pytest.mark.slow
def test_jobs_commands(demo_home):
    root, env, _ = demo_home
    assert "lab-ingest" in run(["jobs", "schedules"], env).stdout
    out = run(["jobs", "run", "selftest", "-p", "fail=true", "--here"], env, check=False)
    assert out.returncode == 1 and "self-test failure requested" in out.stdout
    refused = run(["jobs", "run", "selftest", "-p", "sleep_s=soon"], env, check=False)
    assert refused.returncode == 1 and "parameter 'sleep_s' must be float" in refused.stderr
    refused = run(["jobs", "run", "backup", "--as", "labops"], env, check=False)
    assert refused.returncode == 1 and "not by lab_ops" in refused.stderr
    assert "selftest" in run(["jobs", "list"], env).stdout
