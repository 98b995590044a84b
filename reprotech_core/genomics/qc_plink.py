"""QC of a PLINK 1 fileset read straight from the SNP-major ``.bed``, as PLINK 2 does.

:func:`reprotech_core.genomics.qc.run_qc` works on our animal-major packed rows; reading a
``.bed`` into them is a full transpose of the file, which cost more than the statistics.
Here every statistic comes from the ``.bed``'s own rows (:mod:`bed_counts`): per-SNP counts are
row popcounts, per-sample counts column sums, and the pair checks read only the columns of the
animals involved. The tables equal :func:`run_qc`'s on the same genotypes (same functions
build them from the same counts; tests compare both and PLINK 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.genomics.bed_counts import bed_codes, count_bed
from reprotech_core.genomics.pairs import duplicate_candidates, duplicate_table, parent_conflicts
from reprotech_core.genomics.plink_bed import open_bed, read_bim, read_fam
from reprotech_core.genomics.qc import (
    QcResult, QcThresholds, sample_table, snp_table_of, with_sex_and_duplicates,
)
from reprotech_core.genomics.sexcheck import sex_table
from reprotech_core.genomics.snpmap import AUTOSOME_NAMES, COW_X

MIN_X_SNPS = 20  # as sexcheck.check_sex: fewer X SNPs decide nothing
_PAIR_BLOCK = 4_000_000  # (SNPs x pairs) codes compared per step


def _prefix(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".bed", ".bim", ".fam") else p


def bed_pair_stats(
    bed: np.ndarray,
    n_samples: int,
    first: np.ndarray,
    second: np.ndarray,
    snp_mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """:func:`pairs.pair_discordance` on a SNP-major ``.bed``, reading only the byte columns
    of the animals in the pairs, streamed over blocks of SNP rows."""
    first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
    out = np.zeros((len(first), 3), dtype=np.int64)
    cols = ["both_called", "discordant", "opposing_homs"]
    if len(first) == 0:
        return pd.DataFrame(out, columns=cols)
    animals = np.unique(np.concatenate([first, second]))
    byte_cols = np.unique(animals // 4)

    def position(a: np.ndarray) -> np.ndarray:
        return np.searchsorted(byte_cols, a // 4) * 4 + a % 4

    pos_1, pos_2 = position(first), position(second)
    m = bed.shape[0]
    step = max(1, _PAIR_BLOCK // len(first))
    for r0 in range(0, m, step):
        r1 = min(r0 + step, m)
        codes = bed_codes(np.asarray(bed[r0:r1])[:, byte_cols], len(byte_cols) * 4)
        a, b = codes[:, pos_1], codes[:, pos_2]
        both = (a != 3) & (b != 3)
        if snp_mask is not None:
            both &= np.asarray(snp_mask[r0:r1], dtype=bool)[:, None]
        out[:, 0] += both.sum(axis=0)
        out[:, 1] += (both & (a != b)).sum(axis=0)
        out[:, 2] += (both & (a != 1) & (b != 1) & (a != b)).sum(axis=0)
    return pd.DataFrame(out, columns=cols)


def qc_plink(
    prefix: str | Path,
    *,
    thresholds: QcThresholds = QcThresholds(),
    pedigree: pd.DataFrame | None = None,
) -> tuple[QcResult, pd.DataFrame]:
    """Full QC of ``prefix.bed/.bim/.fam``: the :func:`run_qc` tables, and the ``.fam``.

    Raises
    ------
    GenotypeFileError
        A ``.bed`` with a wrong magic number (rule ``bed.magic``), in individual-major mode
        (``bed.mode``), with another SNP count than the ``.bim`` (``bed.snp_count``) or cut
        short (``bed.truncated``); unreadable ``.bim``/``.fam`` lines by line.
    """
    pre = _prefix(prefix)
    snps = read_bim(pre.with_suffix(".bim"))
    fam = read_fam(pre.with_suffix(".fam"))
    n, m = len(fam), len(snps)
    bed = open_bed(pre.with_suffix(".bed"), n_samples=n, n_snps=m)
    ids = fam["iid"].to_numpy(dtype=str)
    autosomal = np.isin(snps.chrom, list(AUTOSOME_NAMES))
    x_chrom = snps.chrom == COW_X
    counts, per_sample = count_bed(bed, n, autosomal=autosomal, x_chrom=x_chrom)
    snp_df = snp_table_of(snps, n, counts, thresholds=thresholds)
    auto_called = int(autosomal.sum()) - per_sample.auto_missing
    samples = sample_table(ids, m, per_sample.missing, per_sample.auto_het, auto_called,
                           thresholds)
    freq_b = snp_df["freq_b"].to_numpy()
    sex = None
    if int(x_chrom.sum()) >= MIN_X_SNPS:
        sex = sex_table(ids, fam["sex"].to_numpy(dtype=np.int8), x_missing=per_sample.x_missing,
                        x_het=per_sample.x_het, x_freq_b=freq_b[x_chrom])
    first, second = duplicate_candidates(lambda at: bed_codes(bed[at], n).T, n,
                                         snp_df["maf"].to_numpy())
    stats = bed_pair_stats(bed, n, first, second) if first.size else None
    dups = duplicate_table(ids, first, second, stats, thresholds.duplicate_discordance)
    samples = with_sex_and_duplicates(samples, sex, dups)
    parents = pd.DataFrame()
    if pedigree is not None:
        parents = parent_conflicts(
            None, ids, pedigree, autosomal=autosomal,
            max_conflict_rate=thresholds.parent_conflict_rate,
            pair_stats=lambda f, s, mask: bed_pair_stats(bed, n, f, s, mask),
        )
    return QcResult(snp_df, samples, dups, parents, thresholds), fam
