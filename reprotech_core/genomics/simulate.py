"""A realistic simulated dairy herd: pedigree, meiosis, genotypes, breeding values, phenotypes.

Founders draw haplotypes from U-shaped allele frequencies (Beta(0.5, 0.5), as SNP chips are
enriched for common SNPs). Each later generation's calves get a sire (mostly one of a few AI
bulls chosen on true merit for milk, as in AI-driven dairy breeding) and a dam from earlier
generations; gametes come from meiosis with Poisson crossovers (Haldane map, 1 cM per Mb).
True breeding values are sums of QTL effects scaled to the founders' genetic variance
(infinitesimal-ish model, Falconer & Mackay 1996); phenotypes add environmental noise for the
given heritability. The lab's imperfections are added on top: missing calls (a few bad samples
and SNPs), genotyping errors and wrongly recorded sires. Deterministic for a given seed.

Haplotypes are kept as bit-packed arrays (8 SNPs per byte) and meiosis is a masked XOR on
them, so 10,000 x 60,000 takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.genomics.codes import pack_codes
from reprotech_core.genomics.packing import MISSING_CODE
from reprotech_core.genomics.snpmap import COW_X, GenotypeSet, SnpMap

# ARS-UCD1.2 chromosome lengths in Mb (1..29, X), rounded.
COW_CHROM_MB = (158, 137, 121, 121, 121, 119, 113, 113, 105, 104, 107, 91, 84, 85, 85, 82,
                73, 66, 64, 72, 71, 61, 52, 63, 43, 52, 45, 46, 51, 139)
TRAITS = {  # name: (heritability, phenotype mean, phenotype sd, unit)
    "milk_production": (0.35, 9500.0, 1500.0, "kg/305 d"),
    "fertility": (0.05, 120.0, 30.0, "days open"),
    "disease_resistance": (0.10, 100.0, 10.0, "index"),
    "longevity": (0.08, 60.0, 18.0, "months in herd"),
}
_BASE_DATE = np.datetime64("2012-01-01")
_GEN_INTERVAL_DAYS = 1000  # calves of generation g are born in [g * 1000, g * 1000 + 300)


@dataclass(frozen=True)
class SimulatedHerd:
    """Output of :func:`simulate_herd`.

    ``pedigree`` columns: animal, sire (as recorded), dam, true_sire, sex (1/2), birth_date,
    generation, herd, customer. ``breeding_values`` and ``phenotypes`` have one column per
    trait of :data:`TRAITS`, indexed by animal. ``genotypes`` carries the lab's errors;
    ``true_genotypes`` has the same layout without them.
    """

    genotypes: GenotypeSet
    true_genotypes: np.ndarray
    pedigree: pd.DataFrame
    breeding_values: pd.DataFrame
    phenotypes: pd.DataFrame
    qtl: pd.DataFrame


def simulate_map(*, n_snps: int, rng: np.random.Generator, x_fraction: float = 0.03) -> SnpMap:
    """SNPs spread over the 29 autosomes and X in proportion to length (X: ``x_fraction``)."""
    mb = np.array(COW_CHROM_MB, dtype=float)
    share = np.r_[mb[:29] / mb[:29].sum() * (1 - x_fraction), x_fraction]
    per = np.floor(share * n_snps).astype(int)
    per[0] += n_snps - per.sum()
    chrom = np.repeat([str(c) for c in range(1, 30)] + [COW_X], per)
    pos = np.concatenate(
        [np.sort(rng.choice(int(L * 1e6), size=k, replace=False)) + 1 for L, k in zip(mb, per)]
    )
    bases = np.array(["A", "C", "G", "T"])
    pair = rng.integers(0, 4, size=(n_snps, 2))
    pair[:, 1] = (pair[:, 0] + rng.integers(1, 4, size=n_snps)) % 4
    return SnpMap.from_columns(
        [f"SIM{i:06d}" for i in range(n_snps)], chrom=chrom, pos=pos,
        allele_a=bases[pair[:, 0]], allele_b=bases[pair[:, 1]],
    )


def _generations(n_animals, n_founders, n_generations, rng):
    """Generation number and sex of every animal (founders are generation 0)."""
    sizes = np.full(n_generations, (n_animals - n_founders) // n_generations)
    sizes[: (n_animals - n_founders) % n_generations] += 1
    gen = np.repeat(np.arange(n_generations + 1), np.r_[n_founders, sizes])
    sex = rng.integers(1, 3, size=n_animals).astype(np.int8)
    sex[:n_founders:10] = 1  # enough founder bulls
    return gen, sex


def simulate_herd(
    *,
    n_animals: int = 1000,
    n_snps: int = 6000,
    seed: int = 0,
    n_generations: int = 4,
    founder_fraction: float = 0.15,
    n_ai_sires: int = 8,
    ai_fraction: float = 0.8,
    n_herds: int = 6,
    n_customers: int = 3,
    n_qtl: int = 100,
    missing_rate: float = 0.005,
    bad_sample_fraction: float = 0.01,
    bad_snp_fraction: float = 0.01,
    error_rate: float = 0.0005,
    wrong_sire_rate: float = 0.03,
    block: int = 512,
) -> SimulatedHerd:
    """Simulate a herd; see the module docstring for the model.

    Bad samples get ~20 % missing calls and bad SNPs ~30 %, so QC has something to find.
    """
    if n_animals < 10 or n_snps < 40:
        raise ValueError("simulate at least 10 animals and 40 SNPs")
    rng = np.random.default_rng(seed)
    snps = simulate_map(n_snps=n_snps, rng=rng)
    n_f = max(4, int(round(n_animals * founder_fraction)))
    gen, sex = _generations(n_animals, n_f, n_generations, rng)
    freq = np.clip(rng.beta(0.5, 0.5, size=n_snps), 0.02, 0.98)
    nbytes = (n_snps + 7) // 8
    haps = np.zeros((2, n_animals, nbytes), dtype=np.uint8)
    for h in range(2):
        haps[h, :n_f] = np.packbits(rng.random((n_f, n_snps)) < freq, axis=1, bitorder="little")
    is_x = snps.chrom == COW_X
    founder_bulls = np.flatnonzero(sex[:n_f] == 1)
    haps[0, founder_bulls] = _hemizygous_x(haps[0, founder_bulls], haps[1, founder_bulls],
                                           sex[founder_bulls], is_x)
    qtl = _qtl(snps, n_qtl, rng)
    sire = np.full(n_animals, -1)
    dam = np.full(n_animals, -1)
    for g in range(1, n_generations + 1):
        kids = np.flatnonzero(gen == g)
        older = np.flatnonzero(gen < g)
        bulls, cows = older[sex[older] == 1], older[sex[older] == 2]
        merit = _true_values(haps, bulls, qtl, n_snps)["milk_production"]
        ai = bulls[np.argsort(-merit)[:n_ai_sires]]
        use_ai = rng.random(len(kids)) < ai_fraction
        sire[kids] = np.where(use_ai, rng.choice(ai, len(kids)), rng.choice(bulls, len(kids)))
        dam[kids] = rng.choice(cows, len(kids))
        for b0 in range(0, len(kids), block):
            k = kids[b0 : b0 + block]
            pat = _gametes(haps, sire[k], snps, rng)
            mat = _gametes(haps, dam[k], snps, rng)
            pat = _hemizygous_x(pat, mat, sex[k], is_x)
            haps[0, k], haps[1, k] = pat, mat
    true_codes = np.empty((n_animals, (n_snps + 3) // 4), dtype=np.uint8)
    observed = np.empty_like(true_codes)
    miss_sample = np.where(rng.random(n_animals) < bad_sample_fraction, 0.2, missing_rate)
    miss_snp = np.where(rng.random(n_snps) < bad_snp_fraction, 0.3, 0.0)
    for b0 in range(0, n_animals, block):
        d = _dosages(haps[:, b0 : b0 + block], n_snps)
        true_codes[b0 : b0 + block] = pack_codes(d)
        observed[b0 : b0 + block] = pack_codes(
            _lab_errors(d, miss_sample[b0 : b0 + block], miss_snp, error_rate, rng)
        )
    ids = np.array([f"SIMCAN{i:09d}" for i in range(n_animals)])
    ped = _pedigree_table(ids, sire, dam, sex, gen, wrong_sire_rate, n_herds, n_customers, rng)
    bv = pd.DataFrame(_true_values(haps, np.arange(n_animals), qtl, n_snps), index=ids)
    bv = _scale_to_founders(bv, n_f)
    return SimulatedHerd(
        genotypes=GenotypeSet(packed=observed, samples=ids, snps=snps, sex=sex),
        true_genotypes=true_codes,
        pedigree=ped,
        breeding_values=bv,
        phenotypes=_phenotypes(bv, rng),
        qtl=qtl,
    )


def _bits(haps_rows: np.ndarray, n_snps: int) -> np.ndarray:
    return np.unpackbits(haps_rows, axis=-1, count=n_snps, bitorder="little")


def _dosages(hap_block: np.ndarray, n_snps: int) -> np.ndarray:
    return _bits(hap_block[0], n_snps) + _bits(hap_block[1], n_snps)


def _gametes(haps, parents, snps: SnpMap, rng) -> np.ndarray:
    """Recombined gametes of ``parents``: per chromosome a random start haplotype and
    Poisson(length in Morgans) crossovers at uniform physical positions."""
    m = len(snps)
    toggles = np.zeros((len(parents), m), dtype=np.uint8)
    starts = np.flatnonzero(np.r_[True, snps.chrom[1:] != snps.chrom[:-1]])
    ends = np.r_[starts[1:], m]
    for s, e in zip(starts, ends, strict=True):
        toggles[:, s] ^= rng.integers(0, 2, size=len(parents), dtype=np.uint8)
        pos = snps.pos[s:e]
        n_co = rng.poisson((pos[-1] - pos[0]) / 1e8, size=len(parents))
        who = np.repeat(np.arange(len(parents)), n_co)
        at = s + np.searchsorted(pos, rng.uniform(pos[0], pos[-1], size=n_co.sum()))
        np.bitwise_xor.at(toggles, (who, np.minimum(at, e - 1)), 1)
    mask = np.packbits(np.bitwise_xor.accumulate(toggles, axis=1), axis=1, bitorder="little")
    h0, h1 = haps[0, parents], haps[1, parents]
    return h0 ^ ((h0 ^ h1) & mask)


def _hemizygous_x(pat, mat, sex, is_x) -> np.ndarray:
    """Bull calves get a Y from the sire: their X is the dam's, stored on both haplotypes."""
    if not is_x.any():
        return pat
    xbits = np.packbits(is_x, bitorder="little")
    male = (sex == 1)[:, None]
    return np.where(male, (pat & ~xbits) | (mat & xbits), pat)


def _lab_errors(d, miss_sample, miss_snp, error_rate, rng) -> np.ndarray:
    codes = d.astype(np.uint8)
    err = rng.random(d.shape) < error_rate
    codes[err] = (codes[err] + rng.integers(1, 3, size=int(err.sum()), dtype=np.uint8)) % 3
    p_miss = 1 - (1 - miss_sample[:, None]) * (1 - miss_snp[None, :])
    codes[rng.random(d.shape, dtype=np.float32) < p_miss] = MISSING_CODE
    return codes


def _qtl(snps: SnpMap, n_qtl: int, rng) -> pd.DataFrame:
    autosomal = np.flatnonzero(snps.chrom != COW_X)
    rows = []
    for trait in TRAITS:
        at = np.sort(rng.choice(autosomal, size=min(n_qtl, len(autosomal)), replace=False))
        rows.append(pd.DataFrame({"trait": trait, "snp_index": at,
                                  "effect": rng.gamma(0.4, 1.0, len(at)) * rng.choice([-1, 1], len(at))}))
    return pd.concat(rows, ignore_index=True)


def _true_values(haps, animals, qtl: pd.DataFrame, n_snps: int) -> dict[str, np.ndarray]:
    idx = np.unique(qtl["snp_index"].to_numpy())
    d = _dosages(haps[:, animals], n_snps)[:, idx].astype(np.float64)
    out = {}
    for trait, q in qtl.groupby("trait", sort=False):
        out[trait] = d[:, np.searchsorted(idx, q["snp_index"])] @ q["effect"].to_numpy()
    return out


def _scale_to_founders(bv: pd.DataFrame, n_founders: int) -> pd.DataFrame:
    """Express values in phenotypic SD units with founder genetic variance = h^2, mean 0."""
    base = bv.iloc[:n_founders]
    scaled = (bv - base.mean()) / base.std(ddof=0).replace(0, 1)
    return scaled * np.sqrt([TRAITS[t][0] for t in bv.columns])


def _phenotypes(bv: pd.DataFrame, rng) -> pd.DataFrame:
    out = {}
    for trait, (h2, mean, sd, _unit) in TRAITS.items():
        noise = rng.normal(0.0, np.sqrt(1 - h2), len(bv))
        out[trait] = mean + sd * (bv[trait].to_numpy() + noise)
    return pd.DataFrame(out, index=bv.index)


def _pedigree_table(ids, sire, dam, sex, gen, wrong_rate, n_herds, n_customers, rng):
    n = len(ids)
    recorded = sire.copy()
    has = np.flatnonzero(sire >= 0)
    wrong = has[rng.random(len(has)) < wrong_rate]
    for k in wrong:  # another bull of an older generation
        bulls = np.flatnonzero((sex == 1) & (gen < gen[k]) & (np.arange(n) != sire[k]))
        recorded[k] = rng.choice(bulls)
    born = _BASE_DATE + (gen * _GEN_INTERVAL_DAYS + rng.integers(0, 300, n)).astype("timedelta64[D]")
    herd = rng.integers(0, n_herds, n)
    herd[dam >= 0] = -1
    for g in range(1, gen.max() + 1):  # calves are born in their dam's herd
        k = np.flatnonzero(gen == g)
        herd[k] = herd[dam[k]]
    name = lambda i: np.where(i >= 0, ids[np.maximum(i, 0)], None)  # noqa: E731
    return pd.DataFrame(
        {
            "animal": ids, "sire": name(recorded), "dam": name(dam), "true_sire": name(sire),
            "sex": sex, "birth_date": born, "generation": gen,
            "herd": [f"HERD{h:03d}" for h in herd],
            "customer": [f"CUST{h % n_customers:02d}" for h in herd],
        }
    )
