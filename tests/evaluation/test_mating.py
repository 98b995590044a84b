import itertools

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.mating import allocate_matings, progeny_table


@pytest.fixture
def small():
    rng = np.random.default_rng(8)
    n = 9
    a = rng.normal(size=(n, 40))
    g = a @ a.T / 40
    ids = [f"c{i}" for i in range(6)] + ["b0", "b1", "b2"]
    merit = pd.Series(rng.normal(size=n), index=ids)
    return g, ids, merit


def brute_force(pairs, cows, bulls, max_f, cap):
    best, best_plan = -np.inf, None
    table = pairs.set_index(["cow", "bull"])
    for choice in itertools.product(bulls, repeat=len(cows)):
        if max(choice.count(b) for b in bulls) > cap:
            continue
        rows = table.loc[list(zip(cows, choice))]
        if (rows["progeny_inbreeding"] > max_f).any():
            continue
        if rows["progeny_merit"].sum() > best:
            best, best_plan = rows["progeny_merit"].sum(), choice
    return best, best_plan


def test_progeny_merit_and_inbreeding(small):
    g, ids, merit = small
    t = progeny_table(g, ids, merit, cows=["c0"], bulls=["b1"])
    assert t["progeny_merit"].item() == pytest.approx((merit["c0"] + merit["b1"]) / 2)
    assert t["progeny_inbreeding"].item() == pytest.approx(g[0, 7] / 2)


@pytest.mark.parametrize("max_f, cap", [(10.0, 2), (0.05, 2), (0.1, 3)])
def test_allocation_is_optimal(small, max_f, cap):
    g, ids, merit = small
    cows, bulls = ids[:6], ids[6:]
    pairs = progeny_table(g, ids, merit, cows=cows, bulls=bulls)
    best, _ = brute_force(pairs, cows, bulls, max_f, cap)
    if not np.isfinite(best):
        with pytest.raises(ValueError, match="infeasible"):
            allocate_matings(g, ids, merit, cows=cows, bulls=bulls, max_inbreeding=max_f,
                             max_matings_per_bull=cap)
        return
    plan = allocate_matings(g, ids, merit, cows=cows, bulls=bulls, max_inbreeding=max_f,
                            max_matings_per_bull=cap)
    assert sorted(plan["cow"]) == sorted(cows)
    assert plan["bull"].value_counts().max() <= cap
    assert (plan["progeny_inbreeding"] <= max_f).all()
    assert plan["progeny_merit"].sum() == pytest.approx(best)


def test_infeasible_is_explained(small):
    g, ids, merit = small
    with pytest.raises(ValueError, match="slots"):
        allocate_matings(g, ids, merit, cows=ids[:6], bulls=ids[6:], max_inbreeding=1,
                         max_matings_per_bull=1)
    with pytest.raises(ValueError, match="no bull with expected progeny inbreeding"):
        allocate_matings(g, ids, merit, cows=ids[:6], bulls=ids[6:], max_inbreeding=-5,
                         max_matings_per_bull=3)
    with pytest.raises(ValueError, match="no genomic relationships"):
        progeny_table(g, ids, merit, cows=["zz"], bulls=["b0"])
    with pytest.raises(ValueError, match="no merit"):
        progeny_table(g, ids, merit.drop("b0"), cows=["c0"], bulls=["b0"])


def test_infeasible_when_cows_compete_for_one_allowed_bull():
    ids = ["c0", "c1", "b0", "b1"]
    g = np.eye(4)
    g[np.ix_([0, 1], [3])] = g[np.ix_([3], [0, 1])] = 0.5  # both cows related to b1
    merit = pd.Series(0.0, index=ids)
    with pytest.raises(ValueError, match="cannot cover all 2 cows"):
        allocate_matings(g, ids, merit, cows=["c0", "c1"], bulls=["b0", "b1"],
                         max_inbreeding=0.1, max_matings_per_bull=1)
    plan = allocate_matings(g, ids, merit, cows=["c0", "c1"], bulls=["b0", "b1"],
                            max_inbreeding=0.1, max_matings_per_bull=2)
    assert plan["bull"].tolist() == ["b0", "b0"]
