"""The large-herd path (multi-trait SNP-BLUP on packed genotypes) against exact GBLUP."""

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.packed_products import z_times, zt_times
from reprotech_core.evaluation.simulate import phenotypes, true_breeding_values
from reprotech_core.evaluation.snpblup_multi import (
    evaluate_traits_snpblup, genomic_spread, group_sample, partial_gebvs,
)
from reprotech_core.evaluation.validation import spread_of
from reprotech_core.genomics.packing import pack
from reprotech_core.genomics.snpmap import GenotypeSet

from .conftest import with_missing

H2 = {"milk_production": 0.35, "fertility": 0.1}


@pytest.fixture(scope="module")
def data(herd):
    rng = np.random.default_rng(5)
    n = 500
    x = with_missing(herd.dosages[:n, :1200], 0.01)
    rec = herd.animals.iloc[:n][["animal", "herd", "birth_year"]].copy()
    for trait, h2 in H2.items():
        tbv = true_breeding_values(np.where(x < 0, 1, x), n_qtl=100, h2=h2, rng=rng)
        rec[trait] = phenotypes(tbv, rec["herd"].to_numpy(), h2=h2, rng=rng)
    rec.loc[rec.index[-100:], list(H2)] = np.nan  # young animals without records
    rec.loc[rec.index[:40], "fertility"] = np.nan  # traits recorded on different animals
    return GenotypeSet.from_dosages(x, samples=list(rec["animal"])), rec


def test_products_equal_dense_algebra():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (70, 203)).astype(np.int8)
    x[rng.random(x.shape) < 0.05] = -1
    p = rng.random(203)
    z = np.where(x < 0, 0.0, x - 2 * p)
    rows = np.array([3, 0, 69, 12, 12])
    a, r = rng.standard_normal((203, 3)), rng.standard_normal((5, 3))
    packed = pack(x)
    np.testing.assert_allclose(z_times(packed, rows, p, a), z[rows] @ a, atol=1e-12)
    np.testing.assert_allclose(zt_times(packed, rows, p, r), z[rows].T @ r, atol=1e-12)
    np.testing.assert_allclose(z_times(packed, rows, p, a[:, 0], power=2),
                               (z[rows] ** 2) @ a[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match="row index"):
        z_times(packed, np.array([70]), p, a)


def test_equals_exact_gblup_for_the_same_variances(data):
    geno, rec = data
    g = vanraden_grm(geno, dtype=np.float64).matrix
    exact = evaluate_traits(g, geno.samples.tolist(), rec, traits=list(H2))
    large = evaluate_traits_snpblup(geno, rec, traits=list(H2),
                                    variances={r.trait: r.variances for r in exact}, tol=1e-10)
    for e, s in zip(exact, large.results, strict=True):
        assert np.corrcoef(e.animals["gebv"], s.animals["gebv"])[0, 1] > 0.9999
        np.testing.assert_allclose(s.animals["gebv"], e.animals["gebv"], atol=1e-6)
        np.testing.assert_allclose(s.fixed.to_numpy(), e.fixed.to_numpy(), atol=1e-6)
        assert (s.animals["has_record"] == e.animals["has_record"]).all()
        # the reliabilities' core holds all 500 animals (default 2,000): exact reliabilities
        np.testing.assert_allclose(s.animals["reliability"], e.animals["reliability"],
                                   atol=2e-4)
        np.testing.assert_allclose(s.animals["pev"], e.animals["pev"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(large.g_diag, np.diag(g), rtol=1e-10)
    assert set(large.record["iterations"]) == set(H2)
    assert large.record["reliability_core"]["animals"] == 500
    small = evaluate_traits_snpblup(geno, rec, traits=["milk_production"], tol=1e-10,
                                    variances={"milk_production": exact[0].variances},
                                    reliability_core=100)
    rel_s = small.results[0].animals["reliability"]
    assert rel_s.between(0, 1).all()
    assert np.corrcoef(rel_s, exact[0].animals["reliability"])[0, 1] > 0.7  # random core
    assert small.record["reliability_core"] == {"animals": 100, "parents": 0,
                                                "rank": 100, "parent_links": 0}


def test_reml_on_subsample_close_to_full_reml(data):
    geno, rec = data
    g = vanraden_grm(geno, dtype=np.float64).matrix
    exact = evaluate_traits(g, geno.samples.tolist(), rec, traits=["milk_production"])
    whole = evaluate_traits_snpblup(geno, rec, traits=["milk_production"], reml_animals=10_000)
    # the "subsample" holds every recorded animal: the same REML but for G's allele
    # frequencies (of the 400 recorded, not of all 500) -> nearly the same h2
    assert whole.results[0].variances.h2 == pytest.approx(exact[0].variances.h2, abs=1e-3)
    assert whole.record["variances"]["milk_production"].startswith("REML on 400 recorded")
    part = evaluate_traits_snpblup(geno, rec, traits=["milk_production"], reml_animals=250)
    assert part.record["reml_subsample"]["milk_production"]["animals"] == 250
    r = np.corrcoef(part.results[0].animals["gebv"], exact[0].animals["gebv"])[0, 1]
    assert r > 0.95  # other variances, nearly the same ranking


def test_reml_subsample_takes_whole_small_groups_and_shares_large_ones():
    rng = np.random.default_rng(0)
    hys = rng.integers(0, 10_000, 60_000)  # herd-year-seasons of about six records
    pick = group_sample(hys, 5000, rng)
    assert pick.size == 5000 and np.unique(pick).size == 5000
    taken, whole = np.bincount(hys[pick], minlength=10_000), np.bincount(hys)
    cut = (taken > 0) & (taken < whole)
    assert cut.sum() <= 1  # every group whole but perhaps the last
    assert (taken[taken > 0] == 1).sum() < 200  # random rows: ~3,000 records alone
    herds = rng.integers(0, 20, 100_000)  # 20 herds of 5,000: 250 of each
    assert (np.bincount(herds[group_sample(herds, 5000, rng)]) == 250).all()
    assert group_sample(np.zeros(30, np.int64), 100, rng).tolist() == list(range(30))
    again = group_sample(hys, 5000, np.random.default_rng(7))
    assert again.tolist() == group_sample(hys, 5000, np.random.default_rng(7)).tolist()


def test_partial_run_starts_at_the_whole_solution_and_equals_a_cold_solve(data):
    """Forward validation on the large path: records of 60 animals removed, the partial
    GEBVs equal those of a run from scratch with the whole run's variances, in fewer
    iterations; a trait left with too few records says so."""
    geno, rec = data
    whole = evaluate_traits_snpblup(geno, rec, traits=list(H2), h2=H2)
    partial = rec.copy()
    partial.loc[partial.index[300:360], list(H2)] = np.nan
    warm, iterations = partial_gebvs(geno, partial, whole, list(H2), tol=1e-8)
    cold = evaluate_traits_snpblup(geno, partial, traits=list(H2), tol=1e-8,
                                   variances={r.trait: r.variances for r in whole.results})
    for r in cold.results:
        np.testing.assert_allclose(warm[r.trait], r.animals["gebv"], atol=1e-5)
        assert iterations[r.trait] < cold.record["iterations"][r.trait]
    few, _ = partial_gebvs(geno, partial.assign(fertility=np.nan), whole, list(H2))
    assert "0 phenotyped animals" in few["fertility"] and few["milk_production"].size == 500
    # the validation animals' spread from their genotypes, as from their block of G
    rows = np.arange(300, 360)
    g = vanraden_grm(geno, dtype=np.float64)
    assert genomic_spread(geno, whole, rows) == pytest.approx(
        spread_of(g.matrix[np.ix_(rows, rows)]), rel=1e-6)


def test_given_h2_skips_reml_and_bad_input(data):
    geno, rec = data
    run = evaluate_traits_snpblup(geno, rec, traits=["fertility"], h2={"fertility": 0.1})
    assert run.record["reml_subsample"] == {}
    assert run.results[0].variances.h2 == pytest.approx(0.1)
    with pytest.raises(ValueError, match="without genotypes"):
        evaluate_traits_snpblup(geno, pd.concat([rec, rec.iloc[:1].assign(animal="x")]),
                                traits=["fertility"], h2={"fertility": 0.1})
    with pytest.raises(ValueError, match="did not converge"):
        evaluate_traits_snpblup(geno, rec, traits=["fertility"], h2={"fertility": 0.1},
                                max_iter=2)
    with pytest.raises(ValueError, match="need 1000"):
        evaluate_traits_snpblup(geno, rec, traits=["fertility"], min_records=1000)


def test_a_converged_trait_leaves_the_passes(data, monkeypatch):
    """Each PCG pass carries only the traits still iterating: its cost is about its width."""
    from reprotech_core.evaluation import snpblup_multi

    geno, rec = data
    widths: list[int] = []

    def counting(packed, rows, p, a, **kw):
        if kw.get("power", 1) == 1 and rows.size < len(geno.samples):  # a PCG pass
            widths.append(a.shape[1])
        return z_times(packed, rows, p, a, **kw)

    monkeypatch.setattr(snpblup_multi, "z_times", counting)
    run = evaluate_traits_snpblup(geno, rec, traits=list(H2), h2=H2, tol=1e-8)
    its = run.record["iterations"]
    assert its["milk_production"] != its["fertility"]  # else nothing to drop
    assert len(widths) == max(its.values())
    assert sum(widths) == sum(its.values())  # one column per trait per iteration it ran
    assert widths[0] == 2 and widths[-1] == 1
