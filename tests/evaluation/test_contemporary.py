"""Herd-year-season contemporary groups: seasons, the minimum-size merges, every exclusion
counted by its rule, the design they give GBLUP, and the accuracy on a simulated herd."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprotech_core.evaluation.contemporary import (
    EXCLUSION_RULES, by_trait, check_seasons, describe, form_groups, group_column, season_of,
)
from reprotech_core.evaluation.design import class_design
from reprotech_core.evaluation.gblup import DEFAULT_FACTORS, evaluate_traits, trait_records
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.simulate import true_breeding_values
from reprotech_core.genomics.snpmap import GenotypeSet


def records(spec, *, trait="milk_production", sire=None):
    """Long records from ``{(herd, "YYYY-MM-DD"): n}``; animals named herd-date-i."""
    rows = [{"animal": f"{h}-{d}-{i}", "trait": trait, "herd": h, "date": date.fromisoformat(d)}
            for (h, d), n in spec.items() for i in range(n)]
    out = pd.DataFrame(rows)
    if sire is not None:
        out["sire"] = sire(out)
    return out


def groups_of(result):
    return result.assigned.groupby("group")["animal"].count().to_dict()


@pytest.mark.parametrize(("day", "expected"), [
    ("2023-11-30", (2023, 3)), ("2023-12-01", (2024, 0)), ("2024-01-15", (2024, 0)),
    ("2024-02-29", (2024, 0)), ("2024-03-01", (2024, 1)), ("2024-05-31", (2024, 1)),
    ("2024-06-01", (2024, 2)), ("2024-08-31", (2024, 2)), ("2024-09-01", (2024, 3)),
    ("2024-12-31", (2025, 0)),
])
def test_season_boundaries_and_december_in_next_winter(day, expected):
    assert season_of(date.fromisoformat(day)) == expected


def test_seasons_are_configurable_and_checked():
    wet_dry = (("wet", (11, 12, 1, 2, 3, 4)), ("dry", (5, 6, 7, 8, 9, 10)))
    assert season_of(date(2023, 11, 2), wet_dry) == (2024, 0)
    assert season_of(date(2024, 4, 30), wet_dry) == (2024, 0)
    assert season_of(date(2024, 5, 1), wet_dry) == (2024, 1)
    with pytest.raises(ValueError, match="cover months 1-12 once"):
        check_seasons((("a", (1, 2, 3)), ("b", (4, 5, 6))))
    with pytest.raises(ValueError, match="consecutive months"):
        check_seasons((("a", (1, 3, 5, 7, 9, 11)), ("b", (2, 4, 6, 8, 10, 12))))
    result = form_groups(records({("A", "2023-12-05"): 3, ("A", "2024-04-01"): 3}),
                         min_size=3, seasons=wet_dry)
    assert groups_of(result) == {"A:2024:wet": 6}


def test_groups_are_herd_year_season_of_the_record_date():
    result = form_groups(records({("A", "2024-03-10"): 5, ("A", "2024-05-31"): 1,
                                  ("A", "2024-07-01"): 5, ("B", "2024-03-10"): 6,
                                  ("A", "2023-12-20"): 5, ("A", "2025-03-10"): 5}), min_size=5)
    assert groups_of(result) == {"A:2024:spring": 6, "A:2024:summer": 5, "B:2024:spring": 6,
                                 "A:2024:winter": 5, "A:2025:spring": 5}
    counts = result.report["milk_production"]
    assert counts == {"records": 27, "groups": 5, "kept": 27, "merged_season": 0,
                      "merged_herd_year": 0, "cg.no_date": 0, "cg.small_herd_year": 0,
                      "cg.one_sire_family": 0}
    assert result.excluded.empty


def test_small_season_merges_into_the_smaller_neighbour_of_the_same_herd_year():
    # winter 2 (only neighbour spring 4): winter+spring = 6; summer and autumn stand alone
    result = form_groups(records({("A", "2024-01-10"): 2, ("A", "2024-04-10"): 4,
                                  ("A", "2024-07-10"): 6, ("A", "2024-10-10"): 7}), min_size=5)
    assert groups_of(result) == {"A:2024:winter+spring": 6, "A:2024:summer": 6,
                                 "A:2024:autumn": 7}
    assert result.report["milk_production"]["merged_season"] == 6
    # summer 3 between spring 8 and autumn 5: the smaller neighbour (autumn)
    result = form_groups(records({("A", "2024-04-10"): 8, ("A", "2024-07-10"): 3,
                                  ("A", "2024-10-10"): 5}), min_size=5)
    assert groups_of(result) == {"A:2024:spring": 8, "A:2024:summer+autumn": 8}
    # a season never merges across herds or years
    result = form_groups(records({("A", "2024-04-10"): 2, ("A", "2025-04-10"): 5,
                                  ("B", "2024-04-10"): 5}), min_size=5)
    assert groups_of(result) == {"A:2025:spring": 5, "B:2024:spring": 5}


def test_herd_year_merge_then_exclusion_each_counted_by_rule():
    result = form_groups(records({("A", "2024-04-10"): 3, ("A", "2024-10-10"): 3,
                                  ("B", "2024-04-10"): 2, ("B", "2024-10-10"): 2,
                                  ("C", "2024-04-10"): 1, ("C", "2024-07-10"): 6}), min_size=5)
    assert groups_of(result) == {"A:2024": 6, "C:2024": 7}
    counts = result.report["milk_production"]
    assert counts["merged_herd_year"] == 13 and counts["cg.small_herd_year"] == 4
    assert counts["kept"] + counts["cg.small_herd_year"] == counts["records"] == 17
    assert set(result.excluded["rule"]) == {"cg.small_herd_year"}
    assert sorted(result.excluded["animal"].str[:1]) == ["B"] * 4
    assert describe(result.report) == [
        "milk_production: 2 contemporary groups, 13 of 17 records kept, 13 in merged "
        "herd-years, 4 excluded (cg.small_herd_year)"]


def test_one_sire_family_and_no_date_are_excluded_and_reported():
    spec = {("A", "2024-04-10"): 5, ("B", "2024-04-10"): 5, ("C", "2024-04-10"): 5}
    long = records(spec, sire=lambda r: np.where(r["herd"] == "A", "S1",
                                                 np.where(r["herd"] == "B", "S2", None)))
    long.loc[long.index[5], "sire"] = "S3"  # B: two families
    long = pd.concat([long, pd.DataFrame([{"animal": "x", "trait": "milk_production",
                                           "herd": "A", "date": None, "sire": "S9"}])])
    result = form_groups(long, min_size=5)
    assert groups_of(result) == {"B:2024:spring": 5, "C:2024:spring": 5}  # C: sires unknown
    counts = result.report["milk_production"]
    assert counts["cg.one_sire_family"] == 5 and counts["cg.no_date"] == 1
    assert dict(zip(result.excluded["animal"], result.excluded["rule"], strict=True))["x"] \
        == "cg.no_date"


def test_a_trait_with_too_few_records_in_a_group_is_judged_per_trait():
    """The same animals, the same dates: milk has 6 records in the group, fertility 2."""
    milk = records({("A", "2024-04-10"): 6})
    fert = milk.iloc[:2].assign(trait="fertility")
    result = form_groups(pd.concat([milk, fert]), min_size=5)
    assert result.report["milk_production"]["kept"] == 6
    assert result.report["fertility"]["cg.small_herd_year"] == 2
    wide = pd.DataFrame({"animal": milk["animal"], "herd": "A", "birth_year": "2022",
                         "milk_production": 1.0, "fertility": [2.0, 3.0] + [np.nan] * 4})
    applied = result.apply(wide, ["milk_production", "fertility"])
    assert "herd" not in applied  # the group nests the herd
    assert applied[group_column("milk_production")].eq("A:2024:spring").all()
    assert applied["fertility"].isna().all()  # excluded: blanked, never fitted


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["t", "u"]),
                          st.dates(date(2022, 1, 1), date(2024, 12, 31)),
                          st.sampled_from(["S1", "S2", None])), max_size=80),
       st.integers(2, 8))
def test_every_record_is_kept_once_or_excluded_once_by_a_named_rule(rows, min_size):
    long = pd.DataFrame([{"animal": f"a{i}", "trait": t, "herd": h, "date": d, "sire": s}
                         for i, (h, t, d, s) in enumerate(rows)],
                        columns=["animal", "trait", "herd", "date", "sire"])
    result = form_groups(long, min_size=min_size)
    placed = pd.concat([result.assigned[["animal", "trait"]],
                        result.excluded[["animal", "trait"]]])
    assert len(placed) == len(long) and not placed.duplicated().any()
    sizes = result.assigned.groupby(["trait", "group"]).size()
    assert (sizes >= min_size).all()
    for (trait, label), _ in sizes.items():  # a group stays within one herd and season year
        mine = long.merge(result.assigned[(result.assigned["trait"] == trait)
                                          & (result.assigned["group"] == label)])
        years = {season_of(d)[0] for d in mine["date"]}
        assert mine["herd"].nunique() == 1 and len(years) == 1
        assert label.startswith(f"{mine['herd'].iloc[0]}:{years.pop()}")
    for trait, c in result.report.items():
        assert c["kept"] + sum(c[r] for r in EXCLUSION_RULES) == c["records"]
        assert c["merged_season"] + c["merged_herd_year"] <= c["kept"]


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        form_groups(records({("A", "2024-04-10"): 3}), min_size=1)
    with pytest.raises(ValueError, match="herd is missing for 3 records"):
        form_groups(records({("A", "2024-04-10"): 3}).assign(herd=None))


def test_design_has_one_column_per_group_and_birth_year_and_full_rank():
    long = records({("A", "2024-01-10"): 4, ("A", "2024-04-10"): 4, ("A", "2024-07-10"): 5,
                    ("B", "2024-04-10"): 6})
    groups = form_groups(long, min_size=5)
    wide = pd.DataFrame({"animal": long["animal"], "herd": long["herd"],
                         "birth_year": np.tile(["2021", "2022"], len(long) // 2 + 1)[:len(long)],
                         "milk_production": np.arange(len(long), dtype=float)})
    applied = groups.apply(wide, ["milk_production"])
    index = {a: i for i, a in enumerate(applied["animal"])}
    _, rec = trait_records(index, applied, "milk_production", min_records=1)
    design = class_design(rec, factors=DEFAULT_FACTORS)
    x, names = design.dense(), design.names
    assert names == ["cg=A:2024:summer", "cg=A:2024:winter+spring", "cg=B:2024:spring",
                     "birth_year=2022"]
    assert np.linalg.matrix_rank(x) == x.shape[1] == 4
    # birth year confounded with the groups: dropped, the design stays full rank
    applied["birth_year"] = applied[group_column("milk_production")]
    _, rec = trait_records(index, applied, "milk_production", min_records=1)
    design = class_design(rec, factors=DEFAULT_FACTORS)
    x, names = design.dense(), design.names
    assert np.linalg.matrix_rank(x) == x.shape[1] == 3


def test_hys_groups_keep_accuracy_on_the_simulated_herd(herd):
    """Records dated over the seasons with a herd-year-season environment: GBLUP in HYS groups
    reaches the accuracy of the herd + birth-year model or better, with every record placed
    or counted."""
    rng = np.random.default_rng(31)
    x = herd.dosages
    g = vanraden_grm(GenotypeSet.from_dosages(x)).matrix
    tbv = true_breeding_values(x, n_qtl=300, h2=0.35, rng=rng)
    a = herd.animals
    days = pd.to_datetime(a["birth_year"].astype(int).astype(str) + "-01-01") + pd.to_timedelta(
        730 + rng.integers(0, 365, len(a)), unit="D")
    hys = [f"{h}:{season_of(d.date())}" for h, d in zip(a["herd"], days, strict=True)]
    levels, idx = np.unique(hys, return_inverse=True)
    env = rng.normal(scale=1.0, size=levels.size)[idx]
    y = 100 + env + tbv + rng.normal(scale=np.sqrt(0.65), size=len(a))
    wide = a[["animal", "herd", "birth_year"]].assign(milk_production=y,
                                                      record_date=days.dt.date)
    groups = form_groups(by_trait(wide, ["milk_production"], date_column="record_date"),
                         min_size=5)
    counts = groups.report["milk_production"]
    assert counts["kept"] + counts["cg.small_herd_year"] == len(a) and counts["groups"] > 40
    ids = list(a["animal"])
    (cg,) = evaluate_traits(g, ids, groups.apply(wide.drop(columns="record_date"),
                                                 ["milk_production"]),
                            traits=["milk_production"])
    (old,) = evaluate_traits(g, ids, wide.drop(columns="record_date"),
                             traits=["milk_production"])
    r_cg = np.corrcoef(cg.animals["gebv"], tbv)[0, 1]
    r_old = np.corrcoef(old.animals["gebv"], tbv)[0, 1]
    assert r_cg > 0.5 and r_cg > r_old + 0.02, (r_cg, r_old)
