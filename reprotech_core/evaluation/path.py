"""Which solver an evaluation of a given size takes: exact GBLUP or SNP-BLUP.

The exact path (:mod:`.gblup`) forms G (``N x N``) and eigendecomposes it; its time grows
with ``N^3`` and its memory with ``N^2``. SNP-BLUP (:mod:`.snpblup_multi`) needs the packed
genotypes (``N x M / 4`` bytes) and a few ``M x k`` vectors, and its time grows with
``N x M`` per iteration. The choice is made before any heavy work, from the sizes alone, so a
herd too big for the memory budget switches path instead of being killed by the kernel's
out-of-memory killer, and the reason is written in the run's record.

Peak memory of the exact path, measured (``benchmarks/evaluation``, 10,000 x 60,000: 2.85
GiB for the full evaluation) and modelled as the largest set of ``N x N`` float64 arrays
alive at once: G (float32 from the kernel, kept as float64 for GBLUP), the phenotyped block
``G_oo`` copied for the decomposition, its eigenvectors, LAPACK's workspace and ``U * U``
for the reliabilities -> about ``EXACT_SQUARES`` float64 ``N x N`` arrays, plus the packed
genotypes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .core_reliability import ROW_BLOCK

GIB = 1024**3
EXACT_SQUARES = 4.0
"""float64 ``N x N`` arrays alive at the exact path's peak (G, the decomposed block, its
eigenvectors, ``U * U``); 10,000 animals: 4 x 0.8 GB = 3.2 GB against 2.85 GiB measured
(the phenotyped block is ~80 % of N there)."""
SNPBLUP_OVERHEAD_GIB = 0.7
"""Interpreter, numba and pandas tables on the SNP-BLUP path."""
REML_SUBSAMPLE_GIB = 0.6
"""The REML subsample's G (5,000^2 float64: 0.2 GB, its decomposition twice that), alive
before the solve; with the overhead 1.3 GiB, against 1.68 GiB measured at 20,000 x 60,000."""


@dataclass(frozen=True)
class PathChoice:
    """The solver and why, in words a lab technician can read in the run's record."""

    solver: str  # "exact" (GBLUP via G's eigendecomposition) or "snp-blup"
    reason: str
    exact_gib: float  # estimated peak of the exact path
    snpblup_gib: float  # estimated peak of the SNP-BLUP path


def exact_peak_gib(animals: int, snps: int) -> float:
    """Estimated peak memory (GiB) of GBLUP through G's eigendecomposition."""
    return (EXACT_SQUARES * 8.0 * animals**2 + animals * snps / 4) / GIB + 0.3


def snpblup_peak_gib(animals: int, snps: int, traits: int, *,
                     core_animals: int, fixed_levels: int) -> float:
    """Estimated peak memory (GiB) of multi-trait SNP-BLUP on the packed genotypes: the
    packed rows plus the larger of its two stages. The solve (after REML on the
    subsample): per trait the solution, residual, direction and product vectors over SNPs
    (4 x M x k float64) and over animals (4 x N x k), the 256-entry lookup tables of every
    byte column (``(k + 1) x M / 4 x 256`` float64, :mod:`.packed_products`). The
    reliabilities (:mod:`.core_reliability`): the animals' float32 products with the core
    (``N x c``), the core's centred genotypes (``c x M``) and one unpacked block of
    animals."""
    k = max(traits, 1)
    c = min(core_animals, animals)
    solve = (8.0 * 4 * k * (snps + animals) + 8.0 * 256 * (k + 1) * snps / 4) / GIB \
        + REML_SUBSAMPLE_GIB
    reliability = (4.0 * c * (animals + snps) + 6.0 * ROW_BLOCK * snps
                   + 20.0 * fixed_levels * c) / GIB
    return animals * snps / 4 / GIB + max(solve, reliability) + SNPBLUP_OVERHEAD_GIB


def choose_path(animals: int, snps: int, traits: int, *, memory_gib: float,
                exact_max_animals: int, core_animals: int, fixed_levels: int) -> PathChoice:
    """Exact GBLUP when the herd is at most ``exact_max_animals`` genotyped animals and the
    exact path's estimated peak fits ``memory_gib``; SNP-BLUP otherwise.

    Raises
    ------
    ValueError
        Sizes that are not positive, or a budget too small even for SNP-BLUP (the packed
        genotypes and vectors): no path can run, so the run refuses before it starts.
    """
    if animals < 1 or snps < 1:
        raise ValueError(f"need animals and SNPs, got {animals} x {snps}")
    if memory_gib <= 0:
        raise ValueError(f"memory budget must be positive, got {memory_gib} GiB")
    exact = exact_peak_gib(animals, snps)
    snp = snpblup_peak_gib(animals, snps, traits, core_animals=core_animals,
                           fixed_levels=fixed_levels)
    size = f"{animals:,} genotyped animals x {snps:,} SNPs"
    if snp > memory_gib:
        raise ValueError(f"{size}: even SNP-BLUP needs ~{snp:.1f} GiB (packed genotypes "
                         f"{animals * snps / 4 / GIB:.1f} GiB), more than the budget of "
                         f"{memory_gib:g} GiB (setting evaluation_memory_gib)")
    g_gib = 8.0 * animals**2 / GIB
    if exact > memory_gib:
        return PathChoice("snp-blup", f"{size}: G ({g_gib:.1f} GiB) and its "
                          f"eigendecomposition need ~{exact:.1f} GiB, more than the budget of "
                          f"{memory_gib:g} GiB (evaluation_memory_gib); SNP-BLUP needs "
                          f"~{snp:.1f} GiB", exact, snp)
    if animals > exact_max_animals:
        return PathChoice("snp-blup", f"{size}: more than {exact_max_animals:,} "
                          "(evaluation_exact_max_animals), where SNP-BLUP is faster than "
                          "G's eigendecomposition (time ~N^3)", exact, snp)
    return PathChoice("exact", f"{size}: exact GBLUP (G {g_gib:.1f} GiB, ~{exact:.1f} GiB "
                      f"peak within {memory_gib:g} GiB; at most {exact_max_animals:,} "
                      "animals)", exact, snp)
