import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.accuracy import (
    daetwyler_accuracy, effective_segments, realised_accuracy,
)
from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.pca import genomic_pca
from reprotech_core.evaluation.simulate import founder_dosages, phenotypes, true_breeding_values
from reprotech_core.genomics.snpmap import GenotypeSet


def test_pca_separates_two_populations_and_matches_svd():
    rng = np.random.default_rng(1)
    m = 600
    pa, pb = rng.uniform(0.1, 0.9, m), rng.uniform(0.1, 0.9, m)
    x = np.vstack([rng.binomial(2, pa, (60, m)), rng.binomial(2, pb, (40, m))]).astype(np.int8)
    grm = vanraden_grm(GenotypeSet.from_dosages(x), dtype=np.float64)
    pca = genomic_pca(grm.matrix, n_components=3)
    pc1 = pca.scores[:, 0]
    assert (np.sign(pc1[:60]) != np.sign(pc1[60:]).mean()).all() or \
        abs(pc1[:60].mean() - pc1[60:].mean()) > 5 * pc1[:60].std()
    z = (x - 2 * grm.p) / np.sqrt(grm.scale)
    s = np.linalg.svd(z, compute_uv=False)
    np.testing.assert_allclose(pca.eigenvalues, s[:3] ** 2, rtol=1e-10)
    assert pca.variance_explained[0] > pca.variance_explained[1] > 0
    with pytest.raises(ValueError, match="n_components"):
        genomic_pca(grm.matrix, n_components=100)


def test_daetwyler_formula_and_inputs():
    assert daetwyler_accuracy(1000, 0.5, 500) == pytest.approx(np.sqrt(0.5))
    assert effective_segments(100, 30) == pytest.approx(6000 / np.log(12000))
    for args in [(0, 0.3, 10), (10, 1.0, 10), (10, 0.3, 0)]:
        with pytest.raises(ValueError):
            daetwyler_accuracy(*args)
    with pytest.raises(ValueError, match="no variance"):
        realised_accuracy(np.ones(5), np.arange(5))


def test_gblup_accuracy_of_masked_young_animals_matches_daetwyler():
    """Unlinked loci, every SNP a QTL: Me = number of SNPs (Daetwyler et al. 2008).

    In the regime N h2 < Me of real cattle evaluations the formula is close (realised r is a
    little above it in simulation, ~0.46-0.50 vs 0.45 over seeds); with N h2 > Me it
    under-predicts more (0.80 vs 0.71 for N = 1200, Me = 600), a known property of the
    approximation, so the test uses the first regime.
    """
    rng = np.random.default_rng(2008)
    n_train, n_young, m, h2 = 1000, 400, 2000, 0.5
    x = founder_dosages(n_train + n_young, m, rng=rng)
    tbv = true_breeding_values(x, n_qtl=m, h2=h2, rng=rng)
    ids = [f"a{i}" for i in range(len(x))]
    y = phenotypes(tbv, np.zeros(len(x)), h2=h2, rng=rng)
    rec = pd.DataFrame({"animal": ids[:n_train], "milk_production": y[:n_train]})
    g = vanraden_grm(GenotypeSet.from_dosages(x)).matrix
    (res,) = evaluate_traits(g, ids, rec, traits=["milk_production"], h2={"milk_production": h2})
    observed = realised_accuracy(res.animals["gebv"][n_train:], tbv[n_train:])
    expected = daetwyler_accuracy(n_train, h2, m)  # 0.447
    assert abs(observed - expected) < 0.1, (observed, expected)
    # the model's own reliabilities for the young animals agree with the realised r^2
    mean_rel = res.animals["reliability"][n_train:].mean()
    assert abs(np.sqrt(mean_rel) - observed) < 0.1, (mean_rel, observed)
