"""Forward validation by the LR method (Legarra & Reverter 2018): the formulas on hand-made
vectors, the cohort and verdict rules, and the statistics on a simulated herd."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.simulate import phenotypes, true_breeding_values
from reprotech_core.evaluation.validation import (
    lr_statistics,
    release_blockers,
    spread_of,
    validation_cohort,
)
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.run_validation import ValidationRules, not_possible, validate_run

RULES = ValidationRules(share=0.2, min_animals=20, max_bias_sd=0.5, dispersion_range=(0.7, 1.3))


def test_bias_slope_and_correlation_by_hand():
    whole = np.array([1.0, 2.0, 3.0, 4.0])
    partial = np.array([1.5, 2.0, 3.5, 3.0])
    s = lr_statistics(whole, partial)
    assert s.n == 4
    assert s.bias == pytest.approx(partial.mean() - whole.mean())  # 2.5 - 2.5 = 0
    # b_{w,p} = cov(w, p) / var(p) = (3.0 / 3) / (2.5 / 3)
    assert s.dispersion == pytest.approx(1.2)
    assert s.ratio_of_accuracies == pytest.approx(np.corrcoef(whole, partial)[0, 1])
    assert s.bias_sd is None and s.accuracy_partial is None  # no sigma_u2 given


def test_identical_gebvs_are_unbiased_with_slope_one():
    w = np.array([-1.0, 0.5, 2.0, 0.3, -0.7])
    s = lr_statistics(w, w.copy(), sigma_u2=4.0)
    assert (s.bias, s.bias_sd, s.dispersion, s.ratio_of_accuracies) == pytest.approx(
        (0.0, 0.0, 1.0, 1.0))


def test_a_dispersed_or_shifted_partial_vector_shows_it():
    rng = np.random.default_rng(1)
    w = rng.normal(size=50)
    over = lr_statistics(w, 1.5 * w)  # partial overstates differences: slope < 1
    assert over.dispersion == pytest.approx(1 / 1.5)
    under = lr_statistics(w, 0.5 * w)
    assert under.dispersion == pytest.approx(2.0)
    shifted = lr_statistics(w, w + 0.3, sigma_u2=0.09)
    assert shifted.bias == pytest.approx(0.3) and shifted.bias_sd == pytest.approx(1.0)
    assert shifted.dispersion == pytest.approx(1.0)


def test_accuracy_of_partial_gebvs_uses_the_spread_of_g():
    rng = np.random.default_rng(2)
    w, p = rng.normal(size=30), rng.normal(size=30)
    w = w + p
    g = np.eye(30) * 1.1 + 0.02  # 1 + F - 2f = mean(diag) - mean(all)
    spread = np.mean(np.diag(g)) - np.mean(g)
    assert spread_of(g) == pytest.approx(spread)
    s = lr_statistics(w, p, sigma_u2=2.0, spread=spread_of(g))
    assert s.accuracy_partial == pytest.approx(np.sqrt(np.cov(w, p)[0, 1] / (spread * 2.0)))
    assert lr_statistics(w, p, sigma_u2=2.0).accuracy_partial is None  # no spread, no accuracy
    with pytest.raises(ValueError, match="must be square"):
        spread_of(np.ones((3, 2)))


@pytest.mark.parametrize("whole, partial, message", [
    ([1.0, 2.0], [1.0, 2.0], "at least 3"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], "one length"),
    ([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], "finite"),
    ([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], "no variance"),
])
def test_bad_vectors_are_named(whole, partial, message):
    with pytest.raises(ValueError, match=message):
        lr_statistics(np.array(whole), np.array(partial), sigma_u2=1.0)


def test_cohort_takes_the_youngest_whole_years():
    years = pd.Series([2018] * 50 + [2019] * 30 + [2020] * 15 + [0] * 5 + [np.nan] * 3,
                      index=[f"a{i}" for i in range(103)])
    cohort = validation_cohort(years, share=0.2)  # 20 % of 95 known: 2020 (15) + 2019 (30)
    assert set(years[cohort]) == {2019, 2020} and len(cohort) == 45
    assert set(years[validation_cohort(years, share=0.1)]) == {2020}
    assert len(validation_cohort(pd.Series([2020] * 10), share=0.5)) == 0  # nothing to train
    with pytest.raises(ValueError, match="share"):
        validation_cohort(years, share=1.0)


def test_blockers_are_named_rules():
    fine = lr_statistics(np.arange(5.0), np.arange(5.0), sigma_u2=1.0)
    assert release_blockers(fine, max_bias_sd=0.5, dispersion_range=(0.7, 1.3)) == []
    off = lr_statistics(np.arange(5.0), 2 * np.arange(5.0) + 3, sigma_u2=1.0)
    reasons = release_blockers(off, max_bias_sd=0.5, dispersion_range=(0.7, 1.3))
    assert [r.split(":")[0] for r in reasons] == ["validation.bias", "validation.dispersion"]


@pytest.fixture(scope="module")
def evaluated(herd):
    """The simulated herd (youngest generation one birth year) with G and its birth years."""
    g = vanraden_grm(GenotypeSet.from_dosages(herd.dosages), dtype=np.float64).matrix
    ids = list(herd.animals["animal"])
    years = pd.Series(herd.animals["birth_year"].to_numpy(), index=ids)
    return g, ids, years


def _records(herd, ids, seed):
    rng = np.random.default_rng(seed)
    tbv = true_breeding_values(herd.dosages, n_qtl=200, h2=0.35, rng=rng)
    y = phenotypes(tbv, herd.animals["herd"].to_numpy(), h2=0.35, rng=rng)
    return tbv, pd.DataFrame({"animal": ids, "herd": herd.animals["herd"],
                              "birth_year": herd.animals["birth_year"], "milk_production": y})


def test_lr_statistics_on_a_simulated_herd_are_near_their_expectations(herd, evaluated):
    """Random mating, the true h2 and no selection: E[bias] = 0, E[slope] = 1, and the LR
    accuracy estimates the realised cor(partial GEBV, TBV). Tolerances: over 150 validation
    animals one replicate's slope has an SD of about 0.13 (8 replicates: 0.91-1.29), so the
    mean of 4 replicates is within 0.2 of 1 (3 SE); the bias was below 0.05 genetic SD in
    every replicate (the year fixed effect absorbs the cohort mean), allowed 0.15; the LR
    accuracy and the realised one differ by sampling (each SE ~0.06), allowed 0.15."""
    g, ids, years = evaluated
    slopes, accuracies, realised = [], [], []
    for seed in range(4):
        tbv, rec = _records(herd, ids, seed)
        res = evaluate_traits(g, ids, rec, traits=["milk_production"],
                              h2={"milk_production": 0.35})
        v = validate_run(g, ids, rec, years, res, rules=RULES, min_records=20)
        stats = v["traits"]["milk_production"]
        assert v["cohort"] == {"birth_years": [2018], "animals": 150} and stats["n"] == 150
        assert abs(stats["bias_sd"]) < 0.15
        slopes.append(stats["dispersion"])
        accuracies.append(stats["accuracy_partial"])
        young = (years == 2018).to_numpy()
        partial_rec = rec.assign(milk_production=rec["milk_production"].where(~young))
        (part,) = evaluate_traits(g, ids, partial_rec, traits=["milk_production"],
                                  h2={"milk_production": 0.35})
        realised.append(np.corrcoef(part.animals["gebv"][young], tbv[young])[0, 1])
    assert abs(np.mean(slopes) - 1.0) < 0.2
    assert abs(np.mean(accuracies) - np.mean(realised)) < 0.15
    assert v["release"] == {"automatic": True, "reasons": []}
    assert {r["birth_year"] for r in v["trend"]} == {2015, 2016, 2017, 2018}
    assert sum(r["n"] for r in v["trend"]) == len(ids)


def test_too_few_validation_animals_records_not_possible(herd, evaluated):
    g, ids, years = evaluated
    _, rec = _records(herd, ids, 9)
    rec.loc[(years == 2018).to_numpy()[:len(rec)] & (np.arange(len(rec)) % 10 != 0),
            "milk_production"] = np.nan  # 15 of the 150 youngest keep a record
    res = evaluate_traits(g, ids, rec, traits=["milk_production"],
                          h2={"milk_production": 0.35})
    v = validate_run(g, ids, rec, years, res, rules=RULES, min_records=20)
    assert v["traits"]["milk_production"] == {"n": 15, "not_possible": not_possible(15)}
    assert not_possible(15) == "validation not possible: 15 animals"
    assert v["release"]["automatic"] is False
    assert v["release"]["reasons"] == [
        "milk_production: validation.not_possible: validation not possible: 15 animals"]
    assert v["trend"]  # the trend is there even when the validation is not


def test_a_trait_the_partial_run_refuses_is_named_not_dropped(herd, evaluated):
    """Whatever the partial evaluation refuses (here a fixed effect missing on the records it
    trains on) cannot stop or silently shrink the run: the trait records why, and the run
    is not released automatically."""
    g, ids, years = evaluated
    _, rec = _records(herd, ids, 11)
    res = evaluate_traits(g, ids, rec, traits=["milk_production"],
                          h2={"milk_production": 0.35})
    broken = rec.assign(herd=rec["herd"].where((years == 2018).to_numpy()))
    v = validate_run(g, ids, broken, years, res, rules=RULES, min_records=20)
    stats = v["traits"]["milk_production"]
    assert stats["not_possible"].startswith("validation not possible: 150 animals; ")
    assert "fixed effect 'herd' is missing" in stats["not_possible"]
    assert v["release"]["automatic"] is False
