"""The Evaluations page (``?page=evaluations``) as Panel objects over real evaluation runs on
PostgreSQL: the list with each run's verdict, one run's traits, validation, trend and groups,
and the release decided on those numbers — held runs only with a reason, and only by those
with ``results:release``."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest
from sqlalchemy import text

from dashboards.app import NOT_FOUND, guarded
from dashboards.pages import PageContext
from dashboards.staff import evaluations as page
from data_models.evaluation import Phenotype
from reprotech_core.errors import PermissionDenied
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.staffviews import evaluations as views
from reprotech_core.store.evaluations import run_evaluation
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.run_validation import ValidationRules
from reprotech_core.store.simulated import as_lab_file, place_herd
from tests.dashboards.staff_support import StaffWorld, staff_world_for
from tests.dashboards.test_staff_pages import text_of

pytestmark = [pytest.mark.db, pytest.mark.slow]

LENIENT = ValidationRules(share=0.2, min_animals=20, max_bias_sd=10.0,
                          dispersion_range=(0.0, 10.0))
STRICT = ValidationRules(share=0.2, min_animals=20, max_bias_sd=0.5,
                         dispersion_range=(0.9999, 1.0001))


@pytest.fixture(scope="module")
def sw(db, system, pg_settings, tmp_path_factory) -> StaffWorld:
    return staff_world_for(db, system, pg_settings, tmp_path_factory.mktemp("staff"))


@pytest.fixture(scope="module")
def runs(db, system, sw, tmp_path_factory) -> dict[str, int]:
    """Two real runs of one small customer's herd: one that passes its validation, one held
    by a dispersion range no estimate meets."""
    herd = simulate_herd(n_animals=200, n_snps=800, seed=23, n_customers=1, n_herds=2,
                         wrong_sire_rate=0.0)
    with db.session(system) as s:
        place_herd(s, herd, customer_codes={"CUST00": "evp-one"}, reference_code="evp-ref",
                   barcode_prefix="EVP", animal_prefix="EVPCA")
        ingest_genotypes(s, as_lab_file(herd.genotypes, np.arange(200), barcode_prefix="EVP"),
                         manifest=PanelManifest(chip="EvpChip800", snps=herd.genotypes.snps),
                         batch_name="EVP-1", source_sha256="evp-1", source_file="simulated")
        s.execute(text("UPDATE core.genotyping_batches SET stage = 'qc' WHERE name = 'EVP-1'"))
        s.execute(text("UPDATE core.genotyping_batches SET stage = 'released' "
                       "WHERE name = 'EVP-1'"))
        ids = dict(s.execute(text("SELECT official_id, id FROM core.animals "
                                  "WHERE official_id LIKE 'EVPCA%'")).all())
        customer = s.scalar(text("SELECT id FROM core.customers WHERE code = 'evp-one'"))
        s.execute(Phenotype.__table__.insert(), [
            {"customer_id": customer, "animal_id": ids["EVPCA" + animal[-9:]], "trait": t,
             "value": float(v), "recorded_on": "2025-01-01"}
            for animal, values in herd.phenotypes.iterrows()
            for t, v in values.items() if np.isfinite(v)])
    folder = tmp_path_factory.mktemp("evp")
    out = {}
    for label, rules, job in (("passed", LENIENT, 771001), ("held", STRICT, 771002)):
        out[label] = run_evaluation(db, system, folder=folder, job_run_id=job,
                                    customer_id=customer, parentage_min_informative=100,
                                    rules=rules).run_id
    return out


def ctx_of(db, sw: StaffWorld, name: str) -> PageContext:
    return PageContext(database=db, identity=sw.users[name], settings=sw.settings)


def opened(monkeypatch, run_id: object):
    monkeypatch.setattr(page, "query_param", lambda p: str(run_id) if p == "run" else None)


def test_the_list_shows_every_run_with_its_verdict(db, sw, runs):
    listing = text_of(page._overview(ctx_of(db, sw, "st-lab")))
    for run_id in (*runs.values(), sw.evaluation_run):
        assert f"?page=evaluations&run={run_id}" in listing
    assert "passed" in listing and "held: " in listing
    assert "no validation (run before migration 0018)" in listing  # the staff world's old run
    assert "run(s) held by their validation" in listing


def test_a_run_shows_traits_validation_trend_and_groups(db, sw, runs, monkeypatch):
    opened(monkeypatch, runs["held"])
    view = guarded(page.build, ctx_of(db, sw, "st-res"))
    assert isinstance(view, page.RunPage)
    shown = text_of(pn.panel(view))
    with db.session(db.identity("system")) as s:
        run = views.run_record(s, runs["held"])
    for trait in run.parameters["traits"]:
        assert trait in shown
    assert "validation.dispersion" in shown and "Not released automatically" in shown
    assert "ratio_of_accuracies" in shown and "herd-year-season" in shown
    assert run.trend().shape[0] > 0 and pn.panel(view).select(pn.pane.HoloViews)
    # a researcher reads runs but may not release: no button, a sentence why
    assert not pn.panel(view).select(lambda o: o is view.release_button)
    assert "needs the results:release permission" in shown


def test_a_held_run_is_released_only_with_a_reason_recorded_on_it(db, sw, runs, monkeypatch):
    opened(monkeypatch, runs["held"])
    view = guarded(page.build, ctx_of(db, sw, "st-admin"))
    assert pn.panel(view).select(lambda o: o is view.reason)  # asked for, because it is held
    view.release()  # no reason typed
    assert "Not released" in view.status and "evaluation.validation" in view.status
    with db.session(db.identity("system")) as s:
        assert views.run_record(s, runs["held"]).status == "succeeded"
    view.reason.value = "dispersion range set for the page test"
    view.release()
    assert view.status.startswith("Released ") and view.release_button.disabled
    with db.session(db.identity("system")) as s:
        record = views.run_record(s, runs["held"])
    assert record.status == "released"
    assert record.validation["release"]["despite"]["reason"] == (
        "dispersion range set for the page test")
    assert record.verdict.startswith("released despite validation")


def test_a_passed_run_releases_without_a_reason(db, sw, runs, monkeypatch):
    opened(monkeypatch, runs["passed"])
    view = guarded(page.build, ctx_of(db, sw, "st-super"))
    assert not pn.panel(view).select(lambda o: o is view.reason)
    view.release()
    assert view.status.startswith("Released "), view.status
    again = guarded(page.build, ctx_of(db, sw, "st-super"))
    assert "Released " in text_of(pn.panel(again))


def test_lab_operations_read_runs_but_release_nothing(db, sw, runs):
    with db.session(sw.users["st-lab"]) as s:
        assert not views.may_release(s)
        with pytest.raises(PermissionDenied, match="results:release"):
            views.release(s, runs["held"])


@pytest.mark.parametrize(("name", "value"), [
    ("st-lab", "999999999"), ("st-lab", "1; DROP TABLE x"), ("st-vet", None),
    ("st-tech", None),
])
def test_forged_or_forbidden_reads_not_found(db, sw, runs, monkeypatch, name, value):
    opened(monkeypatch, value if value is not None else runs["passed"])
    view = guarded(page.build, ctx_of(db, sw, name))
    assert isinstance(view, pn.pane.Markdown) and view.object == NOT_FOUND


def test_a_list_of_runs_without_timings_or_validation_builds(db, sw, monkeypatch):
    """Runs made before runs recorded their timings and validation (all ``None`` columns)
    still list: the page says what is absent, never fails."""
    with db.session(db.identity("system")) as s:
        old = views.evaluation_runs(s).head(0)
    old.loc[0] = {"id": 5, "method": "gblup", "status": "released", "animals": None,
                  "n_snps": None, "panel": None, "traits": 0, "validation": views.verdict({}),
                  "started_at": None, "finished_at": None, "released_at": None,
                  "seconds": None}
    monkeypatch.setattr(views, "evaluation_runs", lambda s: old)
    shown = text_of(page._overview(ctx_of(db, sw, "st-admin")))
    assert "?page=evaluations&run=5" in shown and "no validation" in shown


def test_a_customer_only_release_does_not_become_the_population(db, sw, runs, portal,
                                                                 tmp_path):
    """Releasing a run of one customer (this module's ``evp-one``) leaves every other herd's
    comparison with the population standing: the population is each customer's newest
    released values (migration 0020), not the platform's newest run."""
    from reprotech_core.portal import rankings
    from tests.dashboards.test_portal_queries import table_for

    table, _ = table_for(db, portal.users["pa-user"], portal.farms["pa"].id)  # built first
    system = db.identity("system")
    with db.session(system) as s:
        customer = s.scalar(text("SELECT id FROM core.customers WHERE code = 'evp-one'"))
    run = run_evaluation(db, system, folder=tmp_path, job_run_id=771003, customer_id=customer,
                         parentage_min_informative=100, rules=LENIENT).run_id
    with db.session(system, reason="customer-only release") as s:
        views.release(s, run)
        newest = s.scalar(text("SELECT max(run_id) FROM core.evaluation_results WHERE released"))
    assert newest == run  # the newest released run is the one customer's
    with db.session(portal.users["pa-user"]) as s:
        dist = rankings.population_distribution(s, table["milk_production"], "milk_production")
    assert dist is not None and dist.population.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("status", "phrase"), [
    ("failed", "failed before validation"), ("running", "running"),
    ("released", "no validation (run before migration 0018)"),
])
def test_a_run_without_a_verdict_says_why(status, phrase):
    """A failed run never reached its validation: it is not mistaken for an old run."""
    assert views.verdict(None, status) == phrase
    assert views.verdict({"release": {"automatic": True}}, status) == "passed"
