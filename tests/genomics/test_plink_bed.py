import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.packing import MISSING, pack, unpack
from reprotech_core.genomics.plink_bed import read_plink, write_plink
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap


def genotype_set(d: np.ndarray) -> GenotypeSet:
    n, m = d.shape
    snps = SnpMap.from_columns([f"rs{j}" for j in range(m)], chrom=["1"] * m,
                               pos=np.arange(m) + 1, allele_a=["A"] * m, allele_b=["G"] * m)
    return GenotypeSet(pack(d), np.array([f"cow{i}" for i in range(n)]), snps,
                       sex=np.ones(n, np.int8))


@given(hnp.arrays(np.int8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=23),
                  elements=st.sampled_from([0, 1, 2, MISSING])), st.integers(1, 9))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_round_trip(tmp_path, d, block):
    g = genotype_set(d)
    write_plink(g, tmp_path / "x", block_snps=block)
    back = read_plink(tmp_path / "x", block_samples=block)
    np.testing.assert_array_equal(unpack(back.packed, d.shape[1]), d)
    np.testing.assert_array_equal(back.samples, g.samples)
    np.testing.assert_array_equal(back.snps.allele_b, g.snps.allele_b)
    np.testing.assert_array_equal(back.sex, g.sex)


def test_bed_padding_bits_are_zero(tmp_path):
    # PLINK 2 counts padding genotypes as missing unless they are 00
    write_plink(genotype_set(np.full((5, 2), MISSING, np.int8)), tmp_path / "p")
    body = (tmp_path / "p.bed").read_bytes()[3:]
    assert len(body) == 4 and all(b >> 2 == 0 for b in body[1::2])


def test_truncated_bad_magic_and_empty(tmp_path):
    write_plink(genotype_set(np.zeros((9, 7), np.int8)), tmp_path / "t")
    bed = tmp_path / "t.bed"
    bed.write_bytes(bed.read_bytes()[:-2])
    with pytest.raises(GenotypeFileError, match="truncated") as err:
        read_plink(tmp_path / "t")
    assert err.value.file.endswith("t.bed")
    bed.write_bytes(b"junk" * 10)
    with pytest.raises(GenotypeFileError, match="magic"):
        read_plink(tmp_path / "t")
    (tmp_path / "t.bim").write_text("")
    with pytest.raises(GenotypeFileError, match="empty"):
        read_plink(tmp_path / "t")
    (tmp_path / "t.bim").write_bytes(b"\x00\xff\xfe binary \x01 junk")
    with pytest.raises(GenotypeFileError):
        read_plink(tmp_path / "t")


@given(st.sampled_from(["bim", "fam", "bed"]), st.binary(max_size=120), st.integers(0, 60))
@example(which="bim", junk=b"\x00", at=36)  # a NUL in a position once escaped as ValueError
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_fileset_raises_only_the_named_error(tmp_path, which, junk, at):
    write_plink(genotype_set(np.ones((5, 6), np.int8)), tmp_path / "z")
    path = tmp_path / f"z.{which}"
    raw = path.read_bytes()
    path.write_bytes(raw[:at] + junk + raw[at + len(junk) // 2:])
    try:
        read_plink(tmp_path / "z")
    except GenotypeFileError:
        pass
