"""Genotype counts per SNP and per sample straight from the packed bits.

The kernels never unpack to one byte per genotype. Rows are viewed as 64-bit words holding
32 SNPs; the low and high bit planes give the het (01), hom-B (10) and missing (11) indicators
with three bit operations. Per-sample totals are population counts
(:func:`numpy.bitwise_count`). Per-SNP totals use SWAR ("SIMD within a register") vertical
counters: indicator bits are spread into 4-bit fields, summed over 15 animals without
overflow, then into 8-bit fields (Warren, *Hacker's Delight*, 2nd ed., ch. 5). Animals are
processed in blocks so memory stays bounded whatever the cohort size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from reprotech_core.genomics.packing import packed_width

_LO = np.uint64(0x5555555555555555)
_NIB = np.uint64(0x1111111111111111)
_LOW_NIB = np.uint64(0x0F0F0F0F0F0F0F0F)
_ONE, _TWO, _FOUR = np.uint64(1), np.uint64(2), np.uint64(4)
_GROUP = 15  # animals summed in 4-bit fields before they could overflow
_DEFAULT_BLOCK = 15 * 17  # animals per block (255): ~4 MB for 60k SNPs, stays in cache


@dataclass(frozen=True)
class SnpCounts:
    """Per-SNP genotype counts (int64 arrays of length m): AA, AB, BB and missing."""

    hom_a: np.ndarray
    het: np.ndarray
    hom_b: np.ndarray
    missing: np.ndarray

    @property
    def observed(self) -> np.ndarray:
        """Animals with a call at each SNP."""
        return self.hom_a + self.het + self.hom_b


@dataclass(frozen=True)
class SampleCounts:
    """Per-sample counts over the SNPs selected by the mask (int64 arrays of length n)."""

    missing: np.ndarray
    het: np.ndarray
    n_snps: int


def _words(block: np.ndarray) -> np.ndarray:
    """View packed rows as uint64 words, padding each row with missing codes to 8 bytes."""
    width = block.shape[1]
    pad = (-width) % 8
    if pad or not block.flags.c_contiguous:
        padded = np.full((block.shape[0], width + pad), 0xFF, dtype=np.uint8)
        padded[:, :width] = block
        block = padded
    return block.view(np.uint64)


def _planes(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = words & _LO
    hi = (words >> _ONE) & _LO
    return lo & ~hi, hi & ~lo, lo & hi  # het, hom B, missing


def _column_sums(ind: np.ndarray) -> np.ndarray:
    """Per-SNP totals of a (rows, words) indicator plane; returns (words * 32,) int64."""
    rows, n_words = ind.shape
    pad = (-rows) % _GROUP
    if pad:
        ind = np.concatenate([ind, np.zeros((pad, n_words), np.uint64)])
    out = np.empty((n_words * 8, 4), dtype=np.int64)  # (byte, SNP within byte)
    for shift, pair in ((np.uint64(0), (0, 2)), (_TWO, (1, 3))):
        nib = ((ind >> shift) & _NIB).reshape(-1, _GROUP, n_words).sum(axis=1, dtype=np.uint64)
        for half, snp in zip((nib & _LOW_NIB, (nib >> _FOUR) & _LOW_NIB), pair, strict=True):
            out[:, snp] = half.view(np.uint8).sum(axis=0, dtype=np.int64)
    return out.reshape(-1)


def _mask_words(snp_mask: np.ndarray, width: int) -> np.ndarray:
    fields = np.zeros(width * 4 + (-width % 8) * 4, dtype=np.uint8)
    fields[: len(snp_mask)] = np.where(snp_mask, 3, 0)
    f = fields.reshape(-1, 4)
    return (f[:, 0] | (f[:, 1] << 2) | (f[:, 2] << 4) | (f[:, 3] << 6)).view(np.uint64)


def count_genotypes(
    packed: np.ndarray,
    n_snps: int,
    *,
    sample_snp_mask: np.ndarray | None = None,
    block_rows: int = _DEFAULT_BLOCK,
    threads: int = 2,
) -> tuple[SnpCounts, SampleCounts]:
    """Count genotypes per SNP and per sample in one pass over the packed rows.

    Parameters
    ----------
    packed : ndarray of uint8, shape (n, packed_width(n_snps))
    n_snps : int
    sample_snp_mask : bool array of length n_snps, optional
        SNPs that enter the per-sample counts (e.g. autosomes only for heterozygosity);
        all SNPs by default.
    block_rows : int
        Animals per block; bounds memory at about ``block_rows * width * 4`` bytes per thread.
    threads : int
        Blocks counted in parallel (the kernels are NumPy calls that release the GIL).
    """
    if packed.ndim != 2 or packed.shape[1] != packed_width(n_snps):
        raise ValueError(f"packed must have shape (n, {packed_width(n_snps)}), got {packed.shape}")
    n, width = packed.shape
    mask = None if sample_snp_mask is None else _mask_words(np.asarray(sample_snp_mask), width)
    if mask is None:
        mask = _mask_words(np.ones(n_snps, bool), width)
    n_words = (width + 7) // 8
    col = np.zeros((3, n_words * 32), dtype=np.int64)
    s_miss = np.empty(n, dtype=np.int64)
    s_het = np.empty(n, dtype=np.int64)

    def block(r0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        planes = _planes(_words(packed[r0 : r0 + block_rows]))
        sums = np.stack([_column_sums(p) for p in planes])
        het, _, miss = planes
        return (sums, np.bitwise_count(miss & mask).sum(axis=1, dtype=np.int64),
                np.bitwise_count(het & mask).sum(axis=1, dtype=np.int64))

    starts = range(0, n, block_rows)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:  # NumPy releases the GIL
        for r0, (sums, miss, het) in zip(starts, pool.map(block, starts), strict=True):
            col += sums
            s_miss[r0 : r0 + block_rows] = miss
            s_het[r0 : r0 + block_rows] = het
    het_c, hom_b_c, miss_c = (c[:n_snps] for c in col)
    snp = SnpCounts(hom_a=n - het_c - hom_b_c - miss_c, het=het_c, hom_b=hom_b_c, missing=miss_c)
    n_masked = int(np.count_nonzero(sample_snp_mask)) if sample_snp_mask is not None else n_snps
    return snp, SampleCounts(missing=s_miss, het=s_het, n_snps=n_masked)


def count_samples_on(packed: np.ndarray, snp_index: np.ndarray) -> SampleCounts:
    """Per-sample counts over a few SNPs (e.g. the X chromosome), reading only their bytes."""
    idx = np.asarray(snp_index, dtype=np.int64)
    cols = np.unique(idx // 4)
    mask = np.zeros(len(cols) * 4, dtype=bool)
    mask[np.searchsorted(cols, idx // 4) * 4 + idx % 4] = True
    _, counts = count_genotypes(np.ascontiguousarray(packed[:, cols]), len(cols) * 4,
                                sample_snp_mask=mask)
    return counts
