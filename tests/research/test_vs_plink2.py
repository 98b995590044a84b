"""GWAS without a GRM and Hudson Fst equal PLINK 2 (`--glm`, `--fst`) on the same fileset."""

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from reprotech_core.genomics.plink_bed import write_plink
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.research.diversity import fst
from reprotech_core.research.gwas import gwas

from .conftest import cohort_of

pytestmark = pytest.mark.plink


@pytest.fixture(scope="module")
def plink_run(herd, tmp_path_factory):
    """PLINK 2 on the error-free calls (PLINK drops a missing call, we mean-impute it)."""
    if shutil.which("plink2") is None:
        pytest.fail("plink2 is not installed (./run test installs it)")
    tmp = tmp_path_factory.mktemp("plink")
    g = herd.genotypes
    write_plink(GenotypeSet(herd.true_genotypes, g.samples, g.snps, g.sex), tmp / "herd")
    pheno = pd.DataFrame({"#FID": g.samples, "IID": g.samples,
                          "milk": herd.phenotypes["milk_production"].to_numpy(),
                          "herd": herd.pedigree["herd"].to_numpy()})
    pheno.to_csv(tmp / "pheno.txt", sep="\t", index=False)
    herds = sorted(pheno["herd"].unique())
    covar = pd.DataFrame({"#FID": g.samples, "IID": g.samples,
                          **{h: (pheno["herd"] == h).astype(int) for h in herds[1:]}})
    covar.to_csv(tmp / "covar.txt", sep="\t", index=False)
    base = ["plink2", "--bfile", str(tmp / "herd"), "--cow", "--pheno", str(tmp / "pheno.txt")]
    subprocess.run([*base, "--pheno-name", "milk", "--glm", "allow-no-covars", "omit-ref", "--out",
                    str(tmp / "plain")], check=True, capture_output=True)
    subprocess.run([*base, "--pheno-name", "milk", "--covar", str(tmp / "covar.txt"),
                    "--glm", "hide-covar", "omit-ref", "--out", str(tmp / "covar")], check=True,
                   capture_output=True)
    subprocess.run([*base, "--fst", "herd", "--out", str(tmp / "fst")], check=True,
                   capture_output=True)
    return tmp


def theirs(tmp, name):
    t = pd.read_csv(tmp / f"{name}.milk.glm.linear", sep="\t", na_values=["NA"])
    return t.set_index("ID")


@pytest.mark.parametrize(("name", "factors"), [("plain", []), ("covar", ["herd"])])
def test_glm_equals_plink2(herd, records, plink_run, name, factors):
    ours = gwas(cohort_of(herd, true=True), records, "milk", factors=factors,
                dtype=np.float64).table.set_index("snp")
    ref = theirs(plink_run, name)
    # PLINK codes males' X calls 0/1 (xchr-model 1); we test the stored dosages (0/2)
    ok = (ref["ERRCODE"].eq(".") & ours["status"].eq("ok").reindex(ref.index)
          & ref["#CHROM"].astype(str).ne("X"))
    assert ok.sum() > 400
    assert (ref.loc[ok, "A1"] == ours.loc[ok[ok].index, "allele"]).all()
    for mine, plink in (("beta", "BETA"), ("se", "SE"), ("t", "T_STAT"), ("p", "P")):
        np.testing.assert_allclose(ours.loc[ok[ok].index, mine], ref.loc[ok, plink],
                                   rtol=2e-5, err_msg=mine)  # PLINK prints 6 digits
    # what PLINK 2 could not test, we report as not tested
    assert set(ref.index[ref["ERRCODE"] != "."]) <= set(ours.index[ours["status"] != "ok"])


def test_fst_equals_plink2(herd, plink_run):
    ours = fst(cohort_of(herd, true=True), by="herd").table
    ref = pd.read_csv(plink_run / "fst.fst.summary", sep="\t")
    merged = ours.merge(ref, left_on=["group_a", "group_b"], right_on=["#POP1", "POP2"])
    assert len(merged) == 6
    np.testing.assert_allclose(merged["fst"], merged["HUDSON_FST"], rtol=1e-5, atol=1e-7)
