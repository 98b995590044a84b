"""Illumina's SNP_Map.txt as the chip map: the same genotypes as the manifest, bad rows named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reprotech_core.genomics.errors import ManifestError
from reprotech_core.genomics.finalreport import read_finalreport
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.illumina_map import map_kind, read_chip_map, read_snp_map
from reprotech_core.genomics.manifest import PanelManifest, read_manifest
from reprotech_core.genomics.packing import pack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap

LETTERS = np.array(["A", "C", "G", "T"])
COMPLEMENT = str.maketrans("ACGT", "TGCA")
HEADER = ("Index\tName\tChromosome\tPosition\tGenTrain Score\tSNP\tILMN Strand\t"
          "Customer Strand\tNormID")


def chip(m: int = 40, seed: int = 3) -> tuple[SnpMap, np.ndarray]:
    """A chip's map (Top alleles) and which SNPs Illumina designed on the BOT strand."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, m)
    b = (a + rng.integers(1, 4, m)) % 4
    snps = SnpMap.from_columns([f"ARS-BFGL-{j}" for j in range(m)],
                               chrom=[str(1 + j % 3) for j in range(m)],
                               pos=np.arange(m) * 1000 + 7, allele_a=LETTERS[a],
                               allele_b=LETTERS[b])
    return snps, rng.random(m) < 0.5


def design(snps: SnpMap, bot: np.ndarray) -> list[str]:
    """The SNP column as Illumina writes it: alleles on the design strand."""
    return [f"[{a.translate(COMPLEMENT)}/{b.translate(COMPLEMENT)}]" if is_bot else f"[{a}/{b}]"
            for a, b, is_bot in zip(snps.allele_a, snps.allele_b, bot, strict=True)]


def write_snp_map(snps: SnpMap, bot: np.ndarray, path, *, shuffle: bool = False) -> None:
    """SNP_Map.txt as GenomeStudio writes it (rows optionally out of Index order)."""
    rows = [f"{i + 1}\t{n}\t{c}\t{p}\t0.8123\t{s}\t{'BOT' if is_bot else 'TOP'}\tTOP\t{i % 7}"
            for i, (n, c, p, s, is_bot) in enumerate(zip(
                snps.names, snps.chrom, snps.pos, design(snps, bot), bot, strict=True))]
    if shuffle:
        rows = rows[::-1]
    path.write_text("\n".join([HEADER, *rows]) + "\n")


def write_illumina_manifest(snps: SnpMap, bot: np.ndarray, path) -> None:
    pd.DataFrame({"IlmnID": snps.names, "Name": snps.names,
                  "IlmnStrand": np.where(bot, "BOT", "TOP"), "SNP": design(snps, bot),
                  "Chr": snps.chrom, "MapInfo": snps.pos}).to_csv(path, index=False)


@pytest.fixture
def files(tmp_path):
    snps, bot = chip()
    write_snp_map(snps, bot, tmp_path / "SNP_Map.txt")
    write_illumina_manifest(snps, bot, tmp_path / "BovineTest_A1.csv")
    return snps, bot, tmp_path


def test_snp_map_gives_the_manifest_map(files):
    snps, bot, folder = files
    from_map = read_snp_map(folder / "SNP_Map.txt", chip="BovineTest_A1")
    from_manifest = read_manifest(folder / "BovineTest_A1.csv")
    for field in ("names", "chrom", "pos", "allele_a", "allele_b"):
        np.testing.assert_array_equal(getattr(from_map.snps, field),
                                      getattr(from_manifest.snps, field))
        np.testing.assert_array_equal(getattr(from_map.snps, field), getattr(snps, field))
    assert from_map.chip == from_manifest.chip == "BovineTest_A1"
    assert bot.any() and (~bot).any()  # both strands exercised


def test_rows_are_placed_by_index_not_file_order(tmp_path):
    snps, bot = chip(12)
    write_snp_map(snps, bot, tmp_path / "SNP_Map.txt", shuffle=True)
    np.testing.assert_array_equal(read_snp_map(tmp_path / "SNP_Map.txt", chip="c").snps.names,
                                  snps.names)


@pytest.mark.parametrize("coding", ["AB", "Top"])
def test_finalreport_on_snp_map_equals_finalreport_on_manifest(files, coding):
    snps, _, folder = files
    rng = np.random.default_rng(5)
    geno = GenotypeSet(pack(rng.integers(-1, 3, size=(7, len(snps))).astype(np.int8)),
                       np.array([f"BC{i:04d}" for i in range(7)]), snps)
    report = write_finalreport(geno, folder / "FinalReport.txt", chip="BovineTest_A1")
    on_map = read_finalreport(report, read_chip_map(folder / "SNP_Map.txt", finalreport=report),
                              coding=coding)
    on_manifest = read_finalreport(report, read_manifest(folder / "BovineTest_A1.csv"),
                                   coding=coding)
    np.testing.assert_array_equal(on_map.packed, on_manifest.packed)
    np.testing.assert_array_equal(on_map.packed, geno.packed)
    np.testing.assert_array_equal(on_map.samples, on_manifest.samples)


def test_kind_is_told_by_header_not_name(files):
    _, _, folder = files
    (folder / "renamed.csv").write_bytes((folder / "SNP_Map.txt").read_bytes())
    assert map_kind(folder / "renamed.csv") == "snp_map"
    assert map_kind(folder / "BovineTest_A1.csv") == "manifest"
    assert isinstance(read_chip_map(folder / "BovineTest_A1.csv"), PanelManifest)
    assert read_chip_map(folder / "renamed.csv", chip="X1").chip == "X1"


def test_snp_map_without_a_chip_name_is_refused(files):
    _, _, folder = files
    with pytest.raises(ManifestError) as err:
        read_chip_map(folder / "SNP_Map.txt")
    assert err.value.rule == "snpmap.chip"


def test_forward_alleles_are_not_offered(files):
    _, _, folder = files
    with pytest.raises(ManifestError, match="SourceStrand"):
        read_snp_map(folder / "SNP_Map.txt", chip="c").alleles("Forward")


def bad_map(tmp_path, line: int, column: str, value: str):
    """The good map with one cell of data line ``line`` (file line) replaced."""
    snps, bot = chip(6)
    write_snp_map(snps, bot, tmp_path / "SNP_Map.txt")
    lines = (tmp_path / "SNP_Map.txt").read_text().splitlines()
    cells = lines[line - 1].split("\t")
    cells[HEADER.split("\t").index(column)] = value
    lines[line - 1] = "\t".join(cells)
    (tmp_path / "SNP_Map.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "SNP_Map.txt"


@pytest.mark.parametrize(("line", "column", "value", "rule"), [
    (3, "SNP", "[A-G]", "snpmap.alleles"),
    (4, "ILMN Strand", "PLUS", "snpmap.strand"),
    (5, "Position", "12x", "snpmap.position"),
    (2, "Index", "one", "snpmap.index"),
    (6, "Index", "1", "snpmap.index"),
    (7, "Name", "ARS-BFGL-0", "snpmap.duplicate"),
    (3, "Name", "", "snpmap.name"),
    (4, "Chromosome", "", "snpmap.chromosome"),
])
def test_bad_rows_are_named_by_line_column_and_rule(tmp_path, line, column, value, rule):
    path = bad_map(tmp_path, line, column, value)
    with pytest.raises(ManifestError) as err:
        read_snp_map(path, chip="c")
    assert (err.value.rule, err.value.line, err.value.column) == (rule, line, column)
    assert f"line {line}" in str(err.value) and str(path) in str(err.value)


def test_missing_allele_columns_say_what_the_map_cannot_give(tmp_path):
    path = tmp_path / "SNP_Map.txt"
    path.write_text("Index\tName\tChromosome\tPosition\tGenTrain Score\n1\ts1\t1\t100\t0.8\n")
    with pytest.raises(ManifestError, match="gives no alleles") as err:
        read_snp_map(path, chip="c")
    assert (err.value.rule, err.value.line, err.value.column) == ("snpmap.columns", 1, "SNP")


def test_ragged_rows_and_empty_files_are_refused(tmp_path):
    snps, bot = chip(4)
    path = tmp_path / "SNP_Map.txt"
    write_snp_map(snps, bot, path)
    path.write_text(path.read_text() + "5\tx\t1\t9\t0.1\t[A/G]\tTOP\tTOP\t1\textra\n")
    with pytest.raises(ManifestError) as err:
        read_snp_map(path, chip="c")
    assert err.value.rule == "snpmap.ragged"
    path.write_text(HEADER + "\n")
    with pytest.raises(ManifestError) as err:
        read_snp_map(path, chip="c")
    assert err.value.rule == "snpmap.empty"


def test_utf16_map_from_windows_tools_is_read(files):
    _, _, folder = files
    text = (folder / "SNP_Map.txt").read_text()
    (folder / "u16.txt").write_bytes(text.encode("utf-16"))
    assert len(read_snp_map(folder / "u16.txt", chip="c").snps) == 40
