"""The 2-bit packed genotype format shared by the store, QC and evaluation.

One animal's calls on a panel of ``m`` SNPs are ``ceil(m / 4)`` bytes. SNP ``j`` sits in
byte ``j // 4`` at bits ``2 * (j % 4)`` (low bits first, as in PLINK's ``.bed``), with the
code being the count of the panel's B allele:

====  ==========================
code  meaning
====  ==========================
0     homozygous A (AA)
1     heterozygous (AB)
2     homozygous B (BB)
3     missing call
====  ==========================

Unlike PLINK's ``.bed`` coding (00 hom A1, 01 missing, 10 het, 11 hom A2), the code *is* the
dosage, so kernels need no remapping. 60,000 SNPs take 15 KB per animal, which is why the
store keeps one packed row per animal rather than a long (animal, snp, call) table
(see ARCHITECTURE.md, "Genotypes").

Unpacked arrays use ``int8`` dosages with :data:`MISSING` (-1) for a missing call.
"""

from __future__ import annotations

import numpy as np

MISSING: int = -1
"""Dosage value of a missing call in unpacked arrays."""

MISSING_CODE: int = 3
"""2-bit code of a missing call in packed arrays."""

SNPS_PER_BYTE: int = 4


def packed_width(n_snps: int) -> int:
    """Bytes per animal for a panel of ``n_snps`` SNPs."""
    if n_snps < 0:
        raise ValueError(f"n_snps must be >= 0, got {n_snps}")
    return (n_snps + SNPS_PER_BYTE - 1) // SNPS_PER_BYTE


def _unpack_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.uint16)
    table = np.stack([(codes >> (2 * k)) & 3 for k in range(SNPS_PER_BYTE)], axis=1)
    dosages = table.astype(np.int8)
    dosages[table == MISSING_CODE] = MISSING
    return dosages


_UNPACK = _unpack_table()  # (256, 4) int8: byte value -> four dosages


def pack(dosages: np.ndarray) -> np.ndarray:
    """Pack dosages (``int8``/int, 0/1/2, :data:`MISSING` for missing) into 2-bit codes.

    Accepts one animal (1-D, ``m``) or many (2-D, ``n x m``); returns ``uint8`` of shape
    ``(..., packed_width(m))``. Padding codes in the last byte are written as missing.

    Raises
    ------
    ValueError
        If any dosage is not in {0, 1, 2, MISSING}.
    """
    d = np.asarray(dosages)
    if d.ndim not in (1, 2):
        raise ValueError(f"dosages must be 1-D or 2-D, got {d.ndim}-D")
    bad = ~np.isin(d, (0, 1, 2, MISSING))
    if bad.any():
        where = np.argwhere(bad)[0]
        raise ValueError(
            f"dosage {d[tuple(where)].item()!r} at index {tuple(int(i) for i in where)} "
            f"is not 0, 1, 2 or {MISSING} (missing)"
        )
    m = d.shape[-1]
    width = packed_width(m)
    codes = np.full(d.shape[:-1] + (width * SNPS_PER_BYTE,), MISSING_CODE, dtype=np.uint8)
    codes[..., :m] = np.where(d == MISSING, MISSING_CODE, d).astype(np.uint8)
    codes = codes.reshape(d.shape[:-1] + (width, SNPS_PER_BYTE))
    return (
        codes[..., 0] | (codes[..., 1] << 2) | (codes[..., 2] << 4) | (codes[..., 3] << 6)
    ).astype(np.uint8)


def unpack(packed: np.ndarray, n_snps: int) -> np.ndarray:
    """Unpack 2-bit codes into ``int8`` dosages with :data:`MISSING` for missing calls.

    ``packed`` is 1-D (one animal) or 2-D (animals x bytes); the result has ``n_snps``
    columns. For large cohorts unpack in blocks of animals to bound memory.
    """
    p = np.asarray(packed, dtype=np.uint8)
    if p.shape[-1] != packed_width(n_snps):
        raise ValueError(
            f"packed rows have {p.shape[-1]} bytes but {n_snps} SNPs need {packed_width(n_snps)}"
        )
    out = _UNPACK[p].reshape(p.shape[:-1] + (p.shape[-1] * SNPS_PER_BYTE,))
    return out[..., :n_snps]
