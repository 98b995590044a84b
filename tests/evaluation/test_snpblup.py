import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.simulate import phenotypes, true_breeding_values
from reprotech_core.evaluation.snpblup import predict, snp_blup
from reprotech_core.genomics.snpmap import GenotypeSet, select_samples, select_snps

from .conftest import with_missing


@pytest.fixture(scope="module")
def data(herd):
    rng = np.random.default_rng(21)
    x = with_missing(herd.dosages[:400, :800], 0.01)
    ids = list(herd.animals["animal"][:400])
    tbv = true_breeding_values(np.where(x < 0, 1, x), n_qtl=100, h2=0.3, rng=rng)
    rec = herd.animals.iloc[:400].assign(
        longevity=phenotypes(tbv, herd.animals["herd"][:400].to_numpy(), h2=0.3, rng=rng))
    rec.loc[rec.index[-80:], "longevity"] = np.nan  # young animals without records
    return GenotypeSet.from_dosages(x, samples=ids), rec


@pytest.mark.parametrize("cache_bytes", [0, 2**30])
def test_snp_blup_equals_gblup(data, cache_bytes):
    geno, rec = data
    g = vanraden_grm(geno, dtype=np.float64).matrix
    (gb,) = evaluate_traits(g, geno.samples.tolist(), rec, traits=["longevity"])
    eff, table = snp_blup(geno, rec, trait="longevity", variances=gb.variances,
                          dtype=np.float64, tol=1e-12, block_animals=64, cache_bytes=cache_bytes)
    np.testing.assert_allclose(table["gebv"], gb.animals["gebv"], atol=1e-6)
    np.testing.assert_allclose(eff.fixed.to_numpy(), gb.fixed.to_numpy(), atol=1e-6)
    assert eff.iterations < 500
    # float32 default: same answer to float32 precision
    _, t32 = snp_blup(geno, rec, trait="longevity", variances=gb.variances, tol=1e-6)
    np.testing.assert_allclose(t32["gebv"], gb.animals["gebv"], atol=1e-3)


def test_predict_new_animals_from_stored_effects(data):
    geno, rec = data
    eff, table = snp_blup(geno, rec, trait="longevity", h2=0.3, dtype=np.float64, tol=1e-10)
    young = ~table["has_record"].to_numpy()
    np.testing.assert_allclose(predict(select_samples(geno, young), eff, dtype=np.float64),
                               table["gebv"][young], atol=1e-12)
    with pytest.raises(ValueError, match="SNPs"):
        predict(select_snps(geno, np.arange(40)), eff)


def test_bad_input(data):
    geno, rec = data
    with pytest.raises(ValueError, match="exactly one"):
        snp_blup(geno, rec, trait="longevity")
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        snp_blup(geno, rec, trait="longevity", h2=0.0)
    with pytest.raises(ValueError, match="without genotypes"):
        snp_blup(geno, pd.concat([rec, rec.iloc[:1].assign(animal="x")]),
                 trait="longevity", h2=0.3)
    with pytest.raises(ValueError, match="did not converge"):
        snp_blup(geno, rec, trait="longevity", h2=0.3, max_iter=2)
