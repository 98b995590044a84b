"""Reliabilities through a core of animals (large-herd path) against exact GBLUP."""

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.core_reliability import (
    choose_core, core_factor, core_reliabilities, parent_links,
)
from reprotech_core.evaluation.design import class_design
from reprotech_core.evaluation.gblup import DEFAULT_FACTORS, evaluate_traits, trait_records
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.simulate import phenotypes, true_breeding_values
from reprotech_core.genomics.snpmap import GenotypeSet

from .conftest import with_missing

H2 = {"milk_production": 0.3, "fertility": 0.08}


@pytest.fixture(scope="module")
def data(herd):
    """600 animals over 3 generations, 1 % missing calls, young animals unrecorded, the two
    traits recorded on different animals; sire and dam rows from the pedigree."""
    rng = np.random.default_rng(11)
    x = with_missing(herd.dosages, 0.01)
    rec = herd.animals[["animal", "herd", "birth_year"]].copy()
    for trait, h2 in H2.items():
        tbv = true_breeding_values(np.where(x < 0, 1, x), n_qtl=100, h2=h2, rng=rng)
        rec[trait] = phenotypes(tbv, rec["herd"].to_numpy(), h2=h2, rng=rng)
    rec.loc[rec.index[-120:], list(H2)] = np.nan
    rec.loc[rec.index[:60], "fertility"] = np.nan
    geno = GenotypeSet.from_dosages(x, samples=list(rec["animal"]))
    row = {a: i for i, a in enumerate(rec["animal"])}
    ped = herd.pedigree.set_index("animal").loc[rec["animal"]]
    parents = np.array([[row.get(s, -1) if isinstance(s, str) else -1 for s in ped["sire"]],
                        [row.get(d, -1) if isinstance(d, str) else -1 for d in ped["dam"]]]).T
    grm = vanraden_grm(geno, dtype=np.float64)
    exact = evaluate_traits(grm.matrix, list(rec["animal"]), rec, traits=list(H2), h2=H2)
    return geno, rec, parents, grm, exact


def _approximate(data, core, *, links=False, **kw):
    geno, rec, parents, grm, exact = data
    index = {a: i for i, a in enumerate(rec["animal"])}
    g_diag = np.diag(grm.matrix)
    factor = core_factor(geno.packed, len(geno.snps), np.nan_to_num(grm.p), grm.scale, core,
                         g_diag)
    if links:
        kw["links"] = parent_links(geno.packed, len(geno.snps), np.nan_to_num(grm.p),
                                   grm.scale, factor, parents, np.arange(600))
    out = []
    for e in exact:
        obs, r = trait_records(index, rec, e.trait, min_records=20)
        design = class_design(r, factors=DEFAULT_FACTORS)
        out.append(core_reliabilities(factor, g_diag, obs, design, e.variances, **kw))
    return factor, out


def test_a_core_of_every_animal_gives_the_exact_reliabilities(data):
    *_, exact = data
    factor, rels = _approximate(data, np.arange(600))
    assert factor.rank >= 599  # centring costs G one rank
    assert factor.residual.max() < 1e-4  # G = F F' itself
    for e, rel in zip(exact, rels, strict=True):
        np.testing.assert_allclose(rel, e.animals["reliability"], atol=2e-4)
    # rows are read in blocks: blocks smaller than the herd give the same
    for rel, small in zip(rels, _approximate(data, np.arange(600), block=64)[1], strict=True):
        np.testing.assert_allclose(small, rel, atol=1e-6)


def test_many_contemporary_groups_are_absorbed_exactly(data):
    """Groups of about four records (a real herd's herd-year-seasons) plus birth year: with
    every animal in the core the reliabilities are still the exact ones."""
    geno, rec, _, grm, _ = data
    rng = np.random.default_rng(5)
    rec = rec.assign(cg=rec["herd"] + ":" + rng.integers(0, 25, len(rec)).astype(str))
    factors = ("cg", "birth_year")
    exact = evaluate_traits(grm.matrix, list(rec["animal"]), rec, traits=list(H2), h2=H2,
                            factors=factors)
    g_diag = np.diag(grm.matrix)
    factor = core_factor(geno.packed, len(geno.snps), np.nan_to_num(grm.p), grm.scale,
                         np.arange(600), g_diag)
    index = {a: i for i, a in enumerate(rec["animal"])}
    for e in exact:
        obs, r = trait_records(index, rec, e.trait, min_records=20)
        design = class_design(r, factors=factors)
        assert design.n_groups > 80  # most groups hold a handful of records
        rel = core_reliabilities(factor, g_diag, obs, design, e.variances, block=50)
        np.testing.assert_allclose(rel, e.animals["reliability"], atol=2e-4)


def test_a_small_core_of_parents_ranks_like_the_exact_reliabilities(data):
    _, _, parents, _, exact = data
    by_parents = _approximate(data, choose_core(600, 60, parents=parents))[1]
    at_random = _approximate(data, choose_core(600, 60))[1]
    for e, rel, rnd in zip(exact, by_parents, at_random, strict=True):
        rel_e = e.animals["reliability"].to_numpy()
        assert ((rel >= 0) & (rel <= 1)).all()
        r_parents, r_random = np.corrcoef(rel_e, rel)[0, 1], np.corrcoef(rel_e, rnd)[0, 1]
        assert r_parents > 0.9
        assert r_parents > r_random  # a family's links run through its parents
        # what the core misses is information: never more reliable than exact, on average
        assert rel.mean() <= rel_e.mean() + 1e-3


def test_links_to_parents_outside_the_core_lift_the_young(data):
    """A small core leaves most dams out; an unrecorded calf then reaches its dam's record
    only through the core. With the links (its residual relationship to parents outside the
    core) its reliability ranks and averages closer to the exact one; recorded animals are
    untouched. Measured here: milk's young r 0.58 -> 0.87 (core of 60 parents), 0.15 -> 0.40
    (60 at random, where both parents are often outside)."""
    geno, rec, parents, grm, exact = data
    for core, most in ((choose_core(600, 60, parents=parents), 1), (choose_core(600, 60), 2)):
        without = _approximate(data, core)[1]
        factor, linked = _approximate(data, core, links=True)
        links = parent_links(geno.packed, len(geno.snps), np.nan_to_num(grm.p), grm.scale,
                             factor, parents, np.arange(600))
        assert not np.isin(links.parent, core).any()
        assert np.bincount(links.child).max() >= most  # at random: both parents outside
        for e, a, b in zip(exact, without, linked, strict=True):
            ref = e.animals["reliability"].to_numpy()
            young = ~e.animals["has_record"].to_numpy()
            np.testing.assert_array_equal(a[~young], b[~young])
            r_a, r_b = (np.corrcoef(ref[young], x[young])[0, 1] for x in (a, b))
            assert r_b > r_a + 0.02, (e.trait, r_a, r_b)
            assert abs(b[young].mean() - ref[young].mean()) < abs(a[young].mean()
                                                                  - ref[young].mean())
            assert b[young].mean() <= ref[young].mean() + 1e-3
    # every parent in the core: nothing to link, the exact reliabilities as before
    factor, rels = _approximate(data, np.arange(600), links=True)
    for e, rel in zip(exact, rels, strict=True):
        np.testing.assert_allclose(rel, e.animals["reliability"], atol=2e-4)


def test_choose_core_takes_parents_with_most_offspring_first():
    parents = np.full((10, 2), -1)
    parents[[2, 3, 4, 5], 0] = 7  # animal 7 sired four
    parents[[2, 3], 1] = 1  # animal 1 dam of two
    parents[4, 1] = 0
    assert choose_core(10, 2, parents=parents).tolist() == [1, 7]
    assert set(choose_core(10, 3, parents=parents)) == {0, 1, 7}
    assert choose_core(10, 50).tolist() == list(range(10))  # at most the herd
    # among parents of as many offspring, those of an unrecorded (young) animal first
    parents[6, 1], parents[8, 1] = 9, 0  # 9 and 0 now have one offspring each, as 1 has two
    parents[[2, 3], 1] = -1
    parents[3, 1] = 1  # 1: one offspring (3); 0: two (4, 8); 9: one (6)
    unrecorded = np.zeros(10, dtype=bool)
    unrecorded[6] = True  # 9's offspring is young
    assert choose_core(10, 3, parents=parents, unrecorded=unrecorded).tolist() == [0, 7, 9]
    for seed in range(5):  # without the young, 1 or 9 by chance
        assert set(choose_core(10, 3, parents=parents, seed=seed)) - {0, 7} <= {1, 9}
    assert choose_core(10, 4, seed=1).tolist() == choose_core(10, 4, seed=1).tolist()


def test_choose_core_refuses_bad_input():
    with pytest.raises(ValueError, match="positive"):
        choose_core(10, 0)
    with pytest.raises(ValueError, match="10 x 2"):
        choose_core(10, 3, parents=np.zeros((9, 2), int))
    with pytest.raises(ValueError, match="outside the 10 animals"):
        choose_core(10, 3, parents=np.full((10, 2), 10))
    with pytest.raises(ValueError, match="unrecorded must mark 10 animals"):
        choose_core(10, 3, parents=np.full((10, 2), -1), unrecorded=np.ones(9, bool))


def test_duplicated_and_degenerate_core_animals():
    """Two animals with the same calls, a monomorphic and an all-missing SNP, one animal."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (40, 200)).astype(np.int8)
    x[1] = x[0]
    x[:, 5] = 2
    x[:, 6] = -1
    geno = GenotypeSet.from_dosages(x, samples=[f"a{i}" for i in range(40)])
    grm = vanraden_grm(geno, dtype=np.float64)
    p, g_diag = np.nan_to_num(grm.p), np.diag(grm.matrix)
    factor = core_factor(geno.packed, 200, p, grm.scale, np.arange(40), g_diag)
    assert factor.rank < 40  # the twin (and centring) adds no direction
    np.testing.assert_allclose(factor.f.astype(np.float64) @ factor.f.T.astype(np.float64)
                               + np.diag(factor.residual), grm.matrix, atol=1e-4)
    rec = pd.DataFrame({"animal": geno.samples, "herd": "H0"})
    exact = evaluate_traits(grm.matrix, list(geno.samples),
                            rec.assign(y=rng.normal(size=40)), traits=["y"], h2={"y": 0.4})
    design = class_design(rec, factors=DEFAULT_FACTORS)
    rel = core_reliabilities(factor, g_diag, np.arange(40), design, exact[0].variances)
    np.testing.assert_allclose(rel, exact[0].animals["reliability"], atol=2e-4)
    with pytest.raises(ValueError, match="within the 40 animals"):
        core_factor(geno.packed, 200, p, grm.scale, np.array([40]), g_diag)
    one = core_factor(geno.packed[:1], 200, p, grm.scale, np.array([0]), g_diag[:1])
    assert one.rank == 1 and one.residual[0] == pytest.approx(0.0, abs=1e-5)
