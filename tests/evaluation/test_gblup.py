import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.design import class_design
from reprotech_core.evaluation.gblup import (
    DEFAULT_FACTORS, TRAITS, evaluate_traits, gebv_table,
)
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.reml import (
    Rotated, fisher_information, profile_loglik, spectral_decomposition,
)
from reprotech_core.evaluation.simulate import phenotypes, true_breeding_values
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.results import index


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)
    n, m = 80, 400
    x = rng.binomial(2, rng.uniform(0.1, 0.9, m), size=(n, m)).astype(np.int8)
    g = 0.95 * vanraden_grm(GenotypeSet.from_dosages(x), dtype=np.float64).matrix + 0.05 * np.eye(n)
    ids = [f"a{i}" for i in range(n)]
    herds = rng.choice(["h1", "h2", "h3"], size=n)
    years = rng.choice([2020, 2021], size=n)
    tbv = true_breeding_values(x, n_qtl=50, h2=0.4, rng=rng)
    y = phenotypes(tbv, herds, h2=0.4, rng=rng)
    rec = pd.DataFrame({"animal": ids, "herd": herds, "birth_year": years, "milk_production": y})
    return g, ids, rec.iloc[:60].sample(frac=1, random_state=1)  # 20 animals unrecorded


def mme(g, ids, rec, trait, su2, se2):
    """Henderson's mixed model equations, solved densely: the reference."""
    x = class_design(rec, factors=DEFAULT_FACTORS).dense()
    z = np.zeros((len(rec), len(ids)))
    z[np.arange(len(rec)), [ids.index(a) for a in rec["animal"]]] = 1
    y = rec[trait].to_numpy()
    lhs = np.block([[x.T @ x, x.T @ z], [z.T @ x, z.T @ z + np.linalg.inv(g) * se2 / su2]])
    sol = np.linalg.solve(lhs, np.r_[x.T @ y, z.T @ y])
    c_uu = np.linalg.inv(lhs)[x.shape[1]:, x.shape[1]:]
    return sol[x.shape[1]:], np.diag(c_uu) * se2


@pytest.mark.parametrize("h2", [None, {"milk_production": 0.3}])
def test_gblup_equals_mixed_model_equations(small, h2):
    g, ids, rec = small
    (res,) = evaluate_traits(g, ids, rec, traits=["milk_production"], h2=h2)
    vc = res.variances
    u, pev = mme(g, ids, rec, "milk_production", vc.sigma_u2, vc.sigma_e2)
    np.testing.assert_allclose(res.animals["gebv"], u, atol=1e-9)
    np.testing.assert_allclose(res.animals["pev"], pev, atol=1e-9)
    np.testing.assert_allclose(res.animals["reliability"],
                               1 - pev / (vc.sigma_u2 * np.diag(g)), atol=1e-9)
    assert res.animals["has_record"].sum() == 60


def test_reml_loglik_and_information_match_dense_formulas(small):
    g, ids, rec = small
    idx = [ids.index(a) for a in rec["animal"]]
    gs = g[np.ix_(idx, idx)]
    x = class_design(rec, factors=DEFAULT_FACTORS).dense()
    y = rec["milk_production"].to_numpy()
    rot = Rotated.from_data(y, x, spectral_decomposition(gs))
    ll, s2 = profile_loglik(0.3, rot)
    su, se = 0.3 * s2, 0.7 * s2
    v = su * gs + se * np.eye(len(y))
    vi = np.linalg.inv(v)
    p = vi - vi @ x @ np.linalg.inv(x.T @ vi @ x) @ x.T @ vi
    n, k = x.shape
    dense = -0.5 * (np.linalg.slogdet(v)[1] + np.linalg.slogdet(x.T @ vi @ x)[1] + y @ p @ y
                    + (n - k) * np.log(2 * np.pi))
    assert ll == pytest.approx(dense, abs=1e-8)
    info = np.array([[0.5 * np.trace(p @ a @ p @ b) for b in (gs, np.eye(n))]
                     for a in (gs, np.eye(n))])
    np.testing.assert_allclose(fisher_information(rot, su, se), info, rtol=1e-8)


def test_reml_recovers_simulated_h2_within_two_se(herd):
    rng = np.random.default_rng(11)
    x = herd.dosages
    g = vanraden_grm(GenotypeSet.from_dosages(x)).matrix
    tbv = true_breeding_values(x, n_qtl=300, h2=0.4, rng=rng)
    rec = herd.animals.assign(fertility=phenotypes(tbv, herd.animals["herd"].to_numpy(),
                                                   h2=0.4, rng=rng))
    (res,) = evaluate_traits(g, list(herd.animals["animal"]), rec, traits=["fertility"])
    vc = res.variances
    assert 0.03 < vc.se_h2 < 0.2
    assert abs(vc.h2 - 0.4) < 2 * vc.se_h2, (vc.h2, vc.se_h2)
    assert np.corrcoef(res.animals["gebv"], tbv)[0, 1] > 0.5


def test_four_traits_and_selection_index(small):
    g, ids, rec = small
    rng = np.random.default_rng(5)
    rec = rec.assign(**{t: rec["milk_production"] + rng.normal(size=len(rec)) * (i + 1)
                        for i, t in enumerate(TRAITS[1:])})
    rec.loc[rec.index[:5], "longevity"] = np.nan  # a trait with fewer records
    results = evaluate_traits(g, ids, rec, h2={"fertility": 0.1})
    assert [r.trait for r in results] == list(TRAITS)
    table = gebv_table(results)
    assert table.shape == (4 * len(ids), 4) and table.notna().all().all()
    ranked = index.ranked(index.gebv_wide(table), {"milk_production": 1.0, "fertility": 2.0},
                          tie_break="animal")
    assert ranked["rank"].tolist() == list(range(1, len(ids) + 1))
    assert ranked["index"].is_monotonic_decreasing
    row = ranked.iloc[0]
    assert row["index"] == pytest.approx(row["milk_production"] + 2 * row["fertility"])
    with pytest.raises(ValueError, match="no GEBVs"):
        index.ranked(index.gebv_wide(table), {"weight_gain": 1.0}, tie_break="animal")


def test_bad_input_is_named(small):
    g, ids, rec = small
    one = ["milk_production"]
    with pytest.raises(ValueError, match="without genotypes"):
        evaluate_traits(g, ids, pd.concat([rec, rec.iloc[:1].assign(animal="zz")]), traits=one)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        evaluate_traits(g, ids, rec, traits=one, h2={"milk_production": 1.2})
    with pytest.raises(ValueError, match="no variance"):
        evaluate_traits(g, ids, rec.assign(milk_production=5.0), traits=one)
    with pytest.raises(ValueError, match="phenotyped animals, need"):
        evaluate_traits(g, ids, rec.iloc[:10], traits=one)
    with pytest.raises(ValueError, match="more than one record"):
        evaluate_traits(g, ids, pd.concat([rec, rec.iloc[:1]]), traits=one)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        evaluate_traits(g - 0.5 * np.eye(len(ids)), ids, rec, traits=one)
    with pytest.raises(ValueError, match="no column for trait"):
        evaluate_traits(g, ids, rec, traits=["fertility"])


def test_float32_grm_with_more_animals_than_snps_is_accepted(herd):
    """Rank-deficient G in float32: eigenvalues just below 0 are rounding, clipped, not errors."""
    x = herd.dosages[:, :150]
    g = vanraden_grm(GenotypeSet.from_dosages(x)).matrix
    assert np.linalg.eigvalsh(g.astype(np.float64))[0] < 0  # rounding made it slightly negative
    rng = np.random.default_rng(0)
    rec = herd.animals.assign(fertility=rng.normal(size=len(x)) + x[:, 0])
    (res,) = evaluate_traits(g, list(herd.animals["animal"]), rec, traits=["fertility"])
    assert np.isfinite(res.animals["gebv"]).all() and 0 <= res.variances.h2 <= 1


@pytest.mark.slow
def test_reml_standard_error_is_calibrated_over_replicates():
    """Over 20 simulated populations (h2 = 0.3), (h2_hat - h2) / SE behaves like N(0, 1).

    A run of 30 replicates with n = 800 gave mean z -0.01, SD 1.00, 67 % within 1 SE.
    """
    from reprotech_core.evaluation.simulate import founder_dosages

    z = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = founder_dosages(500, 1000, rng=rng)
        tbv = true_breeding_values(x, n_qtl=200, h2=0.3, rng=rng)
        herds = rng.choice(["a", "b", "c"], size=500)
        rec = pd.DataFrame({"animal": [f"a{i}" for i in range(500)], "herd": herds,
                            "t": phenotypes(tbv, herds, h2=0.3, rng=rng)})
        g = vanraden_grm(GenotypeSet.from_dosages(x)).matrix
        (res,) = evaluate_traits(g, list(rec["animal"]), rec, traits=["t"])
        z.append((res.variances.h2 - 0.3) / res.variances.se_h2)
    z = np.array(z)
    assert abs(z.mean()) < 0.6 and 0.6 < z.std() < 1.5 and np.mean(np.abs(z) < 2) >= 0.85, z


def test_blended_g_from_pedigree_feeds_gblup(herd):
    from reprotech_core.evaluation.grm import blend_with_pedigree
    from reprotech_core.evaluation.pedigree import (
        numerator_relationship_matrix, order_pedigree, relationship_submatrix,
    )

    ids = list(herd.animals["animal"])
    g = vanraden_grm(GenotypeSet.from_dosages(herd.dosages), dtype=np.float64).matrix
    ped = order_pedigree(herd.pedigree)
    a = relationship_submatrix(ped, numerator_relationship_matrix(ped), ids)
    gw = blend_with_pedigree(g, a, weight=0.05)
    assert np.linalg.eigvalsh(gw)[0] > 0  # the blend is positive definite, G alone is not
    rng = np.random.default_rng(1)
    tbv = true_breeding_values(herd.dosages, n_qtl=200, h2=0.3, rng=rng)
    rec = herd.animals.assign(milk_production=phenotypes(tbv, herd.animals["herd"].to_numpy(),
                                                         h2=0.3, rng=rng))
    (res,) = evaluate_traits(gw, ids, rec, traits=["milk_production"])
    assert np.corrcoef(res.animals["gebv"], tbv)[0, 1] > 0.5
