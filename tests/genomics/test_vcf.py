import gzip
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.packing import MISSING, pack, unpack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.genomics.vcf import read_vcf, write_vcf


def genotype_set(d):
    n, m = d.shape
    snps = SnpMap.from_columns([f"rs{j}" for j in range(m)], chrom=["1"] * m,
                               pos=np.arange(m) + 1, allele_a=["C"] * m, allele_b=["T"] * m)
    return GenotypeSet(pack(d), np.array([f"cow{i}" for i in range(n)]), snps)


@given(hnp.arrays(np.int8, st.tuples(st.integers(1, 12), st.integers(1, 30)),
                  elements=st.sampled_from([0, 1, 2, MISSING])), st.booleans())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_round_trip(tmp_path, d, gz):
    path = write_vcf(genotype_set(d), tmp_path / "x.vcf")
    if gz:
        with open(path, "rb") as src, gzip.open(tmp_path / "x.vcf.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = tmp_path / "x.vcf.gz"
    back = read_vcf(path)
    np.testing.assert_array_equal(unpack(back.packed, d.shape[1]), d)
    assert back.snps.allele_b.tolist() == ["T"] * d.shape[1]


def test_phased_haploid_and_errors(tmp_path):
    body = ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\n"
            "1\t5\trs1\tA\tG\t.\t.\t.\tGT:GQ\t0|1:30\t1:12\n")
    path = tmp_path / "p.vcf"
    path.write_text(body)
    assert unpack(read_vcf(path).packed, 1).ravel().tolist() == [1, 2]
    path.write_text(body.replace("0|1", "0|2"))
    with pytest.raises(GenotypeFileError, match="multiallelic") as err:
        read_vcf(path)
    assert (err.value.line, err.value.snp) == (3, "rs1")
    path.write_text(body.replace("\tG\t", "\tG,T\t"))
    with pytest.raises(GenotypeFileError, match="biallelic"):
        read_vcf(path)
    path.write_text(body.replace("\t1:12", ""))
    with pytest.raises(GenotypeFileError, match="1 sample columns, header has 2"):
        read_vcf(path)
    path.write_bytes(b"\x1f\x8bjunk")
    with pytest.raises(GenotypeFileError):
        read_vcf(path)


@pytest.mark.plink
def test_plink2_reads_our_vcf(tmp_path, autosomal):
    path = write_vcf(autosomal, tmp_path / "herd.vcf")
    subprocess.run(["plink2", "--vcf", str(path), "--cow", "--freq", "--out", str(tmp_path / "p")],
                   check=True, capture_output=True)
    freq = pd.read_csv(tmp_path / "p.afreq", sep="\t")
    ours = read_vcf(path)
    d = unpack(ours.packed, len(ours.snps)).astype(float)
    d[d < 0] = np.nan
    np.testing.assert_allclose(freq["ALT_FREQS"], np.nanmean(d, axis=0) / 2, atol=1e-6)


@given(st.binary(max_size=200), st.integers(0, 400))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_vcf_raises_only_the_named_error(tmp_path, junk, at):
    path = write_vcf(genotype_set(np.zeros((3, 4), np.int8)), tmp_path / "f.vcf")
    raw = path.read_bytes()
    path.write_bytes(raw[:at] + junk + raw[at + len(junk) // 2:])
    try:
        read_vcf(path)
    except GenotypeFileError:
        pass
