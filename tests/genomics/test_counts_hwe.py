import math

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from reprotech_core.genomics.counts import count_genotypes
from reprotech_core.genomics.hwe import hwe_exact_p
from reprotech_core.genomics.packing import MISSING, pack

dosage_matrices = hnp.arrays(
    dtype=np.int8,
    shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=70),
    elements=st.sampled_from([0, 1, 2, MISSING]),
)


@given(dosage_matrices, st.integers(1, 40), st.data())
@settings(max_examples=60, deadline=None)
def test_bit_counts_equal_unpacked_counts(d, block_rows, data):
    m = d.shape[1]
    mask = data.draw(hnp.arrays(dtype=bool, shape=m))
    snp, sample = count_genotypes(pack(d), m, sample_snp_mask=mask, block_rows=block_rows)
    for code, got in ((0, snp.hom_a), (1, snp.het), (2, snp.hom_b), (MISSING, snp.missing)):
        np.testing.assert_array_equal(got, (d == code).sum(axis=0))
    np.testing.assert_array_equal(sample.missing, ((d == MISSING) & mask).sum(axis=1))
    np.testing.assert_array_equal(sample.het, ((d == 1) & mask).sum(axis=1))


def wigginton_reference(het: int, hom_a: int, hom_b: int) -> float:
    """Full enumeration of the exact HWE distribution (Wigginton et al. 2005)."""
    n = het + hom_a + hom_b
    rare = min(2 * hom_a + het, 2 * hom_b + het)
    common = 2 * n - rare
    if rare == 0:
        return 1.0

    def logf(h: int) -> float:
        return (h * math.log(2) - math.lgamma(h + 1) - math.lgamma((rare - h) // 2 + 1)
                - math.lgamma((common - h) // 2 + 1))

    values = [logf(h) for h in range(rare % 2, rare + 1, 2)]
    top, obs = max(values), logf(het)
    total = sum(math.exp(v - top) for v in values)
    return sum(math.exp(v - top) for v in values if v <= obs + 1e-7) / total


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400), st.integers(0, 400)),
                min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_hwe_equals_full_enumeration(cases):
    het, hom_a, hom_b = (np.array(c) for c in zip(*cases, strict=True))
    got = hwe_exact_p(het, hom_a, hom_b)
    want = np.array([wigginton_reference(*c) for c in cases])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


def test_hwe_known_values_and_edges():
    # no heterozygotes among 50 AA and 50 BB: a gross departure
    assert hwe_exact_p([0], [50], [50])[0] < 1e-25
    np.testing.assert_allclose(hwe_exact_p([4000], [3000], [3000]), 1.4716353850175749e-89,
                               rtol=1e-9)
    np.testing.assert_array_equal(hwe_exact_p([0, 0], [0, 10], [0, 0]), [1.0, 1.0])
    # beyond float64 (p < 1e-300) PLINK 2 prints 0, and so do we
    assert hwe_exact_p([0], [600], [600])[0] == 0.0
    mid = hwe_exact_p([3], [3], [3], midp=True)[0]
    assert 0 < mid < hwe_exact_p([3], [3], [3])[0]
