"""Frequencies, call rates and HWE p-values equal PLINK 2's on the same fileset."""

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reprotech_core.genomics.codes import codes_of, pack_codes
from reprotech_core.genomics.plink_bed import read_plink, write_plink
from reprotech_core.genomics.plink_reports import write_qc_reports
from reprotech_core.genomics.qc import run_qc
from reprotech_core.genomics.snpmap import GenotypeSet

pytestmark = pytest.mark.plink


def with_hwe_departures(geno: GenotypeSet) -> GenotypeSet:
    """Push 30 SNPs away from HWE (het excess / deficit of varying strength)."""
    codes = codes_of(geno.packed)
    rng = np.random.default_rng(0)
    for j in range(30):
        rows = rng.random(len(geno.samples)) < 0.05 * (1 + j % 10)
        codes[rows, j] = 1 if j % 2 else 2 * (j % 4 == 0)
    return replace(geno, packed=pack_codes(codes[:, : len(geno.snps)]))


@pytest.fixture(scope="module")
def both(autosomal, tmp_path_factory):
    if shutil.which("plink2") is None:
        pytest.fail("plink2 is not installed (./run test installs it)")
    tmp = tmp_path_factory.mktemp("plink")
    write_plink(with_hwe_departures(autosomal), tmp / "herd")
    subprocess.run(
        ["plink2", "--bfile", str(tmp / "herd"), "--cow", "--freq", "--missing", "--hardy",
         "--out", str(tmp / "plink")], check=True, capture_output=True,
    )
    write_qc_reports(run_qc(read_plink(tmp / "herd")), tmp / "ours")
    return tmp


def read(tmp, who, ext):
    return pd.read_csv(tmp / f"{who}.{ext}", sep="\t", keep_default_na=False)


@pytest.mark.parametrize(
    ("ext", "keys", "values"),
    [
        ("afreq", ["#CHROM", "ID", "REF", "ALT", "OBS_CT"], ["ALT_FREQS"]),
        ("vmiss", ["#CHROM", "ID", "MISSING_CT", "OBS_CT"], ["F_MISS"]),
        ("smiss", ["#FID", "IID", "MISSING_CT", "OBS_CT"], ["F_MISS"]),
        ("hardy", ["#CHROM", "ID", "A1", "AX", "HOM_A1_CT", "HET_A1_CT", "TWO_AX_CT"],
         ["O(HET_A1)", "E(HET_A1)"]),
    ],
)
def test_reports_equal_plink2(both, ext, keys, values):
    ours, theirs = read(both, "ours", ext), read(both, "plink", ext)
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(ours[keys].astype(str), theirs[keys].astype(str))
    for col in values:
        np.testing.assert_allclose(ours[col].astype(float), theirs[col].astype(float),
                                   rtol=0, atol=1e-6)


def test_hwe_p_equal_plink2(both):
    ours, theirs = read(both, "ours", "hardy"), read(both, "plink", "hardy")
    p_ours, p_theirs = ours["P"].astype(float), theirs["P"].astype(float)
    assert (p_theirs < 1e-3).any(), "data should contain some HWE departures"
    np.testing.assert_allclose(p_ours, p_theirs, rtol=1e-5, atol=0)
    # printed at the same precision, the values are identical
    assert (ours["P"].astype(str) == theirs["P"].astype(str)).mean() > 0.999
