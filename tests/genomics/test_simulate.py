import numpy as np
import pandas as pd

from reprotech_core.genomics.codes import codes_of
from reprotech_core.genomics.simulate import TRAITS, simulate_herd
from reprotech_core.genomics.snpmap import COW_X


def test_deterministic_by_seed():
    a = simulate_herd(n_animals=60, n_snps=200, seed=11)
    b = simulate_herd(n_animals=60, n_snps=200, seed=11)
    c = simulate_herd(n_animals=60, n_snps=200, seed=12)
    np.testing.assert_array_equal(a.genotypes.packed, b.genotypes.packed)
    pd.testing.assert_frame_equal(a.pedigree, b.pedigree)
    pd.testing.assert_frame_equal(a.phenotypes, b.phenotypes)
    assert not np.array_equal(a.genotypes.packed, c.genotypes.packed)


def test_pedigree_is_consistent(herd):
    ped = herd.pedigree.set_index("animal")
    kids = ped[ped["dam"].notna()]
    for role, sex in (("true_sire", 1), ("dam", 2)):
        parents = ped.loc[kids[role]]
        assert (parents["sex"].to_numpy() == sex).all()
        age_days = (kids["birth_date"].to_numpy() - parents["birth_date"].to_numpy())
        assert (age_days >= np.timedelta64(600, "D")).all()  # parents at least ~20 months old
        assert (parents["generation"].to_numpy() < kids["generation"].to_numpy()).all()
    assert (kids["herd"].to_numpy() == ped.loc[kids["dam"], "herd"].to_numpy()).all()
    wrong = (kids["sire"] != kids["true_sire"]).mean()
    assert 0 < wrong < 0.1
    for _, calves in kids.groupby("generation"):  # each generation: a few AI sires used widely
        assert calves["true_sire"].value_counts().iloc[:8].sum() > 0.6 * len(calves)


def test_genotypes_follow_biology_and_lab_errors(herd):
    g = herd.genotypes
    true = codes_of(herd.true_genotypes)[:, : len(g.snps)]
    seen = codes_of(g.packed)[:, : len(g.snps)]
    x = g.snps.chrom == COW_X
    males = g.sex == 1
    assert x.sum() > 20
    assert not (true[np.ix_(males, x)] == 1).any()  # bulls are hemizygous on X
    assert (true[np.ix_(~males, x)] == 1).any()
    called = seen != 3
    assert 0.005 < 1 - called.mean() < 0.05  # missing calls
    err = (seen != true) & called
    assert 0 < err.mean() < 0.005  # genotyping errors


def test_breeding_values_and_phenotypes(herd):
    assert list(herd.breeding_values.columns) == list(TRAITS)
    founders = herd.pedigree["generation"].to_numpy() == 0
    for trait, (h2, mean, sd, _) in TRAITS.items():
        bv = herd.breeding_values[trait].to_numpy()
        np.testing.assert_allclose(bv[founders].var(), h2, rtol=1e-9)
        ph = herd.phenotypes[trait].to_numpy()
        assert abs(ph.mean() - mean) < sd  # genetic trend can move the mean a little
        r = np.corrcoef(bv, ph)[0, 1]
        assert r > 0  # phenotypes carry the breeding values
    # selection on milk: the last generation's mean is above the founders'
    last = herd.pedigree["generation"].to_numpy() == herd.pedigree["generation"].max()
    milk = herd.breeding_values["milk_production"].to_numpy()
    assert milk[last].mean() > milk[founders].mean()
