"""The customer pages that hold state, as Panel ``Viewer``s without a browser: their parameters
are the page's state, and changing one changes what is on screen (the browser tests drive the
same pages through their widgets)."""

from __future__ import annotations

import panel as pn
import pytest

from dashboards.customer import animal, animals, common, mating, rankings
from dashboards.pages import PageContext
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import animal as portal_animal


@pytest.fixture(scope="module")
def ctx(db, pg_settings, portal) -> PageContext:
    return PageContext(database=db, identity=portal.users["pa-user"], settings=pg_settings)


@pytest.fixture(scope="module")
def herd_and_table(ctx):
    h = common.resolve(ctx)
    table, _ = common.herd_table(ctx, h)
    return h, table


def test_animals_filter_on_search_text_and_herd_status(herd_and_table):
    h, table = herd_and_table
    page = animals.HerdAnimals(h, table, {"milk_production": 1.0})
    in_herd = page.on_screen()
    assert len(in_herd) == (table["status"] == "in herd").sum() and set(in_herd["Status"]) == {
        "in herd"}
    page.search_text = "PA-00001"
    found = page.on_screen()
    assert 0 < len(found) < len(in_herd)
    assert found[["Animal", "Name", "Sire", "Dam"]].fillna("").apply(
        lambda r: any("PA-00001" in v for v in r), axis=1).all()
    page.in_herd_only = False
    assert len(page.on_screen()) >= len(found)
    page.search_text = ""
    assert len(page.on_screen()) == len(table)
    box = pn.panel(page).select(pn.widgets.TextInput)[0]
    box.value_input = "PA-00001"  # typing is the state, no Enter needed
    assert page.search_text == "PA-00001"


def test_animals_say_whether_values_are_genomic_or_pedigree_based(ctx, herd_and_table):
    """The "Values" column, its filter, its sort and its explanation; the animal page's
    basis per trait."""
    h, table = herd_and_table
    page = animals.HerdAnimals(h, table, {"milk_production": 1.0})
    page.in_herd_only = False
    every = page.on_screen()
    assert set(every["Values"]) == {"genomic", "pedigree-based", ""}  # "": no results
    assert page.grid.titles["basis"] == "Values"
    assert page.grid.header_filters["basis"]["values"] == ["", "genomic", "pedigree-based"]
    page.grid.filters = [{"field": "basis", "type": "=", "value": "pedigree-based"}]
    assert set(page.on_screen()["Values"]) == {"pedigree-based"}
    page.grid.filters = []
    page.grid.sorters = [{"field": "basis", "dir": "asc"}]
    assert list(page.on_screen()["Values"]) == sorted(every["Values"])
    help_text = " ".join(str(m.object) for m in pn.panel(page).select(pn.pane.Markdown))
    assert "Pedigree-based: the animal is not genotyped" in help_text
    typed = table[table["basis"] == "pedigree-based"].iloc[0]
    with ctx.session() as session:
        view = animal.results(portal_animal.animal_page(session, int(typed["id"])))
    shown = " ".join(str(m.object) for m in view.select(pn.pane.Markdown))
    assert "| Basis |" in shown and "| pedigree-based |" in shown and "Genomic: the value" in shown


def test_lookup_matches_follow_the_text(herd_and_table):
    h, table = herd_and_table
    page = animal.AnimalLookup(h, table)
    view = pn.panel(page)

    def shown() -> str:
        return " ".join(str(m.object) for m in view.select(pn.pane.Markdown))

    assert "Type part of an official ID" in shown()
    page.text = table["official_id"].iloc[0]
    assert f"animal={table['id'].iloc[0]}" in shown()
    page.text = "no-such-animal"
    assert "No animal of this herd matches" in shown()


def test_rankings_follow_weights_sex_and_herd_status(herd_and_table):
    h, table = herd_and_table
    page = rankings.Rankings(h, table, {t: 0.0 for t in TRAITS} | {"milk_production": 1.0})
    best = page.grid.value
    assert best["milk_production"].is_monotonic_decreasing and "animals ranked" in (
        page.status.object)
    page.weights = {t: 0.0 for t in TRAITS} | {"fertility": 1.0}
    assert page.grid.value["fertility"].is_monotonic_decreasing
    page.sex = "F"
    cows_in_herd = len(page.grid.value)
    assert cows_in_herd and set(page.grid.value["sex"]) == {"F"}
    page.in_herd = False
    assert set(page.grid.value["sex"]) == {"F"} and len(page.grid.value) >= cows_in_herd
    assert {"genomic", "pedigree-based"} <= set(page.grid.value["basis"])
    weights = pn.panel(page).select(pn.widgets.FloatInput)
    weights[0].value = 2.0  # a weight typed in the page is the state
    assert page.weights == {t: 0.0 for t in TRAITS} | {TRAITS[0]: 2.0}
    page.reset_weights()
    assert page.weights == {t: 0.0 for t in TRAITS} | {"milk_production": 1.0}
    page.weights = {"milk": 1.0}
    assert "milk" in page.status.object  # an unknown trait is said, the last ranking stays


def test_mating_plan_is_state_and_its_download(ctx, herd_and_table):
    page = mating.build(ctx)
    (planner,) = [o for o in page.objects if isinstance(o, pn.Column)
                  and o.select(pn.widgets.MultiChoice)]
    button = planner.select(pn.widgets.Button)[0]
    button.clicks += 1
    text = " ".join(str(m.object) for m in planner.select(pn.pane.Markdown))
    assert "matings" in text and "mean expected progeny index" in text
    (download,) = [w for w in planner.select(pn.widgets.FileDownload)]
    assert download.callback().getvalue().decode().startswith("Cow,Bull,")
