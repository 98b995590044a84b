import subprocess

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from reprotech_core.evaluation.grm import (
    allele_frequencies, blend_with_pedigree, read_gcta_grm, vanraden_grm, write_gcta_grm,
)
from reprotech_core.genomics.packing import MISSING, pack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap

from .conftest import with_missing, write_bed


def explicit_vanraden(x: np.ndarray) -> np.ndarray:
    """The textbook formula in float64: p from called genotypes, missing -> 2p."""
    xf = np.where(x == MISSING, np.nan, x.astype(float))
    p = np.nanmean(xf, axis=0) / 2
    z = np.where(np.isnan(xf), 0.0, xf - 2 * p)
    return z @ z.T / (2 * np.sum(p * (1 - p)))


@pytest.mark.parametrize("block_snps", [4, 64, 4096])
def test_equals_explicit_formula_with_missing(herd, block_snps):
    x = with_missing(herd.dosages[:200, :503], 0.02)
    grm = vanraden_grm(GenotypeSet.from_dosages(x), block_snps=block_snps)
    assert grm.matrix.dtype == np.float32
    np.testing.assert_allclose(grm.matrix, explicit_vanraden(x), rtol=0, atol=2e-5)
    g64 = vanraden_grm(GenotypeSet.from_dosages(x), dtype=np.float64, block_snps=block_snps).matrix
    np.testing.assert_allclose(g64, explicit_vanraden(x), rtol=0, atol=1e-12)


def test_all_missing_snp_is_dropped_and_monomorphic_ignored(herd):
    x = herd.dosages[:50, :100].copy()
    x[:, 3] = MISSING
    x[:, 4] = 2
    grm = vanraden_grm(GenotypeSet.from_dosages(x), dtype=np.float64)
    assert grm.n_snps_used == 99
    keep = np.r_[0:3, 5:100]
    np.testing.assert_allclose(grm.matrix, explicit_vanraden(x[:, keep]), atol=1e-12)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="at least 2 animals"):
        vanraden_grm(GenotypeSet.from_dosages(np.zeros((1, 8), np.int8)))
    with pytest.raises(ValueError, match="no polymorphic SNP"):
        vanraden_grm(GenotypeSet.from_dosages(np.ones((5, 8), np.int8) * 2))
    with pytest.raises(ValueError, match="packed has shape"):  # 8 SNPs' bytes, a 20-SNP map
        vanraden_grm(GenotypeSet(pack(np.zeros((5, 8), np.int8)), np.arange(5).astype(str),
                                 SnpMap.from_columns([f"s{j}" for j in range(20)])))
    with pytest.raises(ValueError, match="multiple of 4"):
        vanraden_grm(GenotypeSet.from_dosages(np.eye(5, 8, dtype=np.int8)), block_snps=6,
                     min_snps=1)
    with pytest.raises(ValueError, match="only 5 polymorphic SNPs"):
        vanraden_grm(GenotypeSet.from_dosages(np.eye(5, 8, dtype=np.int8)))


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.int8, st.tuples(st.integers(2, 12), st.integers(1, 30)),
                  elements=st.sampled_from([0, 1, 2, MISSING])))
def test_symmetric_and_psd(x):
    xf = np.where(x == MISSING, np.nan, x.astype(float))
    called = ~np.isnan(xf)
    p = np.nansum(xf, axis=0) / np.maximum(2 * called.sum(axis=0), 1)
    if not np.nansum(p * (1 - p)) > 0:
        with pytest.raises(ValueError):
            vanraden_grm(GenotypeSet.from_dosages(x), min_snps=1)
        return
    g = vanraden_grm(GenotypeSet.from_dosages(x), dtype=np.float64, min_snps=1).matrix
    np.testing.assert_array_equal(g, g.T)
    eig = np.linalg.eigvalsh(g)
    assert eig.min() >= -1e-9 * max(1.0, eig.max())


def test_blend():
    g, a = np.eye(3) * 2, np.eye(3)
    np.testing.assert_allclose(blend_with_pedigree(g, a, weight=0.25), np.eye(3) * 1.75)
    with pytest.raises(ValueError, match="weight"):
        blend_with_pedigree(g, a, weight=1.5)
    with pytest.raises(ValueError, match="same shape"):
        blend_with_pedigree(g, np.eye(2), weight=0.1)


def test_gcta_round_trip_layout(tmp_path, herd):
    x = with_missing(herd.dosages[:30, :200], 0.05)
    grm = vanraden_grm(GenotypeSet.from_dosages(x), count_nonmissing=True)
    ids = [(f"F{i}", f"I{i}") for i in range(30)]
    write_gcta_grm(tmp_path / "g", grm.matrix, ids, n_nonmissing=grm.n_nonmissing)
    raw = np.fromfile(tmp_path / "g.grm.bin", dtype="<f4")
    assert raw.size == 30 * 31 // 2
    # row-major lower triangle: (0,0), (1,0), (1,1), (2,0) ...
    assert raw[:4].tolist() == [grm.matrix[0, 0], grm.matrix[1, 0], grm.matrix[1, 1],
                                grm.matrix[2, 0]]
    g, n, read_ids = read_gcta_grm(tmp_path / "g")
    np.testing.assert_array_equal(g, grm.matrix)
    called = (x != MISSING).astype(float)
    np.testing.assert_array_equal(n, called @ called.T)
    assert read_ids == ids


@pytest.mark.plink
def test_equals_plink2_make_rel_cov_meanimpute(tmp_path, herd, plink2):
    x = with_missing(herd.dosages[:300], 0.01)
    ids = [f"id{i}" for i in range(x.shape[0])]
    write_bed(tmp_path / "d", x, ids)
    subprocess.run([plink2, "--cow", "--bfile", str(tmp_path / "d"), "--make-rel", "cov",
                    "meanimpute", "square", "bin", "--threads", "2", "--out", str(tmp_path / "p")],
                   check=True, capture_output=True)
    n = x.shape[0]
    rel = np.fromfile(tmp_path / "p.rel.bin", dtype="<f8").reshape(n, n)
    grm = vanraden_grm(GenotypeSet.from_dosages(x), dtype=np.float64)
    # plink2 'cov' divides Z Z' by the number of variants; VanRaden by 2 sum pq.
    np.testing.assert_allclose(rel * x.shape[1] / grm.scale, grm.matrix, rtol=0, atol=1e-12)
    g32 = vanraden_grm(GenotypeSet.from_dosages(x)).matrix
    np.testing.assert_allclose(rel * x.shape[1] / grm.scale, g32, rtol=0, atol=5e-5)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.int8, st.tuples(st.integers(2, 9), st.integers(1, 41)),
                  elements=st.sampled_from([0, 1, 2, MISSING])),
       st.sampled_from([4, 8, 4096]))
def test_allele_frequencies_count_called_alleles(x, block_snps):
    freqs = allele_frequencies(GenotypeSet.from_dosages(x), block_snps=block_snps)
    called = (x != MISSING).sum(axis=0)
    np.testing.assert_array_equal(freqs.n_called, called)
    alleles = np.where(x == MISSING, 0, x).sum(axis=0)
    expected = np.where(called > 0, alleles / np.maximum(2 * called, 1), np.nan)
    np.testing.assert_allclose(freqs.p, expected, equal_nan=True)
