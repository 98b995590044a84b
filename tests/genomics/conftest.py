"""Small simulated data shared by the genomics tests (big sizes live in benchmarks/)."""

from __future__ import annotations

import numpy as np
import pytest

from reprotech_core.genomics.simulate import SimulatedHerd, simulate_herd
from reprotech_core.genomics.snpmap import COW_X, GenotypeSet, select_snps


@pytest.fixture(scope="session")
def herd() -> SimulatedHerd:
    return simulate_herd(n_animals=300, n_snps=1203, seed=7)


@pytest.fixture(scope="session")
def autosomal(herd: SimulatedHerd) -> GenotypeSet:
    """The herd on autosomes only (PLINK 2 treats X calls of males as haploid)."""
    return select_snps(herd.genotypes, np.flatnonzero(herd.genotypes.snps.chrom != COW_X))
