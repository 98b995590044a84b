"""Byte-level conversions of 2-bit codes: packing, transposition and PLINK recoding.

All conversions go through 256-entry lookup tables or whole-array bit operations, never a
Python loop per genotype, so a 10,000 x 60,000 matrix converts in about a second.
"""

from __future__ import annotations

import numpy as np

from reprotech_core.genomics.packing import MISSING_CODE, SNPS_PER_BYTE, packed_width

# Our code -> PLINK .bed code, with A1 = our B allele and A2 = our A allele:
# 0 (AA = hom A2) -> 0b11, 1 (het) -> 0b10, 2 (BB = hom A1) -> 0b00, 3 (missing) -> 0b01.
_TO_BED_CODE = np.array([0b11, 0b10, 0b00, 0b01], dtype=np.uint8)
_FROM_BED_CODE = np.argsort(_TO_BED_CODE).astype(np.uint8)


def _byte_table(code_map: np.ndarray) -> np.ndarray:
    """Apply a 4-entry code map to each of the four 2-bit fields of every byte value."""
    v = np.arange(256, dtype=np.uint16)
    out = np.zeros(256, dtype=np.uint16)
    for k in range(SNPS_PER_BYTE):
        out |= code_map[(v >> (2 * k)) & 3].astype(np.uint16) << (2 * k)
    return out.astype(np.uint8)


TO_BED = _byte_table(_TO_BED_CODE)
"""Byte LUT: one of our packed bytes -> the PLINK .bed byte of the same four calls."""
FROM_BED = _byte_table(_FROM_BED_CODE)
"""Byte LUT: PLINK .bed byte -> our packed byte."""

_FIELDS = (
    (np.arange(256, dtype=np.uint16)[:, None] >> (2 * np.arange(SNPS_PER_BYTE))) & 3
).astype(np.uint8)  # (256, 4): byte -> four codes


def codes_of(packed: np.ndarray) -> np.ndarray:
    """2-bit codes (0..3, uint8) of packed rows, four columns per byte, padding included."""
    p = np.asarray(packed, dtype=np.uint8)
    return _FIELDS[p].reshape(p.shape[:-1] + (p.shape[-1] * SNPS_PER_BYTE,))


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """Pack 2-bit codes (uint8 0..3, trusted) along the last axis; padding becomes missing.

    The unchecked twin of :func:`reprotech_core.genomics.packing.pack` for hot paths whose
    codes come from a lookup table and cannot be out of range.
    """
    c = np.asarray(codes, dtype=np.uint8)
    m = c.shape[-1]
    width = packed_width(m)
    if m != width * SNPS_PER_BYTE:
        padded = np.full(c.shape[:-1] + (width * SNPS_PER_BYTE,), MISSING_CODE, np.uint8)
        padded[..., :m] = c
        c = padded
    c = c.reshape(c.shape[:-1] + (width, SNPS_PER_BYTE))
    return c[..., 0] | (c[..., 1] << 2) | (c[..., 2] << 4) | (c[..., 3] << 6)


def transpose_packed(packed: np.ndarray, n_cols: int) -> np.ndarray:
    """Transpose a packed matrix (rows x bytes of ``n_cols`` codes) to ``n_cols`` packed rows.

    Converts between our animal-major rows and PLINK's SNP-major ``.bed`` rows. Call it on
    blocks of rows to bound memory (the unpacked block is one byte per genotype).
    """
    codes = codes_of(packed)[..., :n_cols]
    return pack_codes(np.ascontiguousarray(codes.T))


def take_snps(packed: np.ndarray, index: np.ndarray, *, block_rows: int = 1024) -> np.ndarray:
    """Packed rows re-ordered to SNP ``index`` (positions in the source order, ``-1`` =
    absent, written as missing): the operation that puts a chip onto a common SNP map."""
    idx = np.asarray(index, dtype=np.int64)
    src = np.where(idx >= 0, idx, 0)
    out = np.empty((packed.shape[0], packed_width(len(idx))), dtype=np.uint8)
    for r0 in range(0, packed.shape[0], block_rows):
        codes = codes_of(packed[r0 : r0 + block_rows])[:, src]
        codes[:, idx < 0] = MISSING_CODE
        out[r0 : r0 + block_rows] = pack_codes(codes)
    return out
