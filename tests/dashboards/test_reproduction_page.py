"""The reproduction page as Panel objects (no browser): it builds for a customer and for the
customer's vet with the numbers the pure functions give on the same records, and a customer
that is not the user's reads "Not found." with nothing of it shown."""

from __future__ import annotations

from datetime import date

import panel as pn
import pytest

from dashboards import app
from dashboards.customer import common, reproduction
from dashboards.pages import PageContext
from reprotech_core.reproduction.bredsum import breeding_summary, cycle_totals
from reprotech_core.reproduction.queries import females, load_frames


def _ctx(db, settings, portal, user: str) -> PageContext:
    return PageContext(database=db, identity=portal.users[user], settings=settings)


def _customer(monkeypatch, cid: int | None) -> None:
    monkeypatch.setattr(common, "query_param",
                        lambda p: str(cid) if p == "customer" and cid is not None else None)


def _text(view: pn.viewable.Viewable) -> str:
    return " ".join(str(m.object) for m in view.select(pn.pane.Markdown))


def _grid(view: pn.viewable.Viewable, name: str) -> pn.widgets.Tabulator:
    (grid,) = [t for t in view.select(pn.widgets.Tabulator) if f"rt-{name}" in t.css_classes]
    return grid


@pytest.fixture(scope="module")
def expected(db, system, portal):
    """The pure functions on pa's records, read as the platform (every row)."""
    with db.session(system) as s:
        cid = portal.farms["pa"].id
        return breeding_summary(load_frames(s, cid), females(s, cid), today=date.today())


@pytest.mark.parametrize("user", ["pa-user", "p-vet"])
def test_page_shows_the_breeding_summary(db, pg_settings, portal, expected, monkeypatch, user):
    _customer(monkeypatch, portal.farms["pa"].id if user == "p-vet" else None)
    view = app.guarded(reproduction.build, _ctx(db, pg_settings, portal, user))
    text = _text(view)
    assert "Reproduction · Farm pa" in text and "Not found" not in text
    totals = cycle_totals(expected.cycles)
    assert totals["eligible"] > 0 and totals["bred"] > 0  # the simulated herd breeds
    assert (f"**{totals['eligible']:,}** eligible cow-cycles, **{totals['bred']:,}** bred, "
            f"**{totals['heats']:,}** seen in heat and not bred, "
            f"**{totals['pregnant']:,}** pregnant") in text
    assert list(_grid(view, "cycles").value["Heat seen, not bred"]) == list(
        expected.cycles["heats"])
    cycles = _grid(view, "cycles").value
    assert list(cycles["Eligible"]) == list(expected.cycles["eligible"])
    assert list(cycles["Pregnant"]) == list(expected.cycles["pregnant"])
    by_number = _grid(view, "by-service-number").value
    assert list(by_number["Service"]) == list(expected.by_service_number["service_number"])
    assert list(by_number["Conception rate"]) == pytest.approx(
        list(expected.by_service_number["conception_rate"]), nan_ok=True)
    types = set(_grid(view, "by-service-type").value["Service type"])
    assert types <= {"heat", "timed", "embryo transfer", "not recorded"} and "heat" in types
    status = _grid(view, "status").value
    assert len(status) == len(expected.status) > 0
    assert set(status["Status"]) <= {"open", "bred", "pregnant"}
    assert len(_grid(view, "intervals").value) == len(expected.calving_intervals)
    assert len(_grid(view, "first-calving").value) == len(expected.first_calving)
    assert len(_grid(view, "by-month").value) == len(expected.by_month)
    assert len(view.select(pn.pane.HoloViews)) >= 5  # cycles, status, 2 histograms, trends


def test_every_table_downloads_as_neutralised_csv(db, pg_settings, portal, monkeypatch):
    _customer(monkeypatch, None)
    view = app.guarded(reproduction.build, _ctx(db, pg_settings, portal, "pa-admin"))
    downloads = view.select(pn.widgets.FileDownload)
    names = {d.filename for d in downloads}
    assert {"pa-21-day-cycles.csv", "pa-conception-by-service-number.csv",
            "pa-conception-by-lactation.csv", "pa-conception-by-service-type.csv",
            "pa-conception-by-sire.csv", "pa-conception-by-technician.csv",
            "pa-pregnancy-status.csv", "pa-calving-intervals.csv",
            "pa-age-at-first-calving.csv", "pa-kpis-by-month.csv"} <= names
    cycles = next(d for d in downloads if d.filename == "pa-21-day-cycles.csv")
    assert cycles.callback().getvalue().decode().startswith("Cycle start,Cycle end,Eligible,")


def test_csv_cells_that_look_like_formulas_are_neutralised():
    import pandas as pd

    frame = pd.DataFrame({"technician": ["=HYPERLINK(\"x\")"], "services": [3]})
    view = reproduction.table(frame, "t.csv")
    (download,) = view.select(pn.widgets.FileDownload)
    body = download.callback().getvalue().decode()
    assert "'=HYPERLINK" in body or "\"'=HYPERLINK" in body, body


def test_foreign_customer_is_not_found(db, pg_settings, portal, monkeypatch):
    _customer(monkeypatch, portal.farms["pb"].id)  # p-vet is assigned pa and pone, not pb
    view = app.guarded(reproduction.build, _ctx(db, pg_settings, portal, "p-vet"))
    assert _text(view).strip() == app.NOT_FOUND
    assert not view.select(pn.widgets.Tabulator)


def test_a_herd_without_records_says_so(db, pg_settings, portal, monkeypatch):
    _customer(monkeypatch, portal.farms["pone"].id)
    view = app.guarded(reproduction.build, _ctx(db, pg_settings, portal, "p-vet"))
    assert "No reproduction records for this herd yet." in " ".join(
        str(a.object) for a in view.select(pn.pane.Alert))


def test_targets_form_saves_refuses_and_redraws(db, system, pg_settings, portal, monkeypatch):
    from sqlalchemy import text

    from reprotech_core.reproduction.targets import HerdTargets, herd_targets

    _customer(monkeypatch, None)
    cid = portal.farms["pa"].id
    try:
        view = app.guarded(reproduction.build, _ctx(db, pg_settings, portal, "pa-admin"))
        (card,) = [c for c in view.select(pn.Card) if "rt-targets" in c.css_classes]
        inputs = {w.name: w for w in card.select(pn.widgets.TextInput)}
        vwp = inputs["Voluntary waiting period (days)"]
        conception = inputs["Conception rate target (%)"]
        (button,) = card.select(pn.widgets.Button)
        (message,) = [m for m in card.select(pn.pane.Markdown)
                      if "rt-targets-message" in m.css_classes]
        vwp.value_input = "300"  # typed, no Enter
        conception.value_input = "forty"
        button.clicks += 1
        said = message.object
        assert said.startswith("**Not saved:**") and "300 is outside 20–120" in said
        assert "is not a whole number" in said
        with db.session(system) as s:
            assert herd_targets(s, cid) == HerdTargets()  # nothing written
        cycles_before = list(_grid(view, "cycles").value["Eligible"])
        vwp.value_input = "80"
        conception.value_input = "45"
        button.clicks += 1
        assert message.object == "Saved."
        with db.session(system) as s:
            assert herd_targets(s, cid) == HerdTargets(vwp_days=80, conception_rate_pct=45)
        # The analysis was rebuilt with the 80-day waiting period: the same records, fewer
        # eligible cow-cycles (a cow becomes eligible 30 days later).
        cycles_after = list(_grid(view, "cycles").value["Eligible"])
        assert sum(cycles_after) < sum(cycles_before)
        assert "80-day voluntary waiting period" in _text(view)
    finally:
        with db.session(system) as s:
            s.execute(text("DELETE FROM core.herd_targets WHERE customer_id = :c"), {"c": cid})


def test_a_customer_user_sees_the_targets_but_cannot_edit(db, pg_settings, portal,
                                                           monkeypatch):
    _customer(monkeypatch, None)
    view = app.guarded(reproduction.build, _ctx(db, pg_settings, portal, "pa-user"))
    assert not [c for c in view.select(pn.Card) if "rt-targets" in c.css_classes]
    assert "Voluntary waiting period: **50 days**" in _text(view)
