"""Simulated herds for tests, benchmarks and demos (no real customer data needed).

Founders get genotypes drawn in Hardy-Weinberg equilibrium from U-shaped allele frequencies;
later generations inherit one allele per parent at every SNP independently (no linkage, so
the number of independent chromosome segments equals the number of SNPs). True breeding
values are sums of QTL effects on a subset of the SNPs, scaled so that ``Var(TBV) = h2``
and phenotypes ``y = mu + herd + TBV + e`` with ``Var(e) = 1 - h2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Herd:
    """Genotypes (int8 dosages, n x m), pedigree and per-animal table of a simulated herd."""

    dosages: np.ndarray
    pedigree: pd.DataFrame  # animal, sire, dam (None for founders), generation
    animals: pd.DataFrame  # animal, herd, birth_year, generation, sex


def founder_dosages(n: int, m: int, *, rng: np.random.Generator) -> np.ndarray:
    """``n x m`` founder dosages, allele frequencies ~ Beta(0.5, 0.5) clipped to [0.02, 0.98]."""
    p = np.clip(rng.beta(0.5, 0.5, size=m), 0.02, 0.98)
    return rng.binomial(2, p, size=(n, m)).astype(np.int8)


def gametes(parent_dosages: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """One transmitted allele per SNP: hom 0 -> 0, hom 2 -> 1, het -> Bernoulli(0.5)."""
    het = parent_dosages == 1
    out = (parent_dosages // 2).astype(np.int8)
    out[het] = rng.integers(0, 2, size=int(het.sum()), dtype=np.int8)
    return out


def simulate_herd(
    *,
    n_founders: int,
    n_per_generation: int,
    n_generations: int,
    n_snps: int,
    n_sires_per_generation: int = 20,
    n_herds: int = 5,
    first_year: int = 2015,
    rng: np.random.Generator,
) -> Herd:
    """Founders then ``n_generations`` of random mating with a few sires per generation."""
    if n_founders < 2 or n_snps < 1:
        raise ValueError("need at least 2 founders and 1 SNP")
    dos = [founder_dosages(n_founders, n_snps, rng=rng)]
    sires: list[object] = [None] * n_founders
    dams: list[object] = [None] * n_founders
    gen = [0] * n_founders
    sex = list(rng.choice(["M", "F"], size=n_founders))
    ids = [f"A{i:06d}" for i in range(n_founders)]
    prev = np.arange(n_founders)
    for g in range(1, n_generations + 1):
        males = prev[np.array([sex[i] == "M" for i in prev])]
        females = prev[np.array([sex[i] == "F" for i in prev])]
        if len(males) == 0 or len(females) == 0:
            raise ValueError(f"generation {g - 1} has no males or no females")
        bulls = rng.choice(males, size=min(n_sires_per_generation, len(males)), replace=False)
        s = rng.choice(bulls, size=n_per_generation)
        d = rng.choice(females, size=n_per_generation)
        all_dos = np.concatenate(dos)
        child = gametes(all_dos[s], rng=rng) + gametes(all_dos[d], rng=rng)
        dos.append(child.astype(np.int8))
        start = len(ids)
        ids += [f"A{i:06d}" for i in range(start, start + n_per_generation)]
        sires += [ids[i] for i in s]
        dams += [ids[i] for i in d]
        gen += [g] * n_per_generation
        sex += list(rng.choice(["M", "F"], size=n_per_generation))
        prev = np.arange(start, start + n_per_generation)
    n = len(ids)
    pedigree = pd.DataFrame({"animal": ids, "sire": sires, "dam": dams, "generation": gen})
    animals = pd.DataFrame({
        "animal": ids,
        "herd": [f"H{h}" for h in rng.integers(0, n_herds, size=n)],
        "birth_year": first_year + np.asarray(gen),
        "generation": gen,
        "sex": sex,
    })
    return Herd(dosages=np.concatenate(dos), pedigree=pedigree, animals=animals)


def true_breeding_values(
    dosages: np.ndarray, *, n_qtl: int, h2: float, rng: np.random.Generator
) -> np.ndarray:
    """Additive TBVs from ``n_qtl`` random SNPs with normal effects, scaled to variance ``h2``."""
    m = dosages.shape[1]
    qtl = rng.choice(m, size=min(n_qtl, m), replace=False)
    effects = rng.normal(size=qtl.size)
    tbv = dosages[:, qtl].astype(np.float64) @ effects
    tbv -= tbv.mean()
    return tbv * np.sqrt(h2 / tbv.var())


def phenotypes(
    tbv: np.ndarray,
    herds: np.ndarray,
    *,
    h2: float,
    mean: float = 100.0,
    herd_sd: float = 0.5,
    rng: np.random.Generator,
) -> np.ndarray:
    """``y = mean + herd effect + TBV + e`` with ``Var(e) = 1 - h2``."""
    levels, idx = np.unique(herds, return_inverse=True)
    herd_eff = rng.normal(scale=herd_sd, size=levels.size)
    return mean + herd_eff[idx] + tbv + rng.normal(scale=np.sqrt(1 - h2), size=tbv.size)
