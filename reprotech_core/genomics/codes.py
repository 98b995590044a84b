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


def _transpose_tables(code_map: np.ndarray) -> np.ndarray:
    """(4, 4, 256) tables: [k, i, byte] = code_map(field k of byte) shifted to field i."""
    v = np.arange(256, dtype=np.uint16)
    fields = np.stack([code_map[(v >> (2 * k)) & 3] for k in range(SNPS_PER_BYTE)])
    return np.stack([fields << (2 * i) for i in range(SNPS_PER_BYTE)], axis=1).astype(np.uint8)


_IDENTITY = np.arange(4, dtype=np.uint8)
_TABLES = {
    "same": _transpose_tables(_IDENTITY),
    "from_bed": _transpose_tables(_FROM_BED_CODE),
    "to_bed": _transpose_tables(_TO_BED_CODE),
}


def transpose_packed(
    packed: np.ndarray, n_cols: int, *, recode: str = "same", pad_byte: int = 0xFF
) -> np.ndarray:
    """Transpose a packed matrix (rows x bytes of ``n_cols`` codes) to ``n_cols`` packed rows.

    Converts between our animal-major rows and PLINK's SNP-major ``.bed`` rows, recoding on
    the way (``recode`` "same", "from_bed" or "to_bed"). Each 4 x 4 tile of 2-bit codes is
    transposed with byte lookup tables: output byte = OR over the tile's four input bytes of
    ``table[k, i][byte]``, so no one-byte-per-genotype array is ever built. Missing rows up
    to a multiple of four are filled with ``pad_byte`` (in the input coding). Call on blocks
    of rows to bound memory.
    """
    tables = _TABLES[recode]
    x = np.asarray(packed, dtype=np.uint8)
    rows, width = x.shape
    groups = packed_width(rows)
    if rows != 4 * groups:
        x = np.concatenate([x, np.full((4 * groups - rows, width), pad_byte, np.uint8)])
    tiles = x.reshape(groups, SNPS_PER_BYTE, width)
    out = np.empty((width, SNPS_PER_BYTE, groups), dtype=np.uint8)
    for k in range(SNPS_PER_BYTE):
        acc = tables[k, 0][tiles[:, 0]]
        for i in range(1, SNPS_PER_BYTE):
            acc |= tables[k, i][tiles[:, i]]
        out[:, k, :] = acc.T
    return out.reshape(width * SNPS_PER_BYTE, groups)[:n_cols]


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
