import gzip
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from reprotech_core.genomics.errors import GenotypeFileError, ManifestError
from reprotech_core.genomics.finalreport import (
    iter_finalreport,
    read_finalreport,
    read_finalreport_files,
)
from reprotech_core.genomics.finalreport_write import write_finalreport
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.packing import MISSING, pack, unpack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap, select_snps

LETTERS = np.array(["A", "C", "G", "T"])


def small_set(d: np.ndarray, seed: int = 0) -> GenotypeSet:
    n, m = d.shape
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, m)
    b = (a + rng.integers(1, 4, m)) % 4
    snps = SnpMap.from_columns([f"ARS-{j}" for j in range(m)], chrom=["1"] * m,
                               pos=np.arange(m) * 100 + 1, allele_a=LETTERS[a],
                               allele_b=LETTERS[b])
    return GenotypeSet(pack(d), np.array([f"CAN{i:05d}" for i in range(n)]), snps)


@pytest.fixture
def report(tmp_path):
    rng = np.random.default_rng(1)
    geno = small_set(rng.integers(-1, 3, size=(6, 30)).astype(np.int8))
    path = write_finalreport(geno, tmp_path / "batch.txt", samples_per_block=4)
    return path, geno, PanelManifest("SimulatedSNP60", geno.snps)


@given(hnp.arrays(np.int8, st.tuples(st.integers(1, 9), st.integers(1, 40)),
                  elements=st.sampled_from([0, 1, 2, MISSING])),
       st.sampled_from(["AB", "Top"]), st.integers(1, 5), st.booleans())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_round_trip_any_coding_chunking_and_gzip(tmp_path, d, coding, chunk, gz):
    geno = small_set(d)
    path = write_finalreport(geno, tmp_path / "r.txt", samples_per_block=3)
    if gz:
        with open(path, "rb") as src, gzip.open(tmp_path / "r.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = tmp_path / "r.gz"
    man = PanelManifest("SimulatedSNP60", geno.snps)
    chunks = list(iter_finalreport(path, man, coding=coding, samples_per_chunk=chunk,
                                   block_size=4096))
    assert all(len(c.samples) <= chunk for c in chunks)
    back = read_finalreport(path, man, coding=coding, block_size=4096)
    np.testing.assert_array_equal(unpack(back.packed, d.shape[1]), d)
    np.testing.assert_array_equal(back.samples, geno.samples)


def test_gc_threshold_makes_calls_missing(report):
    path, geno, man = report
    strict = read_finalreport(path, man, gc_min=0.75)
    d, s = unpack(geno.packed, 30), unpack(strict.packed, 30)
    assert (s == MISSING).sum() > (d == MISSING).sum()
    assert ((s == d) | (s == MISSING)).all()


def test_manifest_superset_places_chip_on_common_map(report):
    path, geno, _ = report
    extra = SnpMap.from_columns(["OTHER-1"], chrom=["2"], pos=[5], allele_a=["A"], allele_b=["G"])
    merged = SnpMap.from_columns(
        np.r_[geno.snps.names, extra.names], chrom=np.r_[geno.snps.chrom, extra.chrom],
        pos=np.r_[geno.snps.pos, extra.pos], allele_a=np.r_[geno.snps.allele_a, ["A"]],
        allele_b=np.r_[geno.snps.allele_b, ["G"]])
    back = read_finalreport(path, PanelManifest("common", merged))
    d = unpack(back.packed, 31)
    assert (d[:, 30] == MISSING).all()
    np.testing.assert_array_equal(d[:, :30], unpack(geno.packed, 30))


def edit(path, old, new, count=1):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


def test_allele_not_a_or_b_names_line_sample_snp(report):
    path, _, man = report
    lines = path.read_text().split("\n")
    parts = lines[13].split("\t")
    parts[4] = "Q"
    lines[13] = "\t".join(parts)
    path.write_text("\n".join(lines))
    with pytest.raises(GenotypeFileError, match="allele 'Q'") as err:
        read_finalreport(path, man)
    assert (err.value.line, err.value.sample, err.value.snp) == (14, parts[1], parts[0])
    assert "batch.txt, line 14, sample 'CAN00000', SNP 'ARS-2'" in str(err.value)


def test_header_lying_about_sample_count(report):
    path, _, man = report
    edit(path, "Num Samples\t6", "Num Samples\t7")
    with pytest.raises(GenotypeFileError, match="Num Samples 7, data has 6"):
        read_finalreport(path, man)


def test_truncated_file(report):
    path, _, man = report
    raw = path.read_bytes()
    path.write_bytes(raw[:-200])  # cut inside a line
    with pytest.raises(GenotypeFileError, match="truncated") as err:
        read_finalreport(path, man)
    assert err.value.line == raw[:-200].count(b"\n") + 1
    path.write_bytes(raw[: raw[:-200].rfind(b"\n") + 1])  # cut at a line end
    with pytest.raises(GenotypeFileError, match="truncated: sample has") as err:
        read_finalreport(path, man)
    assert err.value.sample == "CAN00005"


def test_sample_with_two_genotype_sets(report):
    path, _, man = report
    text = path.read_text()
    edit(path, "CAN00003", "CAN00001", count=text.count("CAN00003"))
    edit(path, "Num Samples\t6", "Num Samples\t5")
    with pytest.raises(GenotypeFileError, match="second genotype set") as err:
        read_finalreport(path, man)
    assert err.value.sample == "CAN00001"


def test_snp_missing_from_manifest_and_wrong_chip(report):
    path, geno, _ = report
    fewer = PanelManifest("chip", select_snps(geno, np.arange(29)).snps)
    with pytest.raises(ManifestError, match="not in the manifest") as err:
        read_finalreport(path, fewer)
    assert err.value.snp == "ARS-29"
    other = SnpMap.from_columns([f"BTB-{j}" for j in range(30)])
    with pytest.raises(ManifestError, match="wrong chip"):
        read_finalreport(path, PanelManifest("BovineHD", other))


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02\xff\xfe junk" * 50,
                                     b"[Header]\nNum SNPs\t3\n", b"SNP Name\tSample ID\n"])
def test_empty_and_junk_files(tmp_path, content):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    man = PanelManifest("x", SnpMap.from_columns(["a"]))
    with pytest.raises(GenotypeFileError):
        read_finalreport(path, man)


@given(st.binary(max_size=400), st.integers(0, 600))
@example(b"\x01\r", 8)  # a carriage return in the header: Arrow and the header reader disagreed
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_bytes_raise_only_the_named_error(tmp_path, junk, at, ):
    rng = np.random.default_rng(2)
    geno = small_set(rng.integers(-1, 3, size=(3, 8)).astype(np.int8))
    path = write_finalreport(geno, tmp_path / "f.txt")
    raw = path.read_bytes()
    path.write_bytes(raw[:at] + junk + raw[at + len(junk) // 2:])
    try:
        read_finalreport(path, PanelManifest("SimulatedSNP60", geno.snps), block_size=1024)
    except GenotypeFileError:
        pass


def test_multi_file_export(tmp_path, report):
    _, geno, man = report
    a = GenotypeSet(geno.packed[:4], geno.samples[:4], geno.snps)
    b = GenotypeSet(geno.packed[4:], geno.samples[4:], geno.snps)
    p1 = write_finalreport(a, tmp_path / "p1.txt", file_index=1, file_count=2, total_samples=6)
    p2 = write_finalreport(b, tmp_path / "p2.txt", file_index=2, file_count=2, total_samples=6)
    both = read_finalreport_files([p1, p2], man)
    np.testing.assert_array_equal(both.packed, geno.packed)
    with pytest.raises(GenotypeFileError, match="not all of 1..N"):
        read_finalreport_files([p2], man)


def test_forward_coding_uses_the_manifest_forward_alleles(report):
    path, geno, man = report
    edit(path, "Allele1 - Top\tAllele2 - Top", "Allele1 - Forward\tAllele2 - Forward")
    with pytest.raises(ManifestError, match="Forward alleles unknown"):
        read_finalreport(path, man, coding="Forward")
    fwd = PanelManifest(man.chip, man.snps, forward_a=man.snps.allele_a,
                        forward_b=man.snps.allele_b)
    back = read_finalreport(path, fwd, coding="Forward")
    np.testing.assert_array_equal(back.packed, geno.packed)
    swapped = PanelManifest(man.chip, man.snps, forward_a=man.snps.allele_b,
                            forward_b=man.snps.allele_a)
    flipped = unpack(read_finalreport(path, swapped, coding="Forward").packed, 30)
    d = unpack(geno.packed, 30)
    np.testing.assert_array_equal(flipped, np.where(d == MISSING, MISSING, 2 - d))


@pytest.mark.parametrize("dialect", ["crlf", "comma"])
def test_windows_line_ends_and_comma_separated_exports(report, dialect):
    path, geno, man = report
    text = path.read_text()
    if dialect == "crlf":
        path.write_bytes(text.replace("\n", "\r\n").encode())
    else:
        path.write_text(text.replace("\t", ","))
    np.testing.assert_array_equal(read_finalreport(path, man).packed, geno.packed)
