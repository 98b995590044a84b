"""Single-step GBLUP against dense formulas, GBLUP and pedigree BLUP on small simulated herds."""

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.pedigree import (
    inbreeding_meuwissen_luo, numerator_relationship_matrix, order_pedigree,
)
from reprotech_core.evaluation.single_step import (
    SingleStepError, a22, a_inverse, align_g, h_inverse, single_step_gblup,
)
from reprotech_core.evaluation.simulate import phenotypes, simulate_herd, true_breeding_values
from reprotech_core.genomics.snpmap import GenotypeSet

TRAIT = "milk_production"


@pytest.fixture(scope="module")
def herd():
    rng = np.random.default_rng(11)
    h = simulate_herd(n_founders=30, n_per_generation=40, n_generations=3, n_snps=600,
                      n_sires_per_generation=6, rng=rng)
    tbv = true_breeding_values(h.dosages, n_qtl=60, h2=0.4, rng=rng)
    y = phenotypes(tbv, h.animals["herd"].to_numpy(), h2=0.4, rng=rng)
    rec = h.animals[["animal", "herd", "birth_year"]].assign(**{TRAIT: y})
    rec.loc[h.animals["generation"] == 3, TRAIT] = np.nan  # young animals: no record
    ped = h.pedigree[["animal", "sire", "dam"]]
    return h, ped, rec, tbv


def grm_of(h, ids):
    rows = h.animals.index[h.animals["animal"].isin(ids)]
    order = {a: i for i, a in enumerate(h.animals["animal"])}
    idx = [order[a] for a in ids]
    assert len(rows) == len(idx)
    return vanraden_grm(GenotypeSet.from_dosages(h.dosages[idx]), dtype=np.float64).matrix


def test_a_inverse_and_a22_equal_dense_a(herd):
    _, ped, _, _ = herd
    op = order_pedigree(ped)
    a = numerator_relationship_matrix(op)
    assert np.max(np.abs(a_inverse(op).toarray() - np.linalg.inv(a))) < 1e-8
    idx = np.array([5, 90, 17, 140, 3])
    assert np.max(np.abs(a22(op, idx, block=2) - a[np.ix_(idx, idx)])) < 1e-10


@pytest.mark.parametrize("blend,tau,omega", [(0.05, 1.0, 1.0), (0.2, 1.0, 0.7)])
def test_h_inverse_equals_legarra_dense_h(herd, blend, tau, omega):
    h, ped, _, _ = herd
    rng = np.random.default_rng(1)
    gids = list(rng.choice(h.animals["animal"], size=60, replace=False))
    g = grm_of(h, gids)
    hinv = h_inverse(ped, g, gids, blend=blend, tau=tau, omega=omega)
    op = order_pedigree(ped)
    assert hinv.ids == op.ids
    a = numerator_relationship_matrix(op)
    g2 = hinv.genotyped
    a22_ = a[np.ix_(g2, g2)]
    g_star, al = align_g(g, a22_)
    assert np.isclose(np.mean(np.diag(g_star)), np.mean(np.diag(a22_)))
    assert np.isclose(np.mean(g_star), np.mean(a22_))
    g_w = (1 - blend) * g_star + blend * a22_
    # H^-1 with tau/omega is the inverse of H built from G_tau_omega (Legarra 2009 dense H)
    g_eff = np.linalg.inv(tau * np.linalg.inv(g_w) - (omega - 1) * np.linalg.inv(a22_))
    one = np.setdiff1d(np.arange(len(op.ids)), g2)
    a11, a12 = a[np.ix_(one, one)], a[np.ix_(one, g2)]
    a22i = np.linalg.inv(a22_)
    h_dense = np.empty_like(a)
    h_dense[np.ix_(one, one)] = a11 + a12 @ a22i @ (g_eff - a22_) @ a22i @ a12.T
    h_dense[np.ix_(one, g2)] = a12 @ a22i @ g_eff
    h_dense[np.ix_(g2, one)] = (a12 @ a22i @ g_eff).T
    h_dense[np.ix_(g2, g2)] = g_eff
    assert np.max(np.abs(hinv.dense() - np.linalg.inv(h_dense))) < 1e-8
    assert np.allclose(hinv.diagonal(), np.diag(hinv.dense()))
    assert al.beta > 0


def test_all_genotyped_equals_gblup_on_blended_aligned_g(herd):
    h, ped, rec, _ = herd
    ids = list(h.animals["animal"])
    g = grm_of(h, ids)
    hinv = h_inverse(ped, g, ids, blend=0.05)
    res = single_step_gblup(hinv, rec, TRAIT, h2=0.4)
    a = numerator_relationship_matrix(order_pedigree(ped))
    order = [hinv.ids.index(x) for x in ids]
    a_g = a[np.ix_(order, order)]
    g_w = 0.95 * (hinv.alignment.beta * g + hinv.alignment.alpha) + 0.05 * a_g
    ref = evaluate_traits(g_w, ids, rec.dropna(subset=[TRAIT]), traits=[TRAIT],
                          h2={TRAIT: 0.4})[0].animals.set_index("animal")
    ss = res.animals.set_index("animal").loc[ids]
    assert np.max(np.abs(ss["gebv"] - ref.loc[ids, "gebv"])) < 1e-6
    assert np.max(np.abs(ss["pev"] - ref.loc[ids, "pev"])) < 1e-6
    assert ss["genotyped"].all()
    assert res.reliability_method == "exact" and res.blend == 0.05


def test_no_genotypes_equals_pedigree_blup(herd):
    h, ped, rec, _ = herd
    hinv = h_inverse(ped, None, [])
    res = single_step_gblup(hinv, rec, TRAIT, h2=0.4)
    op = order_pedigree(ped)
    a = numerator_relationship_matrix(op)
    ref = evaluate_traits(a, op.ids, rec.dropna(subset=[TRAIT]), traits=[TRAIT],
                          h2={TRAIT: 0.4})[0].animals.set_index("animal")
    ss = res.animals.set_index("animal").loc[op.ids]
    assert np.max(np.abs(ss["gebv"] - ref["gebv"].loc[op.ids])) < 1e-6
    assert np.max(np.abs(ss["pev"] - ref["pev"].loc[op.ids])) < 1e-6
    assert not ss["genotyped"].any()
    assert res.n_unknown_parent == 30  # the founders: base population, named in the result
    assert "base population" in res.unknown_parents


def test_non_genotyped_animals_get_values_and_pcg_equals_dense(herd):
    h, ped, rec, tbv = herd
    gids = list(h.animals["animal"].iloc[::2])
    hinv = h_inverse(ped, grm_of(h, gids), gids)
    dense = single_step_gblup(hinv, rec, TRAIT, h2=0.4, method="dense")
    pcg = single_step_gblup(hinv, rec, TRAIT, h2=0.4, method="pcg")
    t = dense.animals
    young_ng = (~t["genotyped"]) & (~t["has_record"])
    assert young_ng.sum() > 5
    assert np.all(t.loc[young_ng, "gebv"] != 0) and np.all(t.loc[young_ng, "reliability"] > 0)
    assert np.all((t["reliability"] >= 0) & (t["reliability"] <= 1))
    assert np.max(np.abs(pcg.animals["gebv"] - t["gebv"])) < 1e-6
    assert pcg.reliability_method == "diagonal approximation" and pcg.iterations > 0
    # the diagonal approximation is an upper bound of the exact reliability
    assert np.all(pcg.animals["reliability"] >= t["reliability"] - 1e-9)
    # a given VarianceComponents (e.g. REML of the GBLUP) gives the same as the h2 split
    again = single_step_gblup(hinv, rec, TRAIT, variances=dense.variances)
    assert np.allclose(again.animals["gebv"], t["gebv"])


def test_identical_genotypes_need_the_blend(herd):
    h, ped, _, _ = herd
    gids = list(h.animals["animal"].iloc[100:120])
    g = grm_of(h, gids)
    g[1, :] = g[0, :]
    g[:, 1] = g[:, 0]  # animal 1 has the same genotypes as animal 0: G singular
    with pytest.raises(SingleStepError) as err:
        h_inverse(ped, g, gids, blend=0.0)
    assert err.value.rule == "g_not_positive_definite"
    assert h_inverse(ped, g, gids, blend=0.05).block.shape == (20, 20)


@pytest.mark.parametrize("change,rule", [
    (lambda p, g: (pd.concat([p, pd.DataFrame({"animal": ["X1", "X2"], "sire": ["X2", "X1"],
                                                "dam": [None, None]})]), g), "pedigree_loop"),
    (lambda p, g: (p, g[:-1] + [g[0]]), "genotyped_duplicated"),
    (lambda p, g: (p, g[:-1] + ["NOPE"]), "genotyped_not_in_pedigree"),
    (lambda p, g: (p.assign(sire=p["sire"].where(p.index != 50, "GHOST")), g),
     "pedigree_invalid"),
])
def test_bad_input_is_a_named_error(herd, change, rule):
    h, ped, _, _ = herd
    gids = list(h.animals["animal"].iloc[100:110])
    g = grm_of(h, gids)
    ped2, gids2 = change(ped, gids)
    with pytest.raises(SingleStepError) as err:
        h_inverse(ped2, g, gids2)
    assert err.value.rule == rule


def test_bad_records_are_named_errors(herd):
    h, ped, rec, _ = herd
    hinv = h_inverse(ped, None, [])
    cases = [
        (rec.assign(animal=rec["animal"].where(rec.index != 0, "STRANGER")),
         "records_not_in_pedigree"),
        (pd.concat([rec, rec.iloc[[0]]]), "records_duplicated"),
        (rec.iloc[:5], "too_few_records"),
    ]
    for bad, rule in cases:
        with pytest.raises(SingleStepError) as err:
            single_step_gblup(hinv, bad, TRAIT, h2=0.4)
        assert err.value.rule == rule
    with pytest.raises(SingleStepError) as err:
        single_step_gblup(hinv, rec, TRAIT)
    assert err.value.rule == "variances_given"


def test_inbreeding_used_is_meuwissen_luo(herd):
    _, ped, _, _ = herd
    hinv = h_inverse(ped, None, [])
    assert np.allclose(hinv.inbreeding, inbreeding_meuwissen_luo(order_pedigree(ped)))
