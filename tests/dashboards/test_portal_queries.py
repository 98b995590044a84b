"""The portal's queries against the test database, each run as a real user (row security)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import text
import pandas as pd
import pytest

from reprotech_core.errors import NotFound
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import animal, herd, mating, rankings, tenancy, visits
from reprotech_core.portal.exports import csv_bytes, excel_bytes, herd_report_pdf
from reprotech_core.reproduction.queries import herd_kpis
from reprotech_core.results import index, released

WEIGHTS = {"milk_production": 0.002, "fertility": -0.1, "disease_resistance": 0.2,
           "longevity": 0.05}


def table_for(db, user, customer_id):
    with db.session(user) as s:
        return herd.herd_table(herd.herd_animals(s, customer_id),
                               released.released_results(s, customer_id), WEIGHTS), \
            released.released_run(s, customer_id)


def test_customer_resolves_to_own_farm_and_staff_to_assigned(db, portal):
    with db.session(portal.users["pa-user"]) as s:
        assert tenancy.resolve_customer(s, portal.users["pa-user"], str(portal.farms["pb"].id)
                                        ).code == "pa"  # a URL cannot move a customer
    vet = portal.users["p-vet"]
    with db.session(vet) as s:
        assert [f.code for f in tenancy.visible_farms(s)] == ["pa", "pone"]
        assert tenancy.resolve_customer(s, vet, str(portal.farms["pone"].id)).code == "pone"
        with pytest.raises(NotFound):
            tenancy.resolve_customer(s, vet, str(portal.farms["pb"].id))
        with pytest.raises(NotFound):
            tenancy.resolve_customer(s, vet, "1; DROP TABLE x")


def test_herd_table_has_gebvs_index_and_inbreeding_of_own_animals_only(db, portal):
    farm = portal.farms["pa"]
    table, run = table_for(db, portal.users["pa-user"], farm.id)
    assert run == portal.run_id
    assert set(table["id"]) == set(farm.every_animal.values())
    evaluated = table[table["id"].isin(farm.evaluated)]
    assert evaluated[list(TRAITS)].notna().all().all()
    genomic = evaluated["id"].isin(farm.genotyped)
    assert evaluated.loc[genomic, "f_genomic"].notna().all()
    # each value says its basis: genotyped animals genomic, the others pedigree-based
    assert (evaluated.loc[genomic, "basis"] == "genomic").all() and genomic.any()
    assert (evaluated.loc[~genomic, "basis"] == "pedigree-based").all() and (~genomic).any()
    assert table.loc[~table["id"].isin(farm.evaluated), "basis"].isna().all()
    assert table.loc[~table["id"].isin(farm.evaluated), "index"].isna().all()
    expected = sum(evaluated[t] * w for t, w in WEIGHTS.items())
    np.testing.assert_allclose(evaluated["index"], expected)
    assert ((table["milk_production_rel"].dropna() > 0) & (table["milk_production_rel"].dropna()
                                                            < 1)).all()
    # Another customer asking for pa's herd gets nothing.
    foreign, foreign_run = table_for(db, portal.users["pb-user"], farm.id)
    assert foreign.empty and foreign_run is None


def test_summary_of_full_empty_and_single_animal_herds(db, portal):
    table, run = table_for(db, portal.users["pa-user"], portal.farms["pa"].id)
    s = herd.herd_summary(table, run)
    every = len(portal.farms["pa"].every_animal)
    present = table[table["status"] == "in herd"]
    assert s.animals == every and s.in_herd == len(present) and 0 < s.in_herd < every
    assert s.genotyped == present["id"].isin(portal.farms["pa"].genotyped).sum()
    assert s.females + s.males == s.in_herd
    assert s.qc_pass + s.qc_review + s.qc_fail == len(portal.farms["pa"].genotyped)
    assert s.genotyped_share == pytest.approx(s.genotyped / s.in_herd)
    assert len(herd.top_animals(table, 5)) == 5
    empty, run = table_for(db, portal.users["pempty-user"], portal.farms["pempty"].id)
    e = herd.herd_summary(empty, run)
    assert (e.animals, e.genotyped, e.with_results, e.genotyped_share) == (0, 0, 0, None)
    one, run = table_for(db, portal.users["pone-user"], portal.farms["pone"].id)
    o = herd.herd_summary(one, run)
    assert (o.animals, o.genotyped, o.with_results, run) == (1, 0, 0, None)
    assert herd.top_animals(one).empty


def test_index_weights_are_checked():
    frame = pd.DataFrame({"milk_production": [1.0]})
    with pytest.raises(ValueError, match="unknown traits"):
        index.index_values(frame, {"milk": 1.0})
    with pytest.raises(ValueError, match="finite"):
        index.index_values(frame, {"milk_production": float("nan")})


def test_animal_page_has_pedigree_genotype_results_and_history(db, portal):
    farm = portal.farms["pa"]
    with db.session(portal.users["pa-user"]) as s:
        table = herd.herd_animals(s, farm.id)
        deep = table.dropna(subset=["sire", "dam"]).sort_values("birth_date").iloc[-1]
        page = animal.animal_page(s, int(deep["id"]))
        assert page.official_id == deep["official_id"]
        assert page.pedigree["sire"].official_id == deep["sire"]
        assert page.pedigree["dam"].official_id == deep["dam"]
        deepest = max(animal.animal_page(s, int(a)).generations_known for a in table["id"])
        assert deepest == 3
        assert set(page.pedigree) <= set(animal.PEDIGREE_POSITIONS)
        genotyped = animal.animal_page(s, farm.genotyped[-1])
        assert genotyped.genotype["decision"] in ("pass", "review", "fail")
        assert set(genotyped.results["trait"]) == set(TRAITS)
        assert set(genotyped.results["basis"]) == {"genomic"}
        assert genotyped.inbreeding is not None
        typed = set(farm.genotyped)
        pedigree = animal.animal_page(s, next(a for a in farm.evaluated if a not in typed))
        assert set(pedigree.results["trait"]) == set(TRAITS)
        assert set(pedigree.results["basis"]) == {"pedigree"} and pedigree.inbreeding is None
        cows = table[(table["sex"] == "F")]["id"]
        history = [animal.animal_page(s, int(c)).reproduction for c in cows]
        assert any(len(h) for h in history)
        assert all(set(h.columns) == {"date", "event", "detail"} for h in history)


def test_foreign_and_unknown_animals_are_not_found(db, portal):
    secret = portal.farms["pb"].evaluated[0]
    with db.session(portal.users["pa-user"]) as s:
        with pytest.raises(NotFound):
            animal.animal_page(s, secret)
        with pytest.raises(NotFound):
            animal.animal_page(s, 10**12)
    with pytest.raises(NotFound):
        tenancy.parse_id("12abc", "animal")


def test_single_animal_without_pedigree_or_results(db, portal):
    (only,) = portal.farms["pone"].animals.values()
    with db.session(portal.users["pone-user"]) as s:
        page = animal.animal_page(s, only)
    assert page.generations_known == 0 and page.genotype is None
    assert page.results.empty and page.inbreeding is None and page.parentage.empty


def test_rankings_trend_and_population_distribution(db, portal):
    table, _ = table_for(db, portal.users["pa-user"], portal.farms["pa"].id)
    r = rankings.ranked(table, {"milk_production": 1.0})
    assert list(r["rank"]) == list(range(1, len(r) + 1))
    assert r["index"].is_monotonic_decreasing
    np.testing.assert_allclose(r["index"], r["milk_production"])
    assert rankings.unranked(table, {"milk_production": 1.0}) == len(table) - len(r)
    present = rankings.ranked(table, {"milk_production": 1.0}, in_herd=True)
    assert set(present["id"]) == set(r.loc[r["status"] == "in herd", "id"])
    assert list(present["rank"]) == list(range(1, len(present) + 1)) and len(present) < len(r)
    assert rankings.unranked(table, {"milk_production": 1.0}, in_herd=True) == (
        (table["status"] == "in herd").sum() - len(present))
    cows = rankings.ranked(table, WEIGHTS, sex="F")
    assert (cows["sex"] == "F").all()
    trend = rankings.herd_trend(table)
    assert set(trend["trait"]) == {*TRAITS, "index"}
    year = trend[(trend["trait"] == "milk_production")].iloc[0]
    sub = table[(table["birth_year"] == year["birth_year"])]["milk_production"].dropna()
    assert year["mean"] == pytest.approx(sub.mean()) and year["n"] == len(sub)
    with db.session(portal.users["pa-user"]) as s:  # the customer's own session
        dist = rankings.population_distribution(s, table["milk_production"], "milk_production")
        assert rankings.population_distribution(s, pd.Series(dtype=float), "fertility") is None
        with pytest.raises(ValueError, match="unknown trait"):
            rankings.population_distribution(s, table["milk_production"], "height")
    assert dist is not None
    assert dist.herd.sum() == pytest.approx(1) and dist.population.sum() == pytest.approx(1)
    assert 0 <= dist.herd_percentile <= 100
    # the same figures as binning each customer's newest released GEBVs directly
    with db.session(db.identity("system")) as s:
        everyone = np.array(s.scalars(text(
            "SELECT r.gebv FROM core.evaluation_results r JOIN (SELECT customer_id, "
            "max(run_id) AS run_id FROM core.evaluation_results WHERE released GROUP BY 1) n "
            "USING (customer_id, run_id) WHERE r.trait = 'milk_production' AND r.released"
            )).all(), dtype=float)
    herd_values = table["milk_production"].dropna().to_numpy()
    assert dist.edges[0] == pytest.approx(min(everyone.min(), herd_values.min()))
    assert dist.edges[-1] == pytest.approx(max(everyone.max(), herd_values.max()))
    expected, _ = np.histogram(everyone, dist.edges)
    np.testing.assert_allclose(dist.population, expected / expected.sum())
    assert dist.population_mean == pytest.approx(everyone.mean())
    assert dist.herd_percentile == pytest.approx((everyone < herd_values.mean()).mean() * 100)


def test_population_comparison_needs_three_customers(db, system, portal):
    """With only two customers' values released (every other customer's un-released in a
    transaction rolled back at the end) the database aggregate returns nothing, so nothing
    narrows the comparison to one or two farms; the portal's run again has four."""
    class Undo(Exception):
        pass

    two = [portal.farms["pa"].id, portal.farms["pb"].id]
    with pytest.raises(Undo), db.session(system, reason="test: two customers (rolled back)") as s:
        s.execute(text("UPDATE core.evaluation_results SET released = false "
                       "WHERE released AND customer_id <> ALL(:two)"), {"two": two})
        assert rankings.population_distribution(s, pd.Series([1.0, 2.0]),
                                                "milk_production") is None
        raise Undo
    with db.session(portal.users["pa-user"]) as s:
        assert rankings.population_distribution(s, pd.Series([1.0, 2.0]),
                                                "milk_production") is not None


def test_mating_plan_respects_limits(db, portal):
    farm = portal.farms["pa"]
    with db.session(portal.users["pa-user"]) as s:
        table = herd.herd_table(herd.herd_animals(s, farm.id),
                                released.released_results(s, farm.id), WEIGHTS)
        bulls = mating.candidate_bulls(s, farm.id, WEIGHTS)
        assert {"AI catalogue"} <= set(bulls["source"])
        assert not set(bulls["id"]) & set(portal.farms["pb"].animals.values())
        cows = table[(table["sex"] == "F")].dropna(subset=["index"]).head(6)
        plan = mating.plan_matings(s, cows[["id", "official_id", "index"]], bulls.head(3),
                                   max_inbreeding=0.5, max_matings_per_bull=2)
        assert len(plan.plan) == 6 and set(plan.plan["cow"]) == set(cows["official_id"])
        assert plan.plan["bull"].value_counts().max() <= 2
        assert len(plan.pairs) == 18
        assert (plan.plan["progeny_inbreeding"] >= 0).all()
        with pytest.raises(ValueError, match="infeasible"):
            mating.plan_matings(s, cows[["id", "official_id", "index"]], bulls.head(1),
                                max_inbreeding=0.5, max_matings_per_bull=2)
        with pytest.raises(ValueError, match="at least one cow"):
            mating.plan_matings(s, cows.head(0), bulls, max_inbreeding=0.1,
                                max_matings_per_bull=1)


def test_mating_sees_a_sire_daughter_relationship(db, portal):
    """A cow mated to her own sire: expected inbreeding 0.25 (A = 0.5)."""
    farm = portal.farms["pa"]
    with db.session(portal.users["pa-user"]) as s:
        table = herd.herd_animals(s, farm.id)
        daughter = table.dropna(subset=["sire"]).iloc[0]
        sire_id = s.execute(__import__("sqlalchemy").text(
            "SELECT sire_id FROM core.animals WHERE id = :a"), {"a": int(daughter["id"])}).scalar()
        plan = mating.plan_matings(
            s, pd.DataFrame({"id": [int(daughter["id"])], "official_id": [daughter["official_id"]],
                             "index": [1.0]}),
            pd.DataFrame({"id": [sire_id], "official_id": [daughter["sire"]], "index": [2.0]}),
            max_inbreeding=0.3, max_matings_per_bull=1)
    assert plan.plan["progeny_inbreeding"].iloc[0] >= 0.25


def test_changes_since_last_visit(db, portal, tmp_path):
    log = visits.VisitLog(tmp_path)
    user, farm = portal.users["pa-user"], portal.farms["pa"]
    assert log.last(user.user_id, farm.id) is None
    with db.session(user) as s:
        changes = dict(visits.changes_since(s, farm.id, visits.Visit(
            datetime.now(UTC) - timedelta(days=1), None)))
        assert changes["new animals registered"] == len(farm.every_animal)
        assert changes["animals with newly released breeding values"] == len(farm.evaluated)
        assert visits.changes_since(s, farm.id, visits.Visit(visits.now(), portal.run_id)) == []
    log.record(user.user_id, farm.id, visits.Visit(visits.now(), portal.run_id))
    assert log.last(user.user_id, farm.id).release_run == portal.run_id


def test_downloads_csv_excel_pdf(db, portal):
    farm = portal.farms["pa"]
    table, run = table_for(db, portal.users["pa-user"], farm.id)
    assert csv_bytes(table).decode().splitlines()[0].startswith("id,official_id")
    assert excel_bytes(table)[:2] == b"PK"
    with db.session(portal.users["pa-user"]) as s:
        kpis = herd_kpis(s, farm.id)
    pdf = herd_report_pdf(customer="pa", summary=herd.herd_summary(table, run),
                          top=herd.top_animals(table), kpis=kpis, weights=WEIGHTS)
    assert pdf[:5] == b"%PDF-" and len(pdf) > 2000
    empty = herd_report_pdf(customer="pempty", summary=herd.herd_summary(table.head(0), None),
                            top=herd.top_animals(table.head(0)), kpis=None, weights=WEIGHTS)
    assert empty[:5] == b"%PDF-"
