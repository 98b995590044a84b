import numpy as np
import pytest

from reprotech_core.genomics.errors import ManifestError
from reprotech_core.genomics.manifest import common_map, place_on_map, read_manifest
from reprotech_core.genomics.packing import MISSING, pack, unpack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap

ILLUMINA = """Illumina, Inc.
[Heading]
Descriptor File Name,BovineSNP50_v3_A1.bpm
Assay Format,Infinium HD Ultra
[Assay]
IlmnID,Name,IlmnStrand,SNP,AddressA_ID,Chr,MapInfo,SourceStrand
x1,ARS-BFGL-1,TOP,[A/G],1,1,100,TOP
x2,ARS-BFGL-2,BOT,[T/C],2,1,50,TOP
x3,BTA-3,TOP,[A/C],3,X,7,BOT
[Controls]
0027630314:0027630314,Staining,Red,DNP (High)
"""


def test_reads_illumina_manifest_with_top_and_forward_alleles(tmp_path):
    path = tmp_path / "BovineSNP50_v3_A1.csv"
    path.write_text(ILLUMINA)
    man = read_manifest(path)
    assert man.chip == "BovineSNP50_v3_A1"
    assert man.snps.names.tolist() == ["ARS-BFGL-1", "ARS-BFGL-2", "BTA-3"]
    assert man.snps.chrom.tolist() == ["1", "1", "X"]
    assert man.alleles("Top")[0].tolist() == ["A", "A", "A"]  # BOT [T/C] is Top [A/G]
    assert man.alleles("Top")[1].tolist() == ["G", "G", "C"]
    assert man.alleles("Forward")[0].tolist() == ["A", "T", "T"]


def test_bad_manifest_rows_are_named(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("Name,SNP,Chr,MapInfo\nrs1,[A/G],1,5\nrs2,A/G,1,9\n")
    with pytest.raises(ManifestError, match="not like") as err:
        read_manifest(path)
    assert (err.value.line, err.value.snp) == (3, "rs2")
    path.write_text("")
    with pytest.raises(ManifestError, match="empty"):
        read_manifest(path)


def snps(names, chrom, pos):
    k = len(names)
    return SnpMap.from_columns(names, chrom=chrom, pos=pos, allele_a=["A"] * k, allele_b=["G"] * k)


def test_batches_from_two_chips_on_one_map():
    chip1 = snps(["a", "b", "c"], ["1", "2", "1"], [10, 5, 20])
    chip2 = snps(["c", "d"], ["1", "X"], [20, 3])
    common = common_map(chip1, chip2)
    assert common.names.tolist() == ["a", "c", "b", "d"]
    d1 = np.array([[0, 1, 2], [2, MISSING, 1]], np.int8)
    g1 = place_on_map(GenotypeSet(pack(d1), np.array(["s1", "s2"]), chip1), common)
    np.testing.assert_array_equal(unpack(g1.packed, 4), [[0, 2, 1, MISSING], [2, 1, MISSING, MISSING]])
    clash = snps(["a"], ["3"], [1])
    with pytest.raises(ManifestError) as err:
        common_map(chip1, clash)
    assert err.value.snp == "a"
