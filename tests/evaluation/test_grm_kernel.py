"""The popcount GRM kernel equals the NumPy/BLAS VanRaden formula (grm.py) on random and
edge-case matrices: missing calls, an all-missing SNP, a monomorphic SNP, one animal, sizes
that are not multiples of 4, 64 or the kernel's tile."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.grm_kernel import TILE, popcount_grm
from reprotech_core.genomics.packing import MISSING, pack
from reprotech_core.genomics.snpmap import GenotypeSet


def reference_numerator(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``Z Z'`` in float64 with missing calls centred to 0 (mean imputation)."""
    z = np.where(x == MISSING, 0.0, x - 2.0 * p)
    return z @ z.T


def random_dosages(rng, n: int, m: int, missing: float) -> np.ndarray:
    x = rng.integers(0, 3, (n, m)).astype(np.int8)
    x[rng.random((n, m)) < missing] = MISSING
    return x


def frequencies(x: np.ndarray) -> np.ndarray:
    called = x != MISSING
    total = np.where(called, x, 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = total / (2.0 * called.sum(axis=0))
    return np.nan_to_num(p, nan=0.0)


@pytest.mark.parametrize(
    ("n", "m", "missing"),
    [(2, 5, 0.3), (7, 63, 0.1), (65, 64, 0.02), (TILE + 3, 1001, 0.05), (2 * TILE + 1, 130, 0.0),
     (150, 4099, 0.01)],
)
def test_kernel_equals_reference_on_random_matrices(n, m, missing):
    rng = np.random.default_rng(n * m)
    x = random_dosages(rng, n, m, missing)
    p = frequencies(x)
    scale = float(2 * np.sum(p * (1 - p)))
    g = popcount_grm(pack(x), m, p, scale, dtype=np.float64)
    np.testing.assert_allclose(g, reference_numerator(x, p) / scale, rtol=0, atol=1e-10)
    assert np.array_equal(g, g.T)


def test_all_missing_and_monomorphic_snps():
    rng = np.random.default_rng(3)
    x = random_dosages(rng, 40, 97, 0.02)
    x[:, 5] = MISSING  # no calls: p = 0, contributes nothing
    x[:, 6] = 2  # monomorphic: centred to 0
    x[:, 7] = 0
    x[::3, 7] = MISSING  # monomorphic with missing calls
    p = frequencies(x)
    scale = float(2 * np.sum(p * (1 - p)))
    g = popcount_grm(pack(x), 97, p, scale, dtype=np.float64)
    np.testing.assert_allclose(g, reference_numerator(x, p) / scale, rtol=0, atol=1e-10)


def test_one_animal_with_given_frequencies():
    """One animal has no population of its own: frequencies come from elsewhere."""
    rng = np.random.default_rng(5)
    x = random_dosages(rng, 1, 77, 0.1)
    p = rng.uniform(0.05, 0.95, 77)
    g = popcount_grm(pack(x), 77, p, 10.0, dtype=np.float64)
    assert g.shape == (1, 1)
    np.testing.assert_allclose(g, reference_numerator(x, p) / 10.0, rtol=0, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 70), m=st.integers(1, 200), missing=st.sampled_from([0.0, 0.01, 0.2]),
       seed=st.integers(0, 2**16))
def test_kernel_equals_reference_property(n, m, missing, seed):
    rng = np.random.default_rng(seed)
    x = random_dosages(rng, n, m, missing)
    p = rng.uniform(0.0, 1.0, m)
    g = popcount_grm(pack(x), m, p, 1.0, dtype=np.float64)
    np.testing.assert_allclose(g, reference_numerator(x, p), rtol=0, atol=1e-8)


@pytest.mark.parametrize("missing", [0.0, 0.005, 0.02])
def test_vanraden_popcount_equals_blas_float32(missing):
    rng = np.random.default_rng(11)
    geno = GenotypeSet.from_dosages(random_dosages(rng, 131, 1203, missing))
    blas = vanraden_grm(geno, kernel="blas", dtype=np.float64).matrix
    pop = vanraden_grm(geno, kernel="popcount")
    assert pop.matrix.dtype == np.float32
    np.testing.assert_allclose(pop.matrix, blas, rtol=0, atol=1e-5)
    np.testing.assert_allclose(vanraden_grm(geno, kernel="popcount", dtype=np.float64).matrix,
                               blas, rtol=0, atol=1e-10)


def test_auto_chooses_by_missingness_and_options(caplog):
    rng = np.random.default_rng(2)
    low = GenotypeSet.from_dosages(random_dosages(rng, 30, 300, 0.005))
    high = GenotypeSet.from_dosages(random_dosages(rng, 30, 300, 0.10))
    with caplog.at_level("INFO", logger="reprotech_core.evaluation.grm"):
        vanraden_grm(low)
        assert any(r.message == "grm.kernel" for r in caplog.records)
        caplog.clear()
        vanraden_grm(high)
        vanraden_grm(low, count_nonmissing=True)
        assert not any(r.message == "grm.kernel" for r in caplog.records)
    with pytest.raises(ValueError, match="kernel must be one of"):
        vanraden_grm(low, kernel="gpu")
    with pytest.raises(ValueError, match="count_nonmissing"):
        vanraden_grm(low, kernel="popcount", count_nonmissing=True)


def test_bad_arguments_are_named():
    packed = pack(np.zeros((3, 10), np.int8))
    with pytest.raises(ValueError, match="packed must be"):
        popcount_grm(packed, 13, np.full(13, 0.5), 1.0)
    with pytest.raises(ValueError, match="finite frequencies"):
        popcount_grm(packed, 10, np.full(10, np.nan), 1.0)
    with pytest.raises(ValueError, match="scale must be positive"):
        popcount_grm(packed, 10, np.full(10, 0.5), 0.0)


def test_concurrent_calls_from_threads_are_safe():
    """A dashboard server may compute two GRMs at once: same results, no abort."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    x = random_dosages(rng, 90, 700, 0.01)
    p = frequencies(x)
    scale = float(2 * np.sum(p * (1 - p)))
    expected = reference_numerator(x, p) / scale
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: popcount_grm(pack(x), 700, p, scale,
                                                       dtype=np.float64), range(8)))
    for g in results:
        np.testing.assert_allclose(g, expected, rtol=0, atol=1e-10)
