"""The staff pages as Panel objects (no browser): every section builds for the roles that may
open it, from the same queries the tests of ``reprotech_core.staffviews`` check, and refuses
the roles that may not."""

from __future__ import annotations

import panel as pn
import pytest

from dashboards.app import NOT_FOUND, build_app, guarded, pages_for
from dashboards.pages import PageContext
from dashboards.staff import PAGES, customers, jobs, lab, population, system
from reprotech_core.reproduction.queries import worklist
from tests.dashboards.staff_support import StaffWorld, staff_world_for

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def sw(db, system, pg_settings, tmp_path_factory) -> StaffWorld:
    return staff_world_for(db, system, pg_settings, tmp_path_factory.mktemp("staff"))


def ctx_of(db, sw: StaffWorld, name: str) -> PageContext:
    return PageContext(database=db, identity=sw.users[name], settings=sw.settings)


def text_of(view) -> str:
    """Every Markdown/Alert/HTML text and table cell in a Panel tree."""
    parts = []
    for obj in view.select(lambda o: isinstance(o, (pn.pane.Markdown, pn.pane.Alert,
                                                    pn.pane.HTML, pn.widgets.Tabulator))):
        parts.append(obj.value.to_csv() if isinstance(obj, pn.widgets.Tabulator)
                     else str(obj.object))
    return "\n".join(parts)


@pytest.mark.parametrize(("name", "slugs"), [
    ("st-vet", ["my-customers"]),
    ("st-vet2", ["my-customers"]),
    ("st-tech", ["my-customers", "lab", "lab-files"]),
    ("st-lab", ["lab", "lab-files", "jobs", "evaluations"]),
    ("st-res", ["evaluations", "population"]),
    ("st-admin", ["lab", "lab-files", "jobs", "evaluations", "population", "accounts",
                  "data-requests", "finance", "system"]),
    ("st-super", ["lab", "lab-files", "jobs", "evaluations", "population", "accounts",
                  "data-requests", "finance", "system"]),
])
def test_each_role_sees_its_staff_pages(db, sw, name, slugs):
    assert [p.slug for p in pages_for(ctx_of(db, sw, name), PAGES)] == slugs


def test_my_customers_sections(db, sw):
    ctx = ctx_of(db, sw, "st-vet")
    listing = text_of(customers._list(ctx))
    assert "st-one" in listing and "st-two" not in listing
    page = customers.CustomerPage(ctx, sw.customers["st-one"], "Farm st-one")
    assert "herd" in text_of(page._herds())
    with db.session(db.identity("system")) as s:
        expected = worklist(s, sw.customers["st-one"])
    section = page._todo()
    todo = text_of(section)
    assert len(expected) > 0 and all(oid in todo for oid in expected["official_id"])
    (download,) = [w for w in section.select(pn.widgets.FileDownload)]
    sheet = download.callback().getvalue().decode().splitlines()
    assert sheet[0].startswith("official_id,herd,action,reason") and len(sheet) == len(expected) + 1
    assert all(action in todo for action in expected["action"])
    recent = text_of(page._kpis("Last 12 months"))  # the simulated herd is bred to this day
    assert "Conception rate" in recent and "Choose a longer period" not in recent
    kpis = text_of(page._kpis("All records"))
    assert "Conception rate" in kpis and "Services" in kpis
    animals = text_of(page._animals(""))
    assert "?page=animal&animal=" in animals and "STCAN" in animals
    assert "No animal matches" in text_of(page._animals("no-such-cow"))
    assert "no assigned customers yet" in text_of(customers._list(ctx_of(db, sw, "st-vet2")))


@pytest.mark.parametrize(("name", "page", "param", "value"), [
    ("st-vet", customers, "customer", "st-two"), ("st-vet", customers, "customer", "st-ref"),
    ("st-vet", customers, "customer", "12abc"), ("st-tech", customers, "customer", "st-two"),
    ("st-lab", jobs, "run", "999999999"), ("st-lab", jobs, "run", "../etc"),
])
def test_foreign_or_forged_url_ids_read_not_found(db, sw, monkeypatch, name, page, param,
                                                    value):
    value = str(sw.customers.get(value, value))
    monkeypatch.setattr(page, "query_param", lambda p: value if p == param else None)
    view = guarded(page.build, ctx_of(db, sw, name))
    assert isinstance(view, pn.pane.Markdown) and view.object == NOT_FOUND


def test_assigned_customer_url_opens_the_customer(db, sw, monkeypatch):
    cid = str(sw.customers["st-one"])
    monkeypatch.setattr(customers, "query_param", lambda p: cid if p == "customer" else None)
    view = guarded(customers.build, ctx_of(db, sw, "st-tech"))
    assert "Farm st-one (st-one, professional)" in text_of(view)


def test_lab_jobs_population_system_sections(db, sw):
    lab_ctx, admin = ctx_of(db, sw, "st-lab"), ctx_of(db, sw, "st-admin")
    batches = text_of(lab._batches(lab_ctx))
    assert "ST-1" in batches and "released" in batches
    assert "StaffChip400" in text_of(lab._qc(lab_ctx))
    assert sw.failed_barcodes[0] in text_of(lab._failed(lab_ctx))
    overview = text_of(jobs._overview(lab_ctx))
    assert "need attention" in overview and "long-running" in overview and "failed" in overview
    run = text_of(guarded(lambda c: jobs._run_page(c, _run(c, sw.runs["failed"])), lab_ctx))
    assert "FileNotFoundError" in run and "cell 3" in run and "Lab ingest failed" in run
    res = ctx_of(db, sw, "st-res")
    pca = population._pca(res)
    assert len(pca.select(pn.pane.HoloViews)) == 2  # the PCA and the genomic F trend
    assert "heterozygosity" in text_of(population._spectrum_section(res))
    gebvs = population._gebvs(res)
    trait = gebvs.select(pn.widgets.Select)[0]
    assert trait.value == "milk_production" and len(trait.options) == 4
    assert "median" in text_of(gebvs) and len(gebvs.select(pn.pane.HoloViews)) == 2
    assert "f_pedigree_mean" in text_of(population._inbreeding(res))
    figures = text_of(system._figures(admin))
    assert "Active today" in figures and "st_population" in figures


def _run(ctx, run_id):
    from reprotech_core.staffviews.jobs import run_by_id

    with ctx.session() as s:
        return run_by_id(s, run_id)


@pytest.mark.parametrize(("name", "page"), [
    ("st-res", lab), ("st-vet", lab), ("st-vet", jobs), ("st-tech", jobs),
    ("st-lab", population), ("st-vet", population), ("st-lab", system), ("st-res", system),
])
def test_pages_refuse_roles_without_permission_as_not_found(db, sw, name, page):
    view = guarded(page.build, ctx_of(db, sw, name))
    assert isinstance(view, pn.pane.Markdown) and view.object == NOT_FOUND


def test_population_without_a_snapshot_says_so(db, sw, tmp_path):
    ctx = PageContext(database=db, identity=sw.users["st-res"],
                      settings=sw.settings.model_copy(update={"data_dir": tmp_path}))
    assert "No research snapshot yet" in text_of(population._pca(ctx))
    assert "No research snapshot yet" in text_of(population._spectrum_section(ctx))


def test_build_app_lists_staff_pages_in_the_navigation(db, sw):
    app = build_app(ctx_of(db, sw, "st-lab"), PAGES)
    nav = "\n".join(str(o.object) for o in app.sidebar)
    assert "?page=lab" in nav and "?page=jobs" in nav and "?page=population" not in nav


def test_shared_values_are_computed_once_and_other_keys_are_not_held_up():
    import threading
    import time

    from dashboards.cache import SHARED

    calls: list[str] = []
    started = threading.Event()

    def slow() -> str:
        calls.append("slow")
        started.set()
        time.sleep(0.5)
        return "slow value"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(
        SHARED.get(("test", "slow"), slow, ttl=60))) for _ in range(3)]
    for t in threads:
        t.start()
    started.wait(5)
    t0 = time.perf_counter()
    assert SHARED.get(("test", "fast"), lambda: "fast value", ttl=60) == "fast value"
    assert time.perf_counter() - t0 < 0.2  # not queued behind the slow key
    for t in threads:
        t.join(5)
    assert results == ["slow value"] * 3 and calls == ["slow"]
    assert SHARED.get(("test", "slow"), slow, ttl=0) == "slow value" and calls == ["slow", "slow"]
