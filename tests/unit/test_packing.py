import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from reprotech_core.genomics.packing import MISSING, pack, packed_width, unpack


@given(
    hnp.arrays(
        dtype=np.int8,
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=37),
        elements=st.sampled_from([0, 1, 2, MISSING]),
    )
)
def test_pack_unpack_round_trip(dosages):
    packed = pack(dosages)
    assert packed.dtype == np.uint8
    assert packed.shape == (dosages.shape[0], packed_width(dosages.shape[1]))
    np.testing.assert_array_equal(unpack(packed, dosages.shape[1]), dosages)


def test_layout_is_low_bits_first_with_code_equal_to_dosage():
    # SNPs 0..3 = AA, AB, BB, missing -> codes 0,1,2,3 -> 0b11_10_01_00
    assert pack(np.array([0, 1, 2, MISSING], dtype=np.int8)).tolist() == [0b11100100]
    # 60,000 SNPs take 15,000 bytes per animal
    assert packed_width(60_000) == 15_000


def test_invalid_dosage_is_named():
    with pytest.raises(ValueError, match=r"dosage 5 at index \(0, 2\)"):
        pack(np.array([[0, 1, 5]]))


def test_wrong_width_is_refused():
    with pytest.raises(ValueError, match="need 2"):
        unpack(np.zeros((1, 3), dtype=np.uint8), 5)
