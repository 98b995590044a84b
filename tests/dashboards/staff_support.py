"""Test support for the staff dashboards: a small world of lab, evaluation, reproduction and
job data made through the product's own paths, and a test-only dashboard server.

The world (``build_staff_world``) lives in the suite's PostgreSQL next to everyone else's
data, so its names carry the prefix ``st-``; it is built once per test session (both staff
test modules share it). Its job runs are finished or running under a lease a day long, so
no worker of another test ever claims them.

The server (``python -m tests.dashboards.staff_support URL DATA_DIR PORT USER...``) serves
``dashboards.app.build_app`` once per user at ``/<user>``: each path has a fixed identity, the
way the hub-authenticated service resolves its signed-in user. It exists for tests only and
is never imported by product code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, text

from data_models.evaluation import EvaluationResult, EvaluationRun
from data_models.lab import GenotypingBatch
from data_models.tenancy import Customer
from reprotech_core import accounts
from reprotech_core.db.session import Database, Identity
from reprotech_core.demo import write_history
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.settings import Settings
from reprotech_core.store.batch_qc import qc_batch, release_batches
from reprotech_core.store.evaluations import release_run
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd
from reprotech_core.store.snapshots import write_snapshots

CUSTOMERS = {"CUST00": "st-one", "CUST01": "st-two"}
STAFF = {"st-vet": "veterinarian", "st-vet2": "veterinarian", "st-tech": "technician",
         "st-lab": "lab_ops", "st-res": "researcher", "st-admin": "admin",
         "st-super": "super_admin"}
FAILED_ROWS = (3, 7)  # samples of batch ST-1 whose calls are blanked: QC fails them


@dataclass(frozen=True)
class StaffWorld:
    customers: dict[str, int]  # code -> id
    users: dict[str, Identity]
    settings: Settings  # data_dir = this world's folder (store, jobs)
    animals: dict[str, int]  # official id -> id
    failed_barcodes: tuple[str, ...]
    runs: dict[str, int]  # label -> job run id
    evaluation_run: int
    today: date

    @property
    def store(self) -> Path:
        return self.settings.var_dir / "store"


_cache: dict[str, StaffWorld] = {}


def staff_world_for(db: Database, system: Identity, pg_settings: Settings,
                    root: Path) -> StaffWorld:
    """The session's staff world (built on first use)."""
    key = str(db.engine.url)
    if key not in _cache:
        _cache[key] = build_staff_world(db, system, pg_settings, root)
    return _cache[key]


def build_staff_world(db: Database, system: Identity, pg_settings: Settings,
                      root: Path) -> StaffWorld:
    settings = pg_settings.model_copy(update={"data_dir": root / "var"})
    herd = simulate_herd(n_animals=80, n_snps=400, seed=11, n_customers=2, n_herds=4,
                         bad_sample_fraction=0.0, wrong_sire_rate=0.0)
    manifest = PanelManifest(chip="StaffChip400", snps=herd.genotypes.snps)
    first, second = np.arange(60), np.arange(60, 80)
    with db.session(system, reason="staff dashboard tests") as s:
        place_herd(s, herd, customer_codes=CUSTOMERS, reference_code="st-ref",
                   barcode_prefix="ST", animal_prefix="STCAN")
        lab1 = as_lab_file(herd.genotypes, first, barcode_prefix="ST")
        packed = lab1.packed.copy()
        for row in FAILED_ROWS:
            packed[row, : packed.shape[1] * 4 // 5] = 0xFF  # 80 % missing calls
        lab1 = GenotypeSet(packed=packed, snps=lab1.snps, samples=lab1.samples, sex=lab1.sex)
        ingest_genotypes(s, lab1, manifest=manifest, batch_name="ST-1", source_sha256="st-1",
                         source_file="simulated")
        qc_batch(s, "ST-1", report_root=root / "qc")
        release_batches(s, ["ST-1"])
        ingest_genotypes(s, as_lab_file(herd.genotypes, second, barcode_prefix="ST"),
                         manifest=manifest, batch_name="ST-2", source_sha256="st-2",
                         source_file="simulated")
        s.add(GenotypingBatch(name="ST-3", stage="received"))
        ids = dict(s.execute(text("SELECT official_id, id FROM core.animals "
                                  "WHERE official_id LIKE 'STCAN%'")).all())
        customers = dict(s.execute(select(Customer.code, Customer.id)
                                   .where(Customer.code.in_([*CUSTOMERS.values(), "st-ref"])))
                         .all())
        for name, role in STAFF.items():
            accounts.create_user(s, accounts.NewUser(name, name, role, None))
        run_id = _evaluation(s, herd, ids)
    # An administrator assigns the customers (st-vet2 gets none): an audited action today.
    with db.session(db.identity("st-admin"), reason="staff dashboard tests") as s:
        accounts.assign(s, "st-vet", "st-one")
        accounts.assign(s, "st-tech", "st-one")
    today = date.today()
    _reproduction(db, system, today)
    runs = _job_runs(db, system, settings)
    write_snapshots(db, system, settings.var_dir / "store")
    failed = tuple(str(lab1.samples[r]) for r in FAILED_ROWS)
    users = {name: db.identity(name) for name in STAFF}
    return StaffWorld(customers, users, settings, ids, failed, runs, run_id, today)


def _evaluation(s, herd, ids: dict[str, int]) -> int:
    """A released evaluation of the genotyped animals: their simulated breeding values stand
    in for GEBVs (the dashboards show results, they do not compute them)."""
    run = EvaluationRun(method="gblup", status="succeeded", parameters={"source": "st-test"})
    s.add(run)
    s.flush()
    owner = dict(s.execute(text("SELECT id, customer_id FROM core.animals "
                                "WHERE official_id LIKE 'STCAN%'")).all())
    genotyped = set(s.scalars(text("SELECT animal_id FROM core.genotypes g JOIN core.animals a "
                                   "ON a.id = g.animal_id WHERE a.official_id LIKE 'STCAN%'")))
    rows = []
    for animal, values in herd.breeding_values.iterrows():
        aid = ids.get("STCAN" + str(animal)[-9:])
        if aid is None or aid not in genotyped:
            continue
        rows += [{"run_id": run.id, "customer_id": owner[aid], "animal_id": aid, "trait": t,
                  "gebv": float(v), "reliability": 0.6} for t, v in values.items()]
    s.execute(insert(EvaluationResult), rows)
    release_run(s, run.id)
    return run.id


def _reproduction(db: Database, system: Identity, today: date) -> None:
    """st-one's reproduction history, simulated and checked as the demo does."""
    with db.session(system, reason="staff dashboard tests") as session:
        customer = session.scalar(select(Customer).where(Customer.code == "st-one"))
        write_history(session, customer, seed=3, today=today)


def _job_runs(db: Database, system: Identity, settings: Settings) -> dict[str, int]:
    """Runs of every kind the jobs page distinguishes, with output files for two of them."""
    jobs_dir = settings.jobs_dir
    jobs_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ok_nb = jobs_dir / "st-population-ok.ipynb"
    ok_nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                 "nbformat_minor": 5}))
    ok_html = jobs_dir / "st-population-ok.html"
    ok_html.write_text("<html><body><h1>Population report st-ok</h1></body></html>")
    bad_html = jobs_dir / "st-ingest-failed.html"
    bad_html.write_text("<html><body><h1>Lab ingest failed</h1><p>cell 3</p></body></html>")
    plan = {
        **{f"ok{i}": dict(job="st_population", status="succeeded", started=now - timedelta(
            hours=5 - i), seconds=10 + i) for i in range(4)},
        "failed": dict(job="st_lab_ingest", status="failed", started=now - timedelta(hours=1),
                       seconds=4, error="FileNotFoundError: st-missing.txt\nTraceback …",
                       cell=3, html=str(bad_html)),
        "slow": dict(job="st_population", status="running",
                     started=now - timedelta(minutes=10)),
        "overdue": dict(job="st_evaluation", status="running",
                        started=now - timedelta(hours=2), timeout=3600),
        "fresh": dict(job="st_herd_reports", status="running",
                      started=now - timedelta(seconds=5)),
    }
    plan["ok3"].update(nb=str(ok_nb), html=str(ok_html))
    ids = {}
    with db.session(system) as s:
        for label, p in plan.items():
            running = p["status"] == "running"
            ids[label] = s.execute(text(
                """
                INSERT INTO core.job_runs (job, notebook, status, run_key, attempts,
                  max_attempts, timeout_s, queued_at, not_before, started_at, finished_at,
                  lease_owner, lease_expires_at, heartbeat_at, error, error_cell,
                  output_path, output_html, progress, requested_by)
                VALUES (:job, 'notebooks/jobs/x.ipynb', :status, :key, 1, 1, :timeout,
                  :queued, :queued, :started, :finished, :owner, :lease, :beat, :error, :cell,
                  :nb, :html, :progress, :by)
                RETURNING id
                """), {
                "job": p["job"], "status": p["status"], "key": f"st-{label}-{now:%H%M%S%f}",
                "timeout": p.get("timeout", 3600),
                "queued": p["started"] - timedelta(seconds=2), "started": p["started"],
                "finished": None if running else p["started"] + timedelta(
                    seconds=p["seconds"]),
                "owner": "st-test" if running else None,
                "lease": now + timedelta(days=1) if running else None,
                "beat": now if running else None, "error": p.get("error"),
                "cell": p.get("cell"), "nb": p.get("nb"), "html": p.get("html"),
                "progress": "cell 2 of 9" if running else p["status"],
                "by": system.user_id}).scalar_one()
    return ids


# --------------------------------------------------------------------------------------------
# The test-only server


def serve(url: str, data_dir: str, port: int, users: list[str]) -> None:
    """Serve the dashboards at ``/<user>`` for each user, as that user (tests only)."""
    import panel as pn

    from dashboards.app import build_app
    from dashboards.pages import PageContext
    from reprotech_core.settings import Settings

    settings = Settings(data_dir=Path(data_dir))
    database = Database(url)
    identities = {u: database.identity(u) for u in users}

    def app_for(identity: Identity):
        return lambda: build_app(PageContext(database=database, identity=identity,
                                             settings=settings))

    pn.config.nthreads = 4
    pn.extension("tabulator", design="bootstrap")
    pn.serve({u: app_for(i) for u, i in identities.items()}, address="127.0.0.1", port=port,
             show=False, title="Reprotech Analytics (test)", liveness="health")


@dataclass
class TestServer:
    proc: subprocess.Popen
    base: str

    def url(self, user: str, query: str = "") -> str:
        return f"{self.base}/{user}{'?' + query if query else ''}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(url: str, data_dir: Path, port: int, users: list[str], *,
                 log: Path, timeout: float = 60.0) -> TestServer:
    """Start :func:`serve` in a subprocess and wait until it answers."""
    import urllib.request

    handle = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.dashboards.staff_support", url, str(data_dir), str(port),
         *users], stdout=handle, stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"test dashboard server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return TestServer(proc, base)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"test dashboard server did not start: {log.read_text()[-2000:]}")


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:])
