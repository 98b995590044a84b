"""The staff views' queries and data shaping, on real PostgreSQL under row security."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.reproduction.queries import herd_kpis
from reprotech_core.results.index import genetic_trend
from reprotech_core.staffviews import customers, jobs, lab, population
from reprotech_core.staffviews import system as system_views
from tests.dashboards.staff_support import StaffWorld, staff_world_for

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def sw(db, system, pg_settings, tmp_path_factory) -> StaffWorld:
    return staff_world_for(db, system, pg_settings, tmp_path_factory.mktemp("staff"))


def as_user(db, sw: StaffWorld, name: str):
    return db.session(sw.users[name])


# ---- My customers ------------------------------------------------------------------------

def test_vet_sees_only_assigned_customers_with_herd_figures(db, system, sw):
    with as_user(db, sw, "st-vet") as s:
        mine = customers.assigned_customers(s)
    assert list(mine["code"]) == ["st-one"]
    with db.session(system) as s:
        expected = s.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE sex = 'F'), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM core.genotypes g "
            "WHERE g.animal_id = a.id)) FROM core.animals a WHERE customer_id = :c "
            "AND NOT EXISTS (SELECT 1 FROM core.animal_exits x WHERE x.animal_id = a.id)"),
            {"c": sw.customers["st-one"]}).one()
    row = mine.iloc[0]
    assert (row.animals, row.females, row.genotyped) == tuple(expected)
    with db.session(system) as s:
        failed = s.scalar(text(
            "SELECT count(*) FROM core.samples WHERE customer_id = :c AND barcode = ANY(:b)"),
            {"c": sw.customers["st-one"], "b": list(sw.failed_barcodes)})
    # Every st-one sample was genotyped (ST-1 or ST-2); the blanked ones of it failed QC.
    assert row.samples_pending == 0 and row.samples_failed == failed
    assert 0 < row.genotyped_share <= 1 and row.herds >= 1 and row.last_service is not None


def test_vet_cannot_open_another_customer_or_the_reference_catalogue(db, sw):
    with as_user(db, sw, "st-vet") as s:
        for code in ("st-two", "st-ref"):
            with pytest.raises(NotFound):
                customers.customer_view(s, sw.customers[code])
            with pytest.raises(NotFound):
                customers.customer_animals(s, sw.customers[code])
        with pytest.raises(NotFound):
            customers.customer_view(s, 987654321)


def test_customer_view_kpis_match_the_reproduction_module(db, sw):
    cid = sw.customers["st-one"]
    with as_user(db, sw, "st-vet") as s:
        view = customers.customer_view(s, cid, today=sw.today, days=None)
        direct = herd_kpis(s, cid, end=sw.today, as_of=sw.today)
        last = s.scalar(text("SELECT max(service_date) FROM core.reproduction_services "
                             "WHERE customer_id = :c"), {"c": cid})
        # A window starting after the last service has no services at all.
        recent = customers.customer_view(s, cid, today=last + timedelta(days=400), days=365)
        with pytest.raises(ValueError, match="days"):
            customers.customer_view(s, cid, days=0)
        animals = s.scalar(text("SELECT count(*) FROM core.animals WHERE customer_id = :c"),
                           {"c": cid})
    assert view.kpis == direct and view.kpis.services > 0 and view.period[0] is None
    assert recent.kpis.services == 0
    assert customers.kpi_table(recent.kpis).set_index("KPI").at[
        "Conception rate", "value"] == "no data"
    assert view.herds["animals"].sum() + view.herds["left_herd"].sum() == animals
    assert 0 < view.herds["animals"].sum() and 0 < view.herds["left_herd"].sum()
    assert set(view.kpis_by_herd["herd"]) <= set(view.herds["herd"])
    table = customers.kpi_table(view.kpis)
    assert len(table) == len(customers.KPI_LABELS)
    assert table.set_index("KPI").at["Services", "value"] == str(view.kpis.services)


def test_customer_animals_search_and_limits(db, sw):
    cid = sw.customers["st-one"]
    with as_user(db, sw, "st-tech") as s:
        everyone = customers.customer_animals(s, cid)
        some = everyone["official_id"].iloc[0]
        found = customers.customer_animals(s, cid, search=some.lower())
        none = customers.customer_animals(s, cid, search="%_nothing")
        with pytest.raises(ValueError, match="limit"):
            customers.customer_animals(s, cid, limit=0)
    assert some in set(found["official_id"]) and none.empty
    assert everyone["id"].map(sw.animals.get).notna().all() is not None


def test_lab_ops_and_researchers_have_no_customers_of_their_own(db, sw):
    for name in ("st-lab", "st-res", "st-admin", "st-vet2"):
        with as_user(db, sw, name) as s:
            assert customers.assigned_customers(s).empty
            with pytest.raises(NotFound):
                customers.customer_view(s, sw.customers["st-one"])


def test_format_kpi():
    assert customers.format_kpi(None, "percent") == "no data"
    assert customers.format_kpi(0.4567, "percent") == "45.7 %"
    assert customers.format_kpi(2.5, "number") == "2.50"
    assert customers.format_kpi(401.4, "days") == "401 d"
    assert customers.format_kpi(7, "count") == "7"


# ---- Lab -----------------------------------------------------------------------------------

def test_batches_through_their_stages_with_qc_counts(db, sw):
    with as_user(db, sw, "st-lab") as s:
        table = lab.batches(s).set_index("batch")
        history = lab.stage_history(s)
    assert table.at["ST-1", "stage"] == "released" and table.at["ST-2", "stage"] == "genotyped"
    assert table.at["ST-3", "stage"] == "received" and table.at["ST-3", "samples"] == 0
    st1 = table.loc["ST-1"]
    assert (st1.samples, st1.genotyped) == (60, 60)
    assert st1.qc_fail == len(sw.failed_barcodes)
    assert st1.qc_pass + st1.qc_review + st1.qc_fail == 60
    assert table.at["ST-2", "qc_pass"] == 0 and table.at["ST-1", "chip"] == "StaffChip400"
    counts = lab.stage_counts(table.reset_index()).set_index("stage")["batches"]
    assert list(counts.index) == [*lab.STAGE_ORDER, "failed"] and counts["released"] >= 1
    st1_events = history[history["batch"] == "ST-1"]
    assert list(st1_events["stage"])[-2:] == ["qc", "released"]
    assert st1_events["hours_in_previous"].iloc[1:].ge(0).all()


def test_qc_per_batch_and_chip_and_failed_samples(db, sw):
    with as_user(db, sw, "st-lab") as s:
        qc = lab.qc_by_batch_and_chip(s).set_index("batch")
        failed = lab.failed_samples(s)
        samples = lab.qc_samples(s, batch="ST-1")
    assert qc.at["ST-1", "decided"] == 60 and qc.at["ST-1", "chip"] == "StaffChip400"
    assert qc.at["ST-1", "fail_share"] == pytest.approx(2 / 60)
    assert qc.at["ST-1", "min_call_rate"] < 0.5 < qc.at["ST-1", "mean_call_rate"]
    mine = failed[failed["batch"] == "ST-1"]
    assert set(mine.loc[mine["decision"] == "fail", "barcode"]) == set(sw.failed_barcodes)
    assert mine["reasons"].str.contains("call_rate").any()
    assert set(mine["customer"]) <= {"st-one", "st-two", "st-ref"}
    assert len(samples) == 60 and set(samples["decision"]) >= {"pass", "fail"}


def test_technician_sees_lab_counts_of_assigned_customers_only(db, sw):
    with as_user(db, sw, "st-tech") as s:
        tech = lab.batches(s).set_index("batch")
        failed = lab.failed_samples(s)
    with as_user(db, sw, "st-lab") as s:
        full = lab.batches(s).set_index("batch")
    assert 0 < tech.at["ST-1", "samples"] < full.at["ST-1", "samples"]
    assert set(failed["customer"]) <= {"st-one"}


@pytest.mark.parametrize("name", ["st-vet", "st-res"])
def test_lab_views_refuse_roles_without_lab_read(db, sw, name):
    with as_user(db, sw, name) as s:
        for view in (lab.batches, lab.stage_history, lab.qc_by_batch_and_chip,
                     lab.failed_samples):
            with pytest.raises(PermissionDenied):
                view(s)


# ---- Jobs ----------------------------------------------------------------------------------

def test_failed_and_long_running_runs_are_flagged(db, sw):
    with as_user(db, sw, "st-lab") as s:
        runs = jobs.annotate_runs(jobs.job_runs(s))
    mine = runs.set_index("id")
    flag = {label: mine.at[rid, "flag"] for label, rid in sw.runs.items()}
    assert flag["failed"] == "failed" and "cell 3" in mine.at[sw.runs["failed"], "why"]
    assert flag["slow"] == "long-running" and "usual" in mine.at[sw.runs["slow"], "why"]
    assert flag["overdue"] == "long-running" and "timeout" in mine.at[sw.runs["overdue"], "why"]
    assert flag["fresh"] == "" and all(flag[f"ok{i}"] == "" for i in range(4))
    assert mine.at[sw.runs["ok0"], "duration_s"] == pytest.approx(10, abs=0.01)
    assert mine.at[sw.runs["slow"], "typical_s"] == pytest.approx(11.5, abs=0.01)
    top = jobs.attention(runs)
    assert top["flag"].iloc[0] == "long-running" and set(top["flag"]) == {"long-running",
                                                                          "failed"}


def test_annotate_runs_rules_on_a_frame():
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def run(i, status, started_min_ago, seconds=None, timeout=3600, job="j"):
        started = now - timedelta(minutes=started_min_ago)
        return {"id": i, "job": job, "status": status, "attempts": 1, "max_attempts": 1,
                "progress": None, "queued_at": started, "started_at": started,
                "finished_at": started + timedelta(seconds=seconds) if seconds else None,
                "not_before": started, "timeout_s": timeout, "error": None,
                "error_cell": None, "output_path": None, "output_html": None,
                "requested_by": None}

    few = pd.DataFrame([run(1, "succeeded", 100, 5), run(2, "succeeded", 90, 5),
                        run(3, "running", 30)])
    # Two successful runs are too few to judge "usual"; 30 min is within the timeout.
    assert list(jobs.annotate_runs(few, now=now)["flag"]) == ["", "", ""]
    more = pd.concat([few, pd.DataFrame([run(4, "succeeded", 80, 5)])], ignore_index=True)
    assert list(jobs.annotate_runs(more, now=now)["flag"]) == ["", "", "long-running", ""]
    quick = pd.DataFrame([run(1, "succeeded", 100, 1), run(2, "succeeded", 90, 1),
                          run(3, "succeeded", 80, 1), run(4, "running", 0.5)])
    # 30 s is 30x the usual second, but below the floor of a minute: not flagged.
    assert jobs.annotate_runs(quick, now=now)["flag"].iloc[3] == ""
    failed = pd.DataFrame([run(1, "failed", 10, 3)])
    failed.loc[0, "error"] = None
    out = jobs.annotate_runs(failed, now=now)
    assert out.at[0, "flag"] == "failed" and "no error recorded" in out.at[0, "why"]
    # Queued and due for 20 minutes with no worker taking it; one not yet due is fine.
    queued = pd.DataFrame([run(1, "queued", 20), run(2, "queued", 20), run(3, "queued", 5)])
    queued["started_at"] = pd.NaT
    queued.loc[1, "not_before"] = now + timedelta(hours=1)
    waits = jobs.annotate_runs(queued, now=now)
    assert list(waits["flag"]) == ["waiting", "", ""] and "worker" in waits.at[0, "why"]
    both = jobs.attention(pd.concat([jobs.annotate_runs(more, now=now), waits, out]))
    assert list(both["flag"]) == ["long-running", "waiting", "failed"]
    assert jobs.attention_summary(both) == (
        "1 long-running, 1 waiting and 1 failed run(s) need attention.")
    assert jobs.attention_summary(both.iloc[:0]) == ""


def test_job_durations_and_formatting(db, sw):
    with as_user(db, sw, "st-admin") as s:
        table = jobs.job_durations(jobs.annotate_runs(jobs.job_runs(s))).set_index("job")
    pop = table.loc["st_population"]
    assert (pop.succeeded, pop.running) == (4, 1)
    assert pop.median_s == pytest.approx(11.5) and pop.max_s == pytest.approx(13)
    assert np.isnan(table.at["st_herd_reports", "median_s"])
    assert jobs.format_duration(95) == "1 min 35 s"
    assert jobs.format_duration(7322) == "2 h 2 min" and jobs.format_duration(None) == ""


def test_run_outputs_stay_inside_the_jobs_folder(db, sw, tmp_path):
    with as_user(db, sw, "st-lab") as s:
        ok = jobs.run_by_id(s, sw.runs["ok3"])
        with pytest.raises(NotFound):
            jobs.run_by_id(s, 10**9)
    out = jobs.run_outputs(ok, sw.settings.jobs_dir)
    assert out.notebook.name.endswith(".ipynb") and out.html.name.endswith(".html")
    outside = tmp_path / "secret.html"
    outside.write_text("no")
    forged = dict(ok, output_html=str(outside), output_path="../../etc/passwd")
    assert jobs.run_outputs(forged, sw.settings.jobs_dir) == jobs.RunOutputs(None, None)


@pytest.mark.parametrize("name", ["st-vet", "st-tech", "st-res"])
def test_job_views_refuse_roles_without_jobs_read(db, sw, name):
    with as_user(db, sw, name) as s:
        with pytest.raises(PermissionDenied):
            jobs.job_runs(s)
        with pytest.raises(PermissionDenied):
            jobs.run_by_id(s, sw.runs["failed"])


# ---- Population ----------------------------------------------------------------------------

def test_allele_frequency_spectrum_and_heterozygosity(sw):
    afs = population.allele_frequency_spectrum(sw.store, bins=10, panel="StaffChip400")
    assert len(afs) == 10 and afs["snps"].sum() == 400
    assert afs["share"].sum() == pytest.approx(1.0) and afs["bin_end"].iloc[-1] == 0.5
    het = population.heterozygosity_by_herd(sw.store)
    # Herds of the farm animals (AI sires in the catalogue have none), pseudonymised.
    assert (het["herd"].str.startswith("H")).all() and het["animals"].sum() > 0
    assert het["mean_heterozygosity"].between(0, 1).all()
    with pytest.raises(ValueError, match="bins"):
        population.allele_frequency_spectrum(sw.store, bins=0)


def test_population_structure_from_the_snapshot(sw):
    full = population.population_structure(sw.store)
    assert full.animals["animal"].str.startswith("A").all()
    assert full.animals[["pc1", "pc2"]].notna().all().all()
    assert full.variance_explained[0] >= full.variance_explained[1] > 0
    sample = population.population_structure(sw.store, max_animals=20)
    assert len(sample.animals) == 20 and sample.n_animals_total == full.n_animals_total
    assert set(sample.animals["animal"]) <= set(full.animals["animal"])


def test_missing_snapshot_reads_as_not_found(tmp_path):
    with pytest.raises(NotFound, match="snapshot"):
        population.research_store(tmp_path)


def test_gebvs_trends_and_inbreeding_for_researchers(db, sw):
    with as_user(db, sw, "st-res") as s:
        gebvs = population.research_gebvs(s)
        ped = population.pedigree_inbreeding(s)
    assert gebvs["animal"].str.startswith("A").all()
    assert gebvs["herd"].dropna().str.startswith("H").all()  # AI sires have no herd
    assert not {"official_id", "customer_id", "name"} & set(gebvs.columns)
    with db.session(sw.users["st-admin"]) as s:
        n_results = s.scalar(text("SELECT count(*) FROM core.evaluation_results "
                                  "WHERE run_id = :r"), {"r": sw.evaluation_run})
    latest = gebvs[gebvs["trait"] == "milk_production"]
    assert len(gebvs) >= n_results and len(latest) >= n_results / 4
    trend = genetic_trend(gebvs)
    assert set(trend["trait"]) == set(gebvs["trait"]) and trend["n"].sum() == len(gebvs)
    by_herd = population.gebv_by_herd(gebvs, "milk_production")
    assert by_herd["animals"].sum() == len(latest.dropna(subset=["herd"]))
    assert by_herd["median"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="no released GEBVs"):
        population.gebv_by_herd(gebvs, "no_such_trait")
    assert ped["f_pedigree"].between(0, 1).all() and len(ped) >= 80
    years = population.inbreeding_by_year(ped)
    assert years["f_pedigree_count"].sum() == ped["birth_year"].notna().sum()


@pytest.mark.parametrize("name", ["st-vet", "st-lab", "st-tech"])
def test_population_views_refuse_roles_without_research_read(db, sw, name):
    with as_user(db, sw, name) as s:
        for view in (population.research_gebvs, population.pedigree_inbreeding):
            with pytest.raises(PermissionDenied):
                view(s)


# ---- System --------------------------------------------------------------------------------

def test_system_figures_for_admins(db, system, sw):
    with as_user(db, sw, "st-admin") as s:
        figures = system_views.system_figures(s)
    with db.session(system) as s:
        users, animals, genotyped = s.execute(text(
            "SELECT (SELECT count(*) FROM core.users WHERE active AND username <> 'system'), "
            "(SELECT count(*) FROM core.animals), "
            "(SELECT count(DISTINCT animal_id) FROM core.genotypes)")).one()
    assert (figures.users, figures.animals, figures.genotyped) == (users, animals, genotyped)
    assert figures.users_by_role["users"].sum() == users
    assert figures.jobs_running >= 3 and figures.jobs_failed_24h >= 1
    # st-admin assigned the customers today (an audited change): active today.
    assert figures.customers >= 2 and figures.active_today >= 1
    assert "st_population" in set(figures.job_durations["job"])


@pytest.mark.parametrize("name", ["st-lab", "st-res", "st-vet"])
def test_system_figures_refuse_non_admins(db, sw, name):
    with as_user(db, sw, name) as s:
        with pytest.raises(PermissionDenied):
            system_views.system_figures(s)
