"""Which solver a run of a given size takes, and why."""

import pytest

from reprotech_core.evaluation.path import choose_path, exact_peak_gib, snpblup_peak_gib

# the reliabilities' core (setting evaluation_reliability_core) and the fixed-effect levels
CORE = {"core_animals": 2000, "fixed_levels": 30}


def test_small_herd_takes_the_exact_path():
    c = choose_path(2_500, 60_000, 4, memory_gib=8, exact_max_animals=10_000, **CORE)
    assert c.solver == "exact"
    assert "2,500 genotyped animals x 60,000 SNPs: exact GBLUP" in c.reason


def test_above_the_threshold_takes_snp_blup():
    c = choose_path(20_000, 60_000, 4, memory_gib=64, exact_max_animals=10_000, **CORE)
    assert c.solver == "snp-blup"
    assert "more than 10,000 (evaluation_exact_max_animals)" in c.reason


def test_too_big_for_memory_switches_path_and_says_so():
    c = choose_path(20_000, 60_000, 4, memory_gib=8, exact_max_animals=50_000, **CORE)
    assert c.solver == "snp-blup"
    assert c.exact_gib > 8 > c.snpblup_gib
    assert "G (3.0 GiB) and its eigendecomposition need" in c.reason
    assert "more than the budget of 8 GiB (evaluation_memory_gib)" in c.reason
    # a small budget (the setting) switches a small herd too
    small = choose_path(8_000, 60_000, 4, memory_gib=2, exact_max_animals=10_000, **CORE)
    assert small.solver == "snp-blup" and "more than the budget of 2 GiB" in small.reason


def test_memory_estimates_grow_as_they_should():
    assert exact_peak_gib(20_000, 60_000) == pytest.approx(4 * exact_peak_gib(10_000, 60_000),
                                                           rel=0.1)
    c = choose_path(100_000, 60_000, 4, memory_gib=8, exact_max_animals=10_000, **CORE)
    assert c.solver == "snp-blup" and c.snpblup_gib < 8
    # the reliabilities' products with the core (N x c float32) count once they dominate
    assert snpblup_peak_gib(100_000, 60_000, 4, core_animals=20_000,
                            fixed_levels=30) > 8 > c.snpblup_gib
    assert snpblup_peak_gib(500, 60_000, 4, core_animals=20_000, fixed_levels=30) == \
        pytest.approx(snpblup_peak_gib(500, 60_000, 4, core_animals=500, fixed_levels=30))
    # 12,000 herd-year-seasons: a row per group and core animal, 0.45 GiB more
    hys = snpblup_peak_gib(100_000, 60_000, 4, core_animals=2000, fixed_levels=12_000)
    assert hys - c.snpblup_gib == pytest.approx(20 * 11_970 * 2000 / 1024**3, rel=1e-6)


def test_no_path_fits_is_refused():
    with pytest.raises(ValueError, match="even SNP-BLUP needs"):
        choose_path(1_000_000, 60_000, 4, memory_gib=8, exact_max_animals=10_000, **CORE)
    with pytest.raises(ValueError, match="need animals"):
        choose_path(0, 60_000, 4, memory_gib=8, exact_max_animals=10_000, **CORE)
