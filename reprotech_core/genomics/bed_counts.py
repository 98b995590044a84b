"""Genotype counts straight from a SNP-major PLINK ``.bed``, block by block, never transposed.

A ``.bed`` row is one SNP with four samples a byte (00 hom A1 = our BB, 01 missing, 10 het,
11 hom A2 = our AA; see :mod:`plink_bed`). Viewed as 64-bit words, the low and high bit planes
give the missing, het and hom-AA indicators with three bit operations, so

* per-SNP counts are population counts of each row (:func:`numpy.bitwise_count`), as PLINK 2
  does (Chang et al. 2015), and
* per-sample counts are column sums of the indicator planes over the SNP rows, with the SWAR
  vertical counters of :mod:`counts` (sample ``i`` sits where SNP ``i`` sits in our rows).

Rows are read from the memory map in blocks of a few MB, counted on two threads (NumPy
releases the GIL), so memory stays bounded and the file is read once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from reprotech_core.genomics.counts import SnpCounts, _column_sums

_LO = np.uint64(0x5555555555555555)
_ONE = np.uint64(1)
_BLOCK_BYTES = 4 * 2**20  # .bed bytes per block: stays in L2/L3 while its planes are built


@dataclass(frozen=True)
class BedSampleCounts:
    """Per-sample counts (int64, length n) over SNP subsets chosen by the caller.

    ``missing`` counts all SNPs; ``auto_missing`` / ``auto_het`` the autosomal ones (for
    heterozygosity); ``x_missing`` / ``x_het`` those of the X (sex check).
    """

    missing: np.ndarray
    auto_missing: np.ndarray
    auto_het: np.ndarray
    x_missing: np.ndarray
    x_het: np.ndarray


def _row_words(block: np.ndarray) -> np.ndarray:
    """SNP rows as uint64 words; the bytes beyond each row are padded as hom A1 (00)."""
    width = block.shape[1]
    pad = (-width) % 8
    words = np.zeros((block.shape[0], width + pad), dtype=np.uint8)
    words[:, :width] = block
    return words.view(np.uint64)


def _sample_mask(n_samples: int, n_words: int) -> np.ndarray:
    """Per-word mask of the 2-bit fields of real samples (the last byte's padding is not)."""
    fields = np.zeros(n_words * 32, dtype=np.uint8)
    fields[:n_samples] = 1
    f = fields.reshape(-1, 4)
    return (f[:, 0] | (f[:, 1] << 2) | (f[:, 2] << 4) | (f[:, 3] << 6)).view(np.uint64) * 3


def _planes(words: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(missing, het, hom AA) indicator planes (low bit of each field) of .bed words."""
    lo = words & _LO
    hi = (words >> _ONE) & _LO
    valid_lo = valid & _LO
    return lo & ~hi & valid_lo, hi & ~lo & valid_lo, lo & hi & valid_lo


def count_bed(
    bed: np.ndarray,
    n_samples: int,
    *,
    autosomal: np.ndarray,
    x_chrom: np.ndarray,
    threads: int = 2,
) -> tuple[SnpCounts, BedSampleCounts]:
    """Per-SNP genotype counts and per-sample missing/het counts of a SNP-major ``.bed``.

    Parameters
    ----------
    bed
        ``(n_snps, ceil(n_samples / 4))`` uint8 (e.g. :func:`plink_bed.open_bed`'s memory map).
    autosomal, x_chrom
        Boolean masks over SNPs selecting the rows of the autosomal and X per-sample counts.
    """
    m, width = bed.shape
    n_words = (width + 7) // 8
    valid = _sample_mask(n_samples, n_words)
    step = max(15, _BLOCK_BYTES // max(width, 1) // 15 * 15)  # whole groups of 15 SNP rows
    autosomal = np.asarray(autosomal, dtype=bool)
    x_chrom = np.asarray(x_chrom, dtype=bool)

    def block(r0: int) -> tuple[np.ndarray, ...]:
        r1 = min(r0 + step, m)
        miss, het, hom_aa = _planes(_row_words(np.asarray(bed[r0:r1])), valid)
        per_snp = [np.bitwise_count(p).sum(axis=1, dtype=np.int64) for p in (miss, het, hom_aa)]
        auto, x = autosomal[r0:r1], x_chrom[r0:r1]
        miss_all = _column_sums(miss)
        per_sample = [miss_all]
        for rows in (auto, x):
            sel = np.flatnonzero(rows)
            if sel.size == 0:
                per_sample += [None, None]
            elif sel.size == rows.size:
                per_sample += [miss_all, _column_sums(het)]
            else:
                per_sample += [_column_sums(miss[sel]), _column_sums(het[sel])]
        return per_snp, per_sample

    snp = np.zeros((3, m), dtype=np.int64)
    samples = np.zeros((5, n_words * 32), dtype=np.int64)
    starts = range(0, m, step)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for r0, (per_snp, per_sample) in zip(starts, pool.map(block, starts), strict=True):
            r1 = min(r0 + step, m)
            for q, counts in enumerate(per_snp):
                snp[q, r0:r1] = counts
            for q, counts in enumerate(per_sample):
                if counts is not None:
                    samples[q] += counts
    miss, het, hom_aa = snp
    counts = SnpCounts(hom_a=hom_aa, het=het, hom_b=n_samples - miss - het - hom_aa,
                       missing=miss)
    s = samples[:, :n_samples]
    return counts, BedSampleCounts(missing=s[0], auto_missing=s[1], auto_het=s[2],
                                   x_missing=s[3], x_het=s[4])


_BED_TO_CODE = np.array([2, 3, 1, 0], dtype=np.uint8)  # .bed field -> our code (packing.py)
_FIELDS = _BED_TO_CODE[(np.arange(256)[:, None] >> (2 * np.arange(4))[None, :]) & 3]


def bed_codes(rows: np.ndarray, n_samples: int) -> np.ndarray:
    """Our 2-bit codes (uint8 0..3, 3 missing) of ``.bed`` SNP rows: ``(rows, n_samples)``."""
    r = np.asarray(rows, dtype=np.uint8)
    return _FIELDS[r].reshape(r.shape[0], -1)[:, :n_samples]
