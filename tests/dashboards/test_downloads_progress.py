"""Downloads (``?page=downloads``) with progress: while the herd report (PDF) or the Excel herd
table is built, a progress bar and a status line name the step running; then the status says
the file is ready (its size), or that it could not be built, and the bar goes away."""

from __future__ import annotations

import re
from collections.abc import Iterator

import panel as pn
import pytest

from dashboards.customer import downloads
from dashboards.pages import PageContext
from reprotech_core import accounts
from tests.dashboards.conftest import ARTIFACTS, deep_text, screenshot
from tests.dashboards.herds import REFERENCE, FarmSpec, build_farm
from tests.dashboards.server import PortalServer, running_server
from tests.dashboards.test_browser_portal import LOAD_MS, open_page

USER = "pdlp-user"


@pytest.fixture(scope="module")
def ctx(db, system, pg_settings) -> PageContext:
    build_farm(db, system, FarmSpec("pdlp", 20, genotyped_share=0.0, evaluated=False,
                                    reproduction=True), REFERENCE, seed=37)
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(USER, "Farm user", "customer_user", "pdlp"))
    return PageContext(database=db, identity=db.identity(USER), settings=pg_settings)


def _parts(page: pn.viewable.Viewable):
    buttons = {w.label: w for w in page.select(pn.widgets.FileDownload)}
    (bar,) = page.select(pn.indicators.Progress)
    (status,) = [p for p in page.select(pn.pane.Markdown) if "rt-export-status" in p.css_classes]
    return buttons, bar, status


def test_the_report_shows_its_steps_then_ready(ctx, monkeypatch):
    page = downloads.build(ctx)
    buttons, bar, status = _parts(page)
    assert not bar.visible and status.object == ""
    seen = []
    real = downloads.herd_report_of

    def watched(**kwargs):
        seen.append((status.object, bar.visible, bar.value, bar.max,
                     kwargs["kpis"] is not None))
        return real(**kwargs)

    monkeypatch.setattr(downloads, "herd_report_of", watched)
    pdf = buttons["Herd report (PDF)"].callback().getvalue()
    assert pdf[:5] == b"%PDF-"
    # while the PDF was written: step 2 of 2, the bar one step along, the KPIs computed
    assert seen == [("**Herd report (PDF)**: step 2 of 2 — writing the PDF…", True, 1, 2, True)]
    assert not bar.visible
    assert status.object == f"**Herd report (PDF)** is ready ({len(pdf) / 1024:,.0f} KB)."

    xlsx = buttons["Herd table (Excel)"].callback().getvalue()
    assert xlsx[:2] == b"PK"
    assert status.object == f"**Herd table (Excel)** is ready ({len(xlsx) / 1024:,.0f} KB)."


def test_a_failed_export_says_so_and_hides_the_bar(ctx, monkeypatch):
    page = downloads.build(ctx)
    buttons, bar, status = _parts(page)

    def broken(**_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(downloads, "herd_report_of", broken)
    with pytest.raises(RuntimeError):
        buttons["Herd report (PDF)"].callback()
    assert not bar.visible
    assert "could not be built" in status.object and "disk full" not in status.object


@pytest.fixture(scope="module")
def server(pg_settings, ctx) -> Iterator[PortalServer]:
    with running_server(pg_settings, (USER,), ARTIFACTS / "server-downloads.log") as s:
        yield s


@pytest.mark.browser
@pytest.mark.slow
def test_the_report_downloads_and_says_ready_on_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, accept_downloads=True)
    pg = context.new_page()
    try:
        open_page(pg, server, USER, "page=downloads", "Herd report (PDF)")
        with pg.expect_download(timeout=LOAD_MS) as pdf:
            pg.get_by_text("Herd report (PDF)").last.click()
        assert open(pdf.value.path(), "rb").read(5) == b"%PDF-"
        pg.get_by_text(re.compile(r"is ready \(\d[\d,]* KB\)")).first.wait_for(timeout=LOAD_MS)
        screenshot(pg, "downloads-progress-phone")
        assert "could not be built" not in deep_text(pg)
    finally:
        context.close()
