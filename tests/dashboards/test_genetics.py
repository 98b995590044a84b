"""Genetics over time (the overview's section): the trend, the inbreeding trend, the gain per
year and the herd against the population, checked against a small herd computed by hand, in
process (no browser); and tenancy: a customer sees their own farm's numbers only, and the
population only through the database's anonymous aggregate."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import panel as pn
import psycopg
import pytest
from sqlalchemy import select, text

from dashboards.customer import common, overview
from dashboards.customer import genetics as view
from dashboards.pages import PageContext
from data_models.tenancy import Customer
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import genetics
from tests.dashboards.herds import REFERENCE, FarmSpec, add_user, build_farm

USER = "pgen-user"
# official id: birth date, sex, GEBVs (milk, fertility, disease resistance, longevity) or None,
# (F genomic, F pedigree) or None, left the herd
HERD = {
    "PGEN-1": (date(2019, 3, 1), "F", (100.0, 2.0, 1.0, 4.0), (0.02, 0.01), False),
    "PGEN-2": (date(2019, 9, 1), "F", (300.0, 0.0, 3.0, 2.0), (0.04, 0.03), False),
    "PGEN-3": (date(2020, 4, 1), "M", (600.0, 1.0, 2.0, 6.0), (0.06, 0.05), False),
    "PGEN-4": (date(2021, 5, 1), "F", (800.0, -2.0, 5.0, 8.0), (0.10, None), True),
    "PGEN-5": (date(2021, 6, 1), "F", None, None, False),
}


@pytest.fixture(scope="module")
def gen_farm(db, system, portal, admin_conninfo) -> int:
    """The hand herd, its results added to the portal's released run (so the population keeps
    its customers), PGEN-4 sold."""
    farm = build_farm(db, system, FarmSpec("pgen", 0), REFERENCE, seed=5)
    with db.session(system, reason="test: genetics herd") as s:
        customer = s.scalar(select(Customer).where(Customer.code == "pgen"))
        ids = register_animals(s, customer, [
            AnimalRecord(oid, "Holstein", sex, born, herd_code=farm.herd, name=oid)
            for oid, (born, sex, *_rest) in HERD.items()])
    add_user(db, system, USER, "customer_user", "pgen")
    with psycopg.connect(admin_conninfo) as conn:
        for oid, (_born, _sex, gebvs, inbreeding, left) in HERD.items():
            for trait, value in zip(TRAITS, gebvs or (), strict=False):
                conn.execute(
                    "INSERT INTO core.evaluation_results (run_id, customer_id, animal_id, "
                    "trait, gebv, reliability, released) VALUES (%s, %s, %s, %s, %s, 0.5, true)",
                    (portal.run_id, farm.id, ids[oid], trait, value))
            if inbreeding:
                conn.execute(
                    "INSERT INTO core.inbreeding (run_id, customer_id, animal_id, f_genomic, "
                    "f_pedigree) VALUES (%s, %s, %s, %s, %s)",
                    (portal.run_id, farm.id, ids[oid], *inbreeding))
            if left:
                conn.execute("INSERT INTO core.animal_exits (customer_id, animal_id, exit_date, "
                             "reason) VALUES (%s, %s, '2024-01-10', 'sold')",
                             (farm.id, ids[oid]))
    return farm.id


@pytest.fixture(scope="module")
def ctx(db, pg_settings, gen_farm) -> PageContext:
    return PageContext(database=db, identity=db.identity(USER), settings=pg_settings)


@pytest.fixture(scope="module")
def table(ctx) -> pd.DataFrame:
    table_, _run = common.herd_table(ctx, common.resolve(ctx))
    return table_


def _index(ctx, gebvs) -> float:
    return sum(ctx.settings.index_weights[t] * v for t, v in zip(TRAITS, gebvs, strict=True))


def _row(frame, **where) -> pd.Series:
    hit = frame
    for k, v in where.items():
        hit = hit[hit[k] == v]
    assert len(hit) == 1, (where, frame)
    return hit.iloc[0]


def test_genetic_trend_per_birth_year_by_hand(ctx, table):
    trend = genetics.genetic_trend(table)
    assert list(dict.fromkeys(trend["trait"])) == [*TRAITS, "index"]  # in trait order
    milk = trend[trend["trait"] == "milk_production"]
    assert list(milk["birth_year"]) == [2019, 2020, 2021]  # PGEN-5 has no results
    y2019 = _row(milk, birth_year=2019)
    assert y2019["mean"] == pytest.approx(200.0) and y2019["n"] == 2
    assert y2019["sd"] == pytest.approx(np.sqrt(2 * 100.0 ** 2))  # sample SD of 100, 300
    assert _row(milk, birth_year=2020)["mean"] == pytest.approx(600.0)
    assert _row(milk, birth_year=2021)["mean"] == pytest.approx(800.0)  # sold: still counts
    fert2019 = _row(trend, trait="fertility", birth_year=2019)
    assert fert2019["mean"] == pytest.approx(1.0)
    i1, i2 = (_index(ctx, HERD[a][2]) for a in ("PGEN-1", "PGEN-2"))
    assert _row(trend, trait="index", birth_year=2019)["mean"] == pytest.approx((i1 + i2) / 2)


def test_gain_per_year_is_the_slope_over_animals(ctx, table):
    gain = genetics.annual_gain(table)
    milk = _row(gain, trait="milk_production")
    # years 2019, 2019, 2020, 2021 (mean 2019.75), milk 100, 300, 600, 800 (mean 450):
    # Sxy = .75*350 + .75*150 + .25*150 + 1.25*350 = 850, Sxx = 2*.5625 + .0625 + 1.5625 = 2.75
    assert milk["gain_per_year"] == pytest.approx(850 / 2.75)
    assert (milk["first_year"], milk["last_year"], milk["n"]) == (2019, 2021, 4)
    # longevity 4, 2, 6, 8: Sxy = .75*1 + .75*3 + .25*1 + 1.25*3 = 7.0
    assert _row(gain, trait="longevity")["gain_per_year"] == pytest.approx(7.0 / 2.75)
    one_year = table.assign(birth_year=2020)
    assert genetics.annual_gain(one_year).empty  # one birth year has no trend


def test_inbreeding_trend_by_hand(table):
    f = genetics.inbreeding_trend(table)
    assert _row(f, measure="genomic", birth_year=2019)["mean"] == pytest.approx(0.03)
    assert _row(f, measure="genomic", birth_year=2019)["n"] == 2
    assert _row(f, measure="genomic", birth_year=2021)["mean"] == pytest.approx(0.10)
    assert _row(f, measure="pedigree", birth_year=2020)["mean"] == pytest.approx(0.05)
    assert f[(f["measure"] == "pedigree") & (f["birth_year"] == 2021)].empty  # no value
    assert genetics.inbreeding_trend(table.head(0)).empty


def test_standing_against_the_population_by_hand(db, ctx, table, gen_farm):
    with ctx.session() as s:
        standing = genetics.population_standing(s, table)
    assert list(standing["trait"]) == list(TRAITS)
    with db.session(db.identity("system")) as s:  # what the aggregate bins: newest released
        everyone = np.array(s.scalars(text(
            "SELECT r.gebv FROM core.evaluation_results r JOIN (SELECT customer_id, "
            "max(run_id) AS run_id FROM core.evaluation_results WHERE released GROUP BY 1) n "
            "USING (customer_id, run_id) WHERE r.trait = 'milk_production' AND r.released"
            )).all(), dtype=float)
    milk = _row(standing, trait="milk_production")
    herd_mean = (100 + 300 + 600) / 3  # in the herd today: PGEN-4 was sold, PGEN-5 has none
    assert milk["animals"] == 3 and milk["herd_mean"] == pytest.approx(herd_mean)
    assert milk["population_mean"] == pytest.approx(everyone.mean())
    assert milk["difference"] == pytest.approx(herd_mean - everyone.mean())
    assert milk["share_below"] == pytest.approx((everyone < herd_mean).mean())


def test_overview_shows_the_section_with_csvs(ctx, table):
    page = overview.build(ctx)  # outside a server the deferred sections build at once
    (section,) = page.select(lambda o: "rt-genetics-section" in (o.css_classes or []))
    text_ = " ".join(str(m.object) for m in section.select(pn.pane.Markdown))
    assert "Genetics over time" in text_ and f"{850 / 2.75:+,.2f}" in text_
    assert "your herd's mean 333.33 is above" in text_
    grids = {g.css_classes[0]: g for g in section.select(pn.widgets.Tabulator)}
    assert set(grids) == {"rt-genetic-trend", "rt-inbreeding-trend", "rt-population-standing"}
    milk = grids["rt-genetic-trend"].value
    assert list(milk[milk["Trait"] == "Milk (kg)"]["Mean"]) == pytest.approx([200, 600, 800])
    downloads = {d.filename: d for d in section.select(pn.widgets.FileDownload)}
    assert set(downloads) == {"pgen-genetic-trend.csv", "pgen-inbreeding-trend.csv",
                              "pgen-population-standing.csv"}
    body = downloads["pgen-genetic-trend.csv"].callback().getvalue().decode()
    assert body.startswith("Trait,Born,Mean,SD,Animals") and "Milk (kg),2019,200" in body
    plots = section.select(pn.pane.HoloViews)
    assert len(plots) >= 3  # trend, inbreeding, population


def test_a_customer_sees_only_their_own_farm(db, pg_settings, portal, ctx, table, gen_farm):
    """pgen's numbers come from pgen's animals alone, pa's never include pgen's; and the
    population reaches pgen only through the aggregate: its session reads no other farm's
    result, yet the population mean covers every customer."""
    trend = genetics.genetic_trend(table)
    assert trend[trend["trait"] == "milk_production"]["n"].sum() == 4
    others = [f.id for f in portal.farms.values()]  # every other farm (not the AI-sire catalogue)
    with ctx.session() as s:
        for table_name in ("evaluation_results", "inbreeding"):
            assert s.scalar(text(f"SELECT count(*) FROM core.{table_name} "
                                 "WHERE customer_id = ANY(:o)"), {"o": others}) == 0
        standing = genetics.population_standing(s, table)
    assert _row(standing, trait="milk_production")["population_mean"] != pytest.approx(
        (100 + 300 + 600 + 800) / 4)
    pa_ctx = PageContext(database=db, identity=portal.users["pa-user"], settings=pg_settings)
    pa_table, _ = common.herd_table(pa_ctx, common.resolve(pa_ctx))
    assert not set(pa_table["official_id"]) & set(HERD)
    pa_trend = genetics.genetic_trend(pa_table)
    pa_milk = pa_trend[pa_trend["trait"] == "milk_production"]
    assert pa_milk["n"].sum() == pa_table["milk_production"].notna().sum()
    pa_section = view.section(pa_ctx, common.resolve(pa_ctx), pa_table)
    shown = " ".join(str(m.object) for m in pa_section.select(pn.pane.Markdown))
    assert "PGEN" not in shown and "333.33" not in shown


def test_no_results_and_no_population_are_said(db, system, ctx, table, portal):
    h = common.resolve(ctx)
    empty = table.assign(**{t: np.nan for t in TRAITS})
    shown = view.section(ctx, h, empty)
    assert common.NO_RESULTS in " ".join(str(a.object) for a in shown.select(pn.pane.Alert))

    class Undo(Exception):
        pass

    # two customers' values released only (rolled back): the aggregate returns nothing
    two = [portal.farms["pa"].id, portal.farms["pb"].id]
    with pytest.raises(Undo), db.session(system, reason="test: two customers (rolled back)") as s:
        s.execute(text("UPDATE core.evaluation_results SET released = false "
                       "WHERE released AND customer_id <> ALL(:two)"), {"two": two})
        pa = s.scalars(text("SELECT gebv FROM core.evaluation_results WHERE customer_id = :c "
                            "AND trait = 'milk_production' AND released"),
                       {"c": two[0]}).all()
        frame = pd.DataFrame({"status": "in herd", "milk_production": pa})
        assert genetics.population_standing(s, frame, ("milk_production",)).empty
        raise Undo
