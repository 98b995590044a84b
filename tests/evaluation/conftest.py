"""Fixtures for the evaluation tests: small simulated herds and a private PLINK .bed writer.

The product's PLINK reader/writer lives in reprotech_core.genomics.plink (another branch);
this minimal writer exists only so tests can hand the same data to plink2.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from reprotech_core.evaluation.simulate import simulate_herd
from reprotech_core.genomics.packing import MISSING

# dosage (count of allele A1 written in .bim column 5) -> PLINK 2-bit code
_BED_CODE = {2: 0b00, MISSING: 0b01, 1: 0b10, 0: 0b11}


def write_bed(prefix: Path, dosages: np.ndarray, ids: list[str]) -> Path:
    """Write PLINK 1 binary files (SNP-major .bed, .bim, .fam) for ``dosages`` (n x m)."""
    n, m = dosages.shape
    codes = np.zeros(dosages.shape, dtype=np.uint8)
    for dosage, code in _BED_CODE.items():
        codes[dosages == dosage] = code
    pad = (-n) % 4
    codes = np.concatenate([codes, np.zeros((pad, m), np.uint8)]).T.reshape(m, -1, 4)
    body = codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6
    magic = bytes([0x6C, 0x1B, 0x01])
    prefix.with_suffix(".bed").write_bytes(magic + body.astype(np.uint8).tobytes())
    prefix.with_suffix(".bim").write_text(
        "".join(f"1\tsnp{j}\t0\t{1000 * (j + 1)}\tB\tA\n" for j in range(m))
    )
    prefix.with_suffix(".fam").write_text("".join(f"{i}\t{i}\t0\t0\t0\t-9\n" for i in ids))
    return prefix


@pytest.fixture(scope="session")
def herd():
    """~600 animals over 3 generations on 1,500 unlinked SNPs."""
    return simulate_herd(n_founders=150, n_per_generation=150, n_generations=3, n_snps=1500,
                         rng=np.random.default_rng(20260101))


@pytest.fixture(scope="session")
def plink2():
    exe = shutil.which("plink2")
    if exe is None:
        pytest.skip("plink2 not installed (./run test installs it)")
    return exe


def with_missing(dosages: np.ndarray, rate: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = dosages.copy()
    out[rng.random(out.shape) < rate] = MISSING
    return out
