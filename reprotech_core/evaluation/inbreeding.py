"""Genomic inbreeding: from G's diagonal and from runs of homozygosity; trends by herd and year.

``F_G = G_ii - 1`` (VanRaden 2008): inbreeding relative to the base population whose allele
frequencies centred G; it can be negative for animals more heterozygous than that base.

``F_ROH`` (McQuillan et al. 2008) is the share of the autosomal genome covered by runs of
homozygosity, found with the PLINK 1.9 ``--homozyg`` sliding-window scan (Purcell et al.
2007): a window of ``window_snps`` consecutive SNPs is homozygous when it holds at most
``window_het`` heterozygous and ``window_missing`` missing calls; a SNP is in a run when at
least ``window_threshold`` of the windows covering it are homozygous; runs are cut where
consecutive SNPs are more than ``max_gap_kb`` apart and kept when they span at least
``min_kb`` and ``min_snps`` SNPs with at most ``max_kb_per_snp`` kb per SNP (density).
Defaults are PLINK's. F_ROH needs no allele frequencies and is comparable across breeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.genomics.packing import MISSING, unpack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap


def genomic_inbreeding(g: np.ndarray) -> np.ndarray:
    """``F = diag(G) - 1`` for a VanRaden GRM (float64)."""
    g = np.asarray(g)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"G must be square, got {g.shape}")
    return np.diag(g).astype(np.float64) - 1.0


@dataclass(frozen=True)
class RohParameters:
    """PLINK 1.9 ``--homozyg`` parameters (defaults are PLINK's)."""

    window_snps: int = 50
    window_het: int = 1
    window_missing: int = 5
    window_threshold: float = 0.05
    min_snps: int = 100
    min_kb: float = 1000.0
    max_kb_per_snp: float = 50.0
    max_gap_kb: float = 1000.0

    def __post_init__(self) -> None:
        if self.window_snps < 1 or self.min_snps < 1:
            raise ValueError("window_snps and min_snps must be >= 1")
        if not 0.0 < self.window_threshold <= 1.0:
            raise ValueError(f"window_threshold must be in (0, 1], got {self.window_threshold}")
        if min(self.window_het, self.window_missing) < 0 or min(self.min_kb, self.max_gap_kb,
                                                                self.max_kb_per_snp) <= 0:
            raise ValueError("ROH counts must be >= 0 and lengths > 0")


def _check_map(snp_map: SnpMap) -> None:
    chrom, pos = snp_map.chrom, snp_map.pos
    same = chrom[1:] == chrom[:-1]
    if np.any(same & (np.diff(pos) < 0)):
        raise ValueError("SNP map must be sorted by position within each chromosome")
    starts = np.r_[0, np.flatnonzero(~same) + 1]
    if len(set(chrom[starts])) != len(starts):
        raise ValueError("SNP map must keep each chromosome's SNPs together")


def _in_roh(dos: np.ndarray, prm: RohParameters) -> np.ndarray:
    """Per animal and SNP (one chromosome): covered by enough homozygous windows."""
    n, m = dos.shape
    w = prm.window_snps
    if m < w:
        return np.zeros((n, m), dtype=bool)
    het = np.pad(np.cumsum(dos == 1, axis=1, dtype=np.int32), ((0, 0), (1, 0)))
    mis = np.pad(np.cumsum(dos == MISSING, axis=1, dtype=np.int32), ((0, 0), (1, 0)))
    hom_win = ((het[:, w:] - het[:, :-w]) <= prm.window_het) & (
        (mis[:, w:] - mis[:, :-w]) <= prm.window_missing)  # window k covers SNPs k..k+w-1
    cum = np.pad(np.cumsum(hom_win, axis=1, dtype=np.int32), ((0, 0), (1, 0)))
    j = np.arange(m)
    first = np.maximum(j - w + 1, 0)
    last = np.minimum(j, m - w)  # inclusive window indices covering SNP j
    n_hom = cum[:, last + 1] - cum[:, first]
    return n_hom >= prm.window_threshold * (last - first + 1)


def runs_of_homozygosity(
    geno: GenotypeSet,
    *,
    params: RohParameters = RohParameters(),
    block_animals: int = 256,
) -> tuple[pd.DataFrame, pd.Series]:
    """ROH segments and F_ROH per animal from packed genotypes.

    The map of ``geno`` gives ``chrom`` and ``pos`` (bp) per SNP in panel order, sorted
    within chromosomes. Returns (segments ``animal, chrom, start_bp, end_bp, n_snps, kb``,
    F_ROH indexed by animal = ROH kb / kb spanned by the panel's chromosomes).
    """
    packed, n_snps, ids = geno.packed, len(geno.snps), [str(a) for a in geno.samples]
    _check_map(geno.snps)
    chrom = geno.snps.chrom
    pos_kb = geno.snps.pos.astype(np.float64) / 1000.0
    bounds = np.r_[0, np.flatnonzero(chrom[1:] != chrom[:-1]) + 1, n_snps]
    genome_kb = sum(pos_kb[b - 1] - pos_kb[a] for a, b in zip(bounds[:-1], bounds[1:]))
    if genome_kb <= 0:
        raise ValueError("SNP map spans no distance: cannot compute F_ROH")
    segments = []
    for i0 in range(0, packed.shape[0], block_animals):
        dos = unpack(packed[i0:i0 + block_animals], n_snps)
        for a, b in zip(bounds[:-1], bounds[1:]):
            flag = _in_roh(dos[:, a:b], params)
            gap_break = np.r_[False, np.diff(pos_kb[a:b]) > params.max_gap_kb]
            segments += _segments(flag, gap_break, pos_kb[a:b], params,
                                  ids[i0:i0 + block_animals], chrom[a])
    seg = pd.DataFrame(segments, columns=["animal", "chrom", "start_bp", "end_bp", "n_snps", "kb"])
    f_roh = seg.groupby("animal")["kb"].sum().reindex(list(ids), fill_value=0.0) / genome_kb
    return seg, f_roh.rename("f_roh")


def _segments(flag: np.ndarray, gap_break: np.ndarray, pos_kb: np.ndarray,
              prm: RohParameters, ids: Sequence[str], chrom: object) -> list[tuple]:
    out = []
    for r in range(flag.shape[0]):
        f = flag[r]
        starts = np.flatnonzero(f & (np.r_[True, ~f[:-1]] | gap_break))
        for s in starts:
            e = s
            while e + 1 < f.size and f[e + 1] and not gap_break[e + 1]:
                e += 1
            n, kb = e - s + 1, pos_kb[e] - pos_kb[s]
            if n >= prm.min_snps and kb >= prm.min_kb and kb / n <= prm.max_kb_per_snp:
                out.append((ids[r], chrom, int(round(pos_kb[s] * 1000)),
                            int(round(pos_kb[e] * 1000)), int(n), float(kb)))
    return out


def inbreeding_trend(
    table: pd.DataFrame, *, columns: Sequence[str], by: Sequence[str] = ("herd", "birth_year")
) -> pd.DataFrame:
    """Mean, SD and count of inbreeding columns per group (default herd x birth year).

    ``table`` has one row per animal with the ``by`` columns and the F columns (e.g. F_G,
    F_ROH, F_pedigree). Animals with a missing group value are left out of the trend.
    """
    missing = [c for c in [*by, *columns] if c not in table.columns]
    if missing:
        raise ValueError(f"inbreeding table has no columns {missing}")
    stats = table.dropna(subset=list(by)).groupby(list(by))[list(columns)].agg(
        ["mean", "std", "count"])
    stats.columns = [f"{c}_{s}" for c, s in stats.columns]
    return stats.reset_index()
