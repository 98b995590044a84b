"""The staff pages in headless Chromium, one role at a time, with screenshots kept under
``tests/artifacts/staff/``.

One test-only server (``staff_support.serve``) serves the dashboards once per user at
``/<user>``, each with a fixed identity; one browser serves the whole module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from reprotech_core.db.migrate import app_url
from reprotech_core.staffviews import jobs
from reprotech_core.db.scratch import free_port
from tests.dashboards.staff_support import StaffWorld, staff_world_for, start_server

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "staff"
USERS = ["st-vet", "st-tech", "st-lab", "st-res", "st-admin"]
TIMEOUT_MS = 30_000
TIMINGS: dict[str, float] = {}  # page -> seconds until every section had loaded


@pytest.fixture(scope="module")
def sw(db, system, pg_settings, tmp_path_factory) -> StaffWorld:
    return staff_world_for(db, system, pg_settings, tmp_path_factory.mktemp("staff"))


@pytest.fixture(scope="module")
def server(sw, pg_settings, tmp_path_factory):
    log = tmp_path_factory.mktemp("staff-server") / "server.log"
    srv = start_server(app_url(pg_settings), sw.settings.var_dir, free_port(), USERS, log=log)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(chromium):
    """The session's Chromium (tests/conftest.py); the page timings are written after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield chromium
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def visit(page, server, user: str, query: str = "") -> float:
    """Open a page and wait until its sections have loaded; returns the seconds it took."""
    started = time.perf_counter()
    page.goto(server.url(user, query), wait_until="domcontentloaded")
    page.get_by_text("Reprotech Analytics").first.wait_for()
    wait_loaded(page)
    seconds = time.perf_counter() - started
    TIMINGS.setdefault(f"{user} {query or '(home)'}", round(seconds, 2))
    return seconds


def wait_loaded(page) -> None:
    """Until no section shows Panel's loading spinner (CSS locators pierce the shadow DOM)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    page.wait_for_timeout(200)
    while page.locator(".pn-loading").count() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.locator(".pn-loading").count() == 0, f"a section kept loading: {page.url}"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_vet_sees_assigned_customer_and_not_another(page, server, sw):
    visit(page, server, "st-vet")
    page.get_by_text("My customers").first.wait_for()
    page.locator("a", has_text="Farm st-one").first.wait_for()
    assert page.get_by_text("Farm st-two").count() == 0
    assert page.get_by_text("Lab batches").count() == 0  # not a vet's page
    shot(page, "vet-my-customers")

    visit(page, server, "st-vet", f"page=my-customers&customer={sw.customers['st-one']}")
    page.get_by_text("Farm st-one (st-one, professional)").wait_for()
    page.get_by_text("Reproduction KPIs").wait_for()
    link = page.locator("a[href*='page=animal&animal=']").first
    link.wait_for(state="attached")
    assert link.inner_text().startswith(("STCAN", "SIMCAL"))  # registered, or a calf since
    page.get_by_text("All records").click()
    page.get_by_text("Conception rate").first.wait_for()
    shot(page, "vet-customer-st-one")

    for other in ("st-two", "st-ref"):
        visit(page, server, "st-vet", f"page=my-customers&customer={sw.customers[other]}")
        page.get_by_text("Not found.").wait_for()
        assert page.get_by_text(f"Farm {other}").count() == 0
        assert page.get_by_text("STCAN").count() == 0
    shot(page, "vet-foreign-customer-not-found")


def test_researcher_cannot_open_the_lab_and_sees_population(page, server):
    visit(page, server, "st-res", "page=lab")
    page.get_by_text("Not found.").wait_for()
    assert page.get_by_text("ST-1").count() == 0
    shot(page, "researcher-lab-not-found")

    seconds = visit(page, server, "st-res", "page=population")
    page.get_by_text("Population structure (PCA)").wait_for()
    page.get_by_text("mean_heterozygosity").first.wait_for()
    page.get_by_text("f_pedigree_mean").first.wait_for()
    assert page.locator(".bk-Canvas, canvas").count() >= 4
    assert page.get_by_text("Farm st-one").count() == 0 and page.get_by_text("STCAN").count() == 0
    shot(page, "researcher-population")
    assert seconds < 30


def test_lab_ops_batches_qc_and_failed_samples(page, server, sw):
    visit(page, server, "st-lab", "page=lab")
    page.get_by_text("QC per batch and chip").wait_for()
    page.get_by_text("ST-1").first.wait_for()
    page.get_by_text("StaffChip400").first.wait_for()
    page.get_by_text(sw.failed_barcodes[0]).first.wait_for()
    assert page.get_by_text("My customers").count() == 0
    shot(page, "lab-ops-lab-batches")
    # Lab operations read every customer's lab records, not their herds' reproduction.
    visit(page, server, "st-lab", f"page=my-customers&customer={sw.customers['st-one']}")
    page.get_by_text("Not found.").wait_for()
    assert page.get_by_text("Reproduction KPIs").count() == 0


def attention_now(db, system) -> str:
    """The summary the page should show for the runs in the database now (other tests of the
    suite may have left failed runs in it; the staff world adds one of each kind)."""
    with db.session(system) as s:
        return jobs.attention_summary(jobs.attention(jobs.annotate_runs(jobs.job_runs(s))))


def test_lab_ops_sees_failed_and_long_running_jobs(page, server, sw, db, system):
    visit(page, server, "st-lab", "page=jobs")
    summary = attention_now(db, system)
    assert "long-running and" in summary and "failed run(s) need attention" in summary
    page.get_by_text(summary).wait_for()
    page.get_by_text("past its timeout").first.wait_for()
    page.get_by_text("FileNotFoundError").first.wait_for()
    shot(page, "lab-ops-jobs")
    # A run failing while the page is open shows up on Refresh.
    with db.session(system) as s:
        new = s.scalar(text(
            "INSERT INTO core.job_runs (job, status, attempts, max_attempts, started_at, "
            "finished_at, error) VALUES ('st_refresh_check', 'failed', 1, 1, now(), now(), "
            "'ValueError: st-refresh') RETURNING id"))
    try:
        assert page.get_by_text("st_refresh_check").count() == 0
        page.get_by_role("button", name="Refresh").click()
        after = attention_now(db, system)
        assert after != summary
        page.get_by_text(after).wait_for()
        page.get_by_text("st_refresh_check").first.wait_for()
    finally:
        with db.session(system) as s:
            s.execute(text("DELETE FROM core.job_runs WHERE id = :i"), {"i": new})

    visit(page, server, "st-lab", f"page=jobs&run={sw.runs['failed']}")
    page.get_by_text("Download HTML").wait_for()
    frame = page.frame_locator("iframe.rt-notebook")
    frame.get_by_text("Lab ingest failed").wait_for()
    shot(page, "lab-ops-failed-run")


def test_technician_sees_assigned_customer_and_lab_but_not_jobs(page, server, sw):
    visit(page, server, "st-tech", f"page=my-customers&customer={sw.customers['st-one']}")
    page.get_by_text("Farm st-one (st-one, professional)").wait_for()
    visit(page, server, "st-tech", "page=lab")
    page.get_by_text("ST-1").first.wait_for()
    visit(page, server, "st-tech", "page=jobs")
    page.get_by_text("Not found.").wait_for()
    shot(page, "technician-jobs-not-found")


def test_admin_system_figures_and_every_staff_page(page, server, sw):
    visit(page, server, "st-admin", "page=system")
    page.get_by_text("Active today").first.wait_for()
    page.get_by_text("Job durations (successful runs)").wait_for()
    page.get_by_text("st_population").first.wait_for()
    shot(page, "admin-system")
    for slug, expected in (("lab", "QC per batch and chip"), ("jobs", "need attention"),
                           ("evaluations", "no validation (run before migration 0018)"),
                           (f"evaluations&run={sw.evaluation_run}", "Forward validation"),
                           ("population", "f_pedigree_mean")):
        visit(page, server, "st-admin", f"page={slug}")
        page.get_by_text(expected).first.wait_for()
        shot(page, f"admin-{slug.replace('&run=', '-run-')}")
    visit(page, server, "st-admin", "page=my-customers")  # not an admin's page
    page.get_by_text("Not found.").wait_for()


def test_admin_filters_the_audit_trail(page, server, sw):
    """The world's administrator assigned st-vet to st-one: filtered by that user, the
    trail shows the assignment with its new values; an unknown user is refused by name."""
    visit(page, server, "st-admin", "page=audit")
    page.get_by_text("Audit trail").first.wait_for()
    page.get_by_text("event(s).").first.wait_for()  # the newest events, unfiltered
    page.locator(".tabulator-row").first.wait_for()  # rendered: the page is live
    page.locator(".rt-audit-user input").fill("st-admin")
    page.locator(".rt-audit-user input").press("Enter")  # Enter searches, as Show does
    page.get_by_text("event(s) by st-admin.").first.wait_for()
    # other tests act as st-admin too: narrow to the table so the rows fit one page
    page.locator(".rt-audit-table select").select_option("core.user_customer_assignments")
    try:
        page.get_by_text("event(s) by st-admin in core.user_customer_assignments.").first\
            .wait_for()
    finally:
        shot(page, "admin-audit-trail")
    page.locator(".tabulator-cell", has_text="core.user_customer_assignments").first.wait_for()
    page.locator(".rt-audit-user input").fill("nobody-such")
    # Enter, not Show: a click can reach the server before the typed text does
    page.locator(".rt-audit-user input").press("Enter")
    page.get_by_text("Nothing shown: no user 'nobody-such'.").wait_for()
