"""QC straight from a SNP-major .bed equals the packed-row QC (run_qc) and PLINK 2; a bad .bed
is refused with a named rule."""

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reprotech_core.genomics.bed_counts import bed_codes, count_bed
from reprotech_core.genomics.codes import codes_of
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.plink_bed import open_bed, read_plink, write_plink
from reprotech_core.genomics.plink_reports import write_qc_reports
from reprotech_core.genomics.qc import run_qc
from reprotech_core.genomics.qc_plink import qc_plink

from .test_qc_vs_plink2 import with_hwe_departures


def with_duplicate(geno):
    """Animal 5 again under another ID, so the duplicate check has something to find."""
    return replace(geno, packed=np.vstack([geno.packed, geno.packed[[5]]]),
                   samples=np.r_[geno.samples, ["RELABELLED"]], sex=np.r_[geno.sex, 1])


@pytest.fixture(scope="module")
def fileset(herd, tmp_path_factory):
    """The herd (X chromosome, missing calls, wrong sires) plus a duplicate; 301 animals."""
    tmp = tmp_path_factory.mktemp("qcplink")
    return write_plink(with_duplicate(herd.genotypes), tmp / "herd")


def assert_same_qc(ours, theirs):
    for name in ("snps", "samples", "duplicates", "parents"):
        pd.testing.assert_frame_equal(getattr(ours, name).reset_index(drop=True),
                                      getattr(theirs, name).reset_index(drop=True),
                                      check_dtype=False, obj=name)


def test_equals_run_qc_on_the_same_fileset(fileset, herd):
    ours, fam = qc_plink(fileset, pedigree=herd.pedigree)
    reference = run_qc(read_plink(fileset), pedigree=herd.pedigree)
    assert_same_qc(ours, reference)
    assert len(fam) == len(ours.samples)
    assert set(ours.duplicates["sample_2"]) == {"RELABELLED"}
    assert ours.parents["fail"].any() and "inferred_sex" in ours.samples


def test_counts_equal_the_codes(fileset):
    geno = read_plink(fileset)
    n, m = len(geno.samples), len(geno.snps)
    bed = open_bed(fileset.with_suffix(".bed"), n_samples=n, n_snps=m)
    codes = codes_of(geno.packed)[:, :m]
    np.testing.assert_array_equal(bed_codes(bed, n), codes.T)
    auto = np.arange(m) % 3 != 0
    x = np.arange(m) % 7 == 0
    snp, per_sample = count_bed(bed, n, autosomal=auto, x_chrom=x)
    for code, got in ((0, snp.hom_a), (1, snp.het), (2, snp.hom_b), (3, snp.missing)):
        np.testing.assert_array_equal(got, (codes == code).sum(axis=0))
    np.testing.assert_array_equal(per_sample.missing, (codes == 3).sum(axis=1))
    np.testing.assert_array_equal(per_sample.auto_het, (codes[:, auto] == 1).sum(axis=1))
    np.testing.assert_array_equal(per_sample.x_missing, (codes[:, x] == 3).sum(axis=1))


@pytest.mark.parametrize("n_animals", [1, 2, 3, 5, 33])
def test_sizes_that_are_not_multiples_of_four_or_words(herd, tmp_path, n_animals):
    sub = replace(herd.genotypes, packed=herd.genotypes.packed[:n_animals],
                  samples=herd.genotypes.samples[:n_animals], sex=herd.genotypes.sex[:n_animals])
    prefix = write_plink(sub, tmp_path / "s")
    ours, _ = qc_plink(prefix)
    assert_same_qc(ours, run_qc(read_plink(prefix)))


def test_bad_bed_files_are_refused_by_rule(fileset, tmp_path):
    body = fileset.with_suffix(".bed").read_bytes()
    prefix = tmp_path / "bad"
    for ext in (".bim", ".fam"):
        shutil.copy(fileset.with_suffix(ext), prefix.with_suffix(ext))
    bed = prefix.with_suffix(".bed")
    cases = [
        (b"\x00\x00\x01" + body[3:], "bed.magic", "magic"),
        (body[:2] + b"\x00" + body[3:], "bed.mode", "individual-major"),
        (body[:-3], "bed.truncated", "truncated"),
        (body[:-76], "bed.snp_count", "the .bim lists"),  # one SNP row (301 animals: 76 bytes)
    ]
    for content, rule, words in cases:
        bed.write_bytes(content)
        with pytest.raises(GenotypeFileError, match=words) as err:
            qc_plink(prefix)
        assert err.value.rule == rule and err.value.file.endswith("bad.bed")
        assert f"[rule {rule}]" in str(err.value)


def test_a_bim_with_more_snps_than_the_bed_is_named(fileset, tmp_path):
    prefix = tmp_path / "more"
    shutil.copy(fileset.with_suffix(".bed"), prefix.with_suffix(".bed"))
    shutil.copy(fileset.with_suffix(".fam"), prefix.with_suffix(".fam"))
    bim = fileset.with_suffix(".bim").read_text()
    prefix.with_suffix(".bim").write_text(bim + "1\textra\t0\t99999999\tA\tG\n")
    with pytest.raises(GenotypeFileError, match="holds 1203 SNPs .* lists 1204") as err:
        qc_plink(prefix)
    assert err.value.rule == "bed.snp_count"


@pytest.mark.plink
def test_reports_equal_plink2(autosomal, tmp_path):
    if shutil.which("plink2") is None:
        pytest.fail("plink2 is not installed (./run test installs it)")
    prefix = write_plink(with_hwe_departures(autosomal), tmp_path / "herd")
    subprocess.run(["plink2", "--bfile", str(prefix), "--cow", "--freq", "--missing", "--hardy",
                    "--out", str(tmp_path / "plink")], check=True, capture_output=True)
    qc, fam = qc_plink(prefix)
    write_qc_reports(qc, tmp_path / "ours", fid=fam["fid"].to_numpy(dtype=str))
    for ext in ("afreq", "vmiss", "smiss", "hardy"):
        ours = pd.read_csv(tmp_path / f"ours.{ext}", sep="\t", keep_default_na=False)
        theirs = pd.read_csv(tmp_path / f"plink.{ext}", sep="\t", keep_default_na=False)
        assert list(ours.columns) == list(theirs.columns)
        numeric = [c for c in ours.columns if c in ("ALT_FREQS", "F_MISS", "O(HET_A1)",
                                                     "E(HET_A1)", "P")]
        keys = [c for c in ours.columns if c not in numeric]
        pd.testing.assert_frame_equal(ours[keys].astype(str), theirs[keys].astype(str))
        for col in numeric:
            np.testing.assert_allclose(ours[col].astype(float), theirs[col].astype(float),
                                       rtol=1e-5, atol=1e-6)


def test_report_tables_are_written_as_pandas_writes_them(fileset, tmp_path):
    from reprotech_core.genomics.plink_reports import _write

    qc, _ = qc_plink(fileset)
    quoted = pd.DataFrame({"id": ["a\tb", 'c"d'], "x": [0.1, np.nan], "f": np.float32([1.1, 2])})
    for df in (qc.snps, qc.samples, qc.duplicates, quoted):
        _write(df, tmp_path / "t.tsv")
        assert (tmp_path / "t.tsv").read_text() == df.to_csv(sep="\t", index=False)
