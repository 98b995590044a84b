import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.inbreeding import (
    RohParameters, genomic_inbreeding, inbreeding_trend, runs_of_homozygosity,
)
from reprotech_core.evaluation.pedigree import inbreeding_meuwissen_luo, order_pedigree
from reprotech_core.genomics.packing import MISSING, pack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap


def snp_map(n_chrom=2, per_chrom=1000, spacing_bp=20_000, *, chrom=None, pos=None):
    chrom = np.repeat(np.arange(1, n_chrom + 1), per_chrom) if chrom is None else chrom
    pos = np.tile(np.arange(1, per_chrom + 1) * spacing_bp, n_chrom) if pos is None else pos
    return SnpMap.from_columns([f"s{j}" for j in range(len(chrom))], chrom=chrom, pos=pos)


def genotypes(x, ids, snps):
    return GenotypeSet.from_dosages(x, samples=ids, snps=snps)


def test_planted_runs_are_found():
    rng = np.random.default_rng(4)
    m = 2000
    x = np.ones((3, m), np.int8)  # all heterozygous: no ROH
    x[1, 100:400] = rng.choice([0, 2], size=300)  # 300 SNPs, 6 Mb on chromosome 1
    x[1, 250] = 1  # one het inside is tolerated by the window rule
    x[1, 300] = MISSING
    x[2, 1100:1180] = 2  # 80 SNPs: shorter than min_snps
    seg, f = runs_of_homozygosity(genotypes(x, ["a", "b", "c"], snp_map()))
    assert seg["animal"].tolist() == ["b"]
    row = seg.iloc[0]
    # a 50-SNP window with one het (the flanking SNP) is still homozygous, and an edge SNP
    # needs 5% (3 of 50) homozygous windows: the run is SNPs 101..398 (0-based) of 100..399
    assert row["chrom"] == "1" and row["start_bp"] == 102 * 20_000 and row["end_bp"] == 399 * 20_000
    genome_kb = 2 * 999 * 20
    assert f["b"] == pytest.approx(row["kb"] / genome_kb) and f["a"] == 0 and f["c"] == 0
    seg2, _ = runs_of_homozygosity(genotypes(x, ["a", "b", "c"], snp_map()),
                                   params=RohParameters(min_snps=50))
    assert sorted(seg2["animal"]) == ["b", "c"]


def test_gap_splits_a_run():
    m = 1000
    x = np.full((1, m), 2, np.int8)
    pos = np.arange(1, 1001) * 20_000
    pos[500:] += 5_000_000  # a 5 Mb hole in the panel
    seg, _ = runs_of_homozygosity(genotypes(x, ["a"], snp_map(n_chrom=1, pos=pos)))
    assert len(seg) == 2 and seg["n_snps"].tolist() == [500, 500]


def test_bad_map_is_named():
    x = np.zeros((1, 8), np.int8)
    with pytest.raises(ValueError, match="sorted"):
        runs_of_homozygosity(genotypes(x, ["a"], snp_map(chrom=[1] * 8,
                                                         pos=[5, 4, 3, 2, 1, 6, 7, 8])))
    with pytest.raises(ValueError, match="together"):
        runs_of_homozygosity(genotypes(x, ["a"], snp_map(chrom=[1, 1, 2, 2, 1, 1, 2, 2],
                                                         pos=range(8))))
    with pytest.raises(ValueError, match="packed has shape"):  # 8 SNPs' calls, a 4-SNP map
        runs_of_homozygosity(GenotypeSet(pack(x), np.array(["a"]), snp_map(1, 4)))
    with pytest.raises(ValueError, match="window_threshold"):
        RohParameters(window_threshold=0)


def test_genomic_f_tracks_pedigree_f_and_trend(herd):
    g = vanraden_grm(GenotypeSet.from_dosages(herd.dosages), dtype=np.float64).matrix
    f_g = genomic_inbreeding(g)
    ped = order_pedigree(herd.pedigree)
    f_ped = pd.Series(inbreeding_meuwissen_luo(ped), index=ped.ids).loc[herd.animals["animal"]]
    assert np.corrcoef(f_g, f_ped)[0, 1] > 0.3
    table = herd.animals.assign(f_g=f_g, f_ped=f_ped.to_numpy())
    trend = inbreeding_trend(table, columns=["f_g", "f_ped"])
    assert {"herd", "birth_year", "f_g_mean", "f_ped_count"} <= set(trend.columns)
    assert trend["f_ped_count"].sum() == len(table)
    by_year = inbreeding_trend(table, columns=["f_ped"], by=["birth_year"])
    assert by_year["f_ped_mean"].iloc[-1] > by_year["f_ped_mean"].iloc[0]
    with pytest.raises(ValueError, match="no columns"):
        inbreeding_trend(table, columns=["f_roh"])
