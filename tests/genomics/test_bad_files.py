"""Genotype files in the wrong encoding or with junk: a GenotypeFileError naming file, line and
column, or a correct read when the encoding is unambiguous (UTF-8 BOM; UTF-16 manifests and
PLINK text). FinalReports and VCFs are read by UTF-8 parsers, so UTF-16 ones are refused naming
the expected encoding. The CSV inputs of `reprotech eval` and `reprotech geno` go through the
platform's table reader: a bad one is refused by line and column, never with a traceback."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from reprotech_core.cli.main import app
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.finalreport import read_finalreport
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.manifest import PanelManifest, read_manifest, write_manifest
from reprotech_core.genomics.plink_bed import read_plink, write_plink
from reprotech_core.genomics.vcf import read_vcf, write_vcf
from reprotech_core.table_files import TableError
from tests.genomics.test_finalreport import small_set

runner = CliRunner()


@pytest.fixture
def geno():
    rng = np.random.default_rng(5)
    return small_set(rng.integers(-1, 3, size=(4, 12)).astype(np.int8))


def replace_on_line(path, number: int, old: bytes, new: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path.write_bytes(b"\n".join(lines))


def line_of(path, needle: bytes, start: int = 1) -> int:
    lines = path.read_bytes().split(b"\n")
    return next(i for i, ln in enumerate(lines, 1) if i >= start and needle in ln)


def test_finalreport_with_a_latin1_sample_id_names_line_and_byte(tmp_path, geno):
    path = write_finalreport(geno, tmp_path / "fr.txt")
    number = line_of(path, b"CAN00002", start=12)
    replace_on_line(path, number, b"CAN00002", b"CAN\xe900002")
    with pytest.raises(GenotypeFileError, match=rf"fr.txt, line {number}: column \d+: byte 0xE9 "
                                                r"is not UTF-8; save the file as UTF-8"):
        read_finalreport(path, PanelManifest("SimulatedSNP60", geno.snps))


def test_finalreport_with_a_bom_reads_and_utf16_is_refused_naming_utf8(tmp_path, geno):
    manifest = PanelManifest("SimulatedSNP60", geno.snps)
    path = write_finalreport(geno, tmp_path / "fr.txt")
    text = path.read_bytes()
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + text)
    read = read_finalreport(tmp_path / "bom.txt", manifest)
    np.testing.assert_array_equal(read.packed, read_finalreport(path, manifest).packed)
    (tmp_path / "u16.txt").write_bytes(text.decode().encode("utf-16"))
    with pytest.raises(GenotypeFileError, match=r"u16.txt, line 1: UTF-16 text; this file must "
                                                r"be UTF-8 \(or ASCII\)"):
        read_finalreport(tmp_path / "u16.txt", manifest)


def test_manifest_in_utf16_reads_like_utf8_and_bad_bytes_are_named(tmp_path, geno):
    plain = write_manifest(PanelManifest("Chip", geno.snps), tmp_path / "m.csv")
    text = plain.read_text()
    (tmp_path / "m16.csv").write_bytes(text.encode("utf-16-le"))  # no BOM: by NUL pattern
    assert list(read_manifest(tmp_path / "m16.csv").snps.names) == list(geno.snps.names)
    replace_on_line(plain, 3, b"ARS-1,", b"ARS-\xe91,")
    with pytest.raises(GenotypeFileError, match=r"m.csv, line 3: column 5: byte 0xE9 is not"):
        read_manifest(plain)
    (tmp_path / "pos.csv").write_text(text.replace(",101\n", ",1o1\n", 1))
    with pytest.raises(GenotypeFileError, match=r"pos.csv, line 3, SNP 'ARS-1': MapInfo '1o1' "
                                                r"is not a position"):
        read_manifest(tmp_path / "pos.csv")
    (tmp_path / "assay.csv").write_text("[Heading]\nDescriptor File Name,x.bpm\n[Assay]\n")
    with pytest.raises(GenotypeFileError, match="the \\[Assay\\] section is empty"):
        read_manifest(tmp_path / "assay.csv")


def test_vcf_bom_reads_utf16_is_refused_and_a_bad_byte_is_named(tmp_path, geno):
    path = write_vcf(geno, tmp_path / "g.vcf")
    text = path.read_bytes()
    (tmp_path / "bom.vcf").write_bytes(b"\xef\xbb\xbf" + text)
    np.testing.assert_array_equal(read_vcf(tmp_path / "bom.vcf").packed, read_vcf(path).packed)
    (tmp_path / "u16.vcf").write_bytes(text.decode().encode("utf-16"))
    with pytest.raises(GenotypeFileError, match="u16.vcf, line 1: UTF-16 text; this file must"):
        read_vcf(tmp_path / "u16.vcf")
    number = line_of(path, b"ARS-3\t")
    replace_on_line(path, number, b"ARS-3\t", b"ARS-\xe93\t")
    with pytest.raises(GenotypeFileError, match=rf"g.vcf, line {number}: column \d+: byte 0xE9"):
        read_vcf(path)
    nul = line_of(path, b"ARS-5\t")
    replace_on_line(path, nul, b"ARS-5\t", b"ARS-\x005\t")
    with pytest.raises(GenotypeFileError, match=r"line \d+: column \d+: (byte 0xE9|NUL)"):
        read_vcf(path)


def test_plink_text_files_name_the_bad_line_and_a_missing_bed(tmp_path, geno):
    prefix = write_plink(geno, tmp_path / "p")
    bim = prefix.with_suffix(".bim")
    bim.write_bytes(bim.read_bytes().decode().encode("utf-16"))  # decoded, not refused
    np.testing.assert_array_equal(read_plink(prefix).packed, geno.packed)
    fam = prefix.with_suffix(".fam")
    replace_on_line(fam, 2, b"CAN00001", b"CAN\x0000001")
    with pytest.raises(GenotypeFileError, match=r"p.fam, line 2: column 4: NUL character"):
        read_plink(prefix)
    write_plink(geno, prefix)
    prefix.with_suffix(".bed").unlink()
    with pytest.raises(GenotypeFileError, match=r"p.bed: cannot read \(No such file"):
        read_plink(prefix)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    result = runner.invoke(app, ["geno", "simulate", str(folder), "--animals", "60", "--snps",
                                 "300", "--seed", "2"])
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize(("command", "option", "content", "expected"), [
    ("gblup", "--phenotypes", "animal,milk_production\nA1,12\u00e9\n".encode("latin-1"),
     "bad.csv, line 2, column 6: byte 0xE9 is not UTF-8"),
    ("gblup", "--phenotypes", b"animal,milk_production\nA1,lots\n",
     "bad.csv, line 2, column milk_production: 'lots' is not a number"),
    ("parentage", "--pedigree", b"animal,sire\nA1,S1\n",
     "bad.csv, line 1: missing column(s) dam"),
    ("inbreeding", "--pedigree", b"animal,sire,dam\nA1,S1,D1,X\n",
     "bad.csv, line 2, column 4: 4 fields, but the header on line 1 names 3 columns"),
    ("inbreeding", "--pedigree", b"animal,sire,dam\nA1,S\x00,D1\n",
     "bad.csv, line 2, column 5: NUL character"),
])
def test_eval_csv_inputs_are_refused_by_line(sim, tmp_path, command, option, content, expected):
    (tmp_path / "bad.csv").write_bytes(content)
    result = runner.invoke(app, ["eval", command, "--bfile", str(sim / "herd"), option,
                                 str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert isinstance(result.exception, TableError), repr(result.exception)
    assert expected in str(result.exception)  # `reprotech` prints it as "error: …", exit 1


def test_geno_qc_with_a_bad_pedigree_is_one_line_with_exit_code_2(sim, tmp_path):
    (tmp_path / "ped.csv").write_bytes("animal,sire,dam\nA1,Sé,D1\n".encode("cp1252"))
    result = runner.invoke(app, ["geno", "qc", str(sim / "herd"), "--out", str(tmp_path / "q"),
                                 "--pedigree", str(tmp_path / "ped.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "ped.csv, line 2, column 5: byte 0xE9 is not UTF-8" in " ".join(result.output.split())


def test_mating_lists_are_decoded_by_the_same_reader(sim, tmp_path):
    (tmp_path / "merit.csv").write_text("animal,merit\nA1,1.5\n")
    (tmp_path / "cows").write_bytes(b"C1\nC\xe92\n")
    (tmp_path / "bulls").write_text("B1\n")
    result = runner.invoke(app, ["eval", "mating", "--bfile", str(sim / "herd"), "--merit",
                                 str(tmp_path / "merit.csv"), "--cows", str(tmp_path / "cows"),
                                 "--bulls", str(tmp_path / "bulls"), "--out",
                                 str(tmp_path / "plan.csv")])
    assert isinstance(result.exception, TableError)
    assert "cows, line 2, column 2: byte 0xE9 is not UTF-8" in str(result.exception)
