"""Benchmark: imputing low-density animals to the reference chip with Beagle 5, in one run.

A herd from :func:`reprotech_core.genomics.simulate.simulate_herd` (meiosis with crossovers,
AI sires chosen on merit); a share of the youngest generation is typed on a low-density chip
(a random subset of the reference chip's SNPs), everyone else on the reference chip. The
low-density animals are imputed with :func:`reprotech_core.genomics.imputation.
impute_to_reference` (Beagle 5, the platform's settings' defaults) and we report:

- concordance and dosage r² on the masked SNPs (the reference SNPs the low-density chip
  lacks), against the simulated true genotypes, next to chance (the commonest genotype);
- Beagle's wall time and peak memory (Java is a child process: ``RUSAGE_CHILDREN``), and
  this Python process's peak;
- GBLUP accuracy (correlation of GEBV with the true breeding value, milk, h² 0.35) of the
  low-density animals, which have no records of their own: after imputation, with their full
  genotypes (the ceiling), and dropped (what evaluations did before: no GEBV at all).

Usage (see README.md): ``python benchmarks/imputation/bench.py --animals 1000 --snps 10000``
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pandas as pd

from reprotech_core.evaluation.accuracy import realised_accuracy
from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.genomics.beagle import Beagle
from reprotech_core.genomics.codes import codes_of
from reprotech_core.genomics.imputation import concordance, impute_to_reference
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet, autosomes, select_samples, select_snps
from reprotech_core.settings import get_settings

TRAIT = "milk_production"


def _gib(usage: int) -> float:
    return round(usage / 1024**2, 2)  # Linux ru_maxrss: KiB


def _gebv_accuracy(geno: GenotypeSet, table: pd.DataFrame, target: list[str]) -> dict:
    t0 = time.perf_counter()
    ids = [str(s) for s in geno.samples]
    g = vanraden_grm(geno).matrix
    rec = table.loc[table[TRAIT].notna() & table["animal"].isin(ids),
                    ["animal", "herd", "birth_year", TRAIT]]
    res = evaluate_traits(g, ids, rec, traits=[TRAIT])[0]
    gebv = res.animals.set_index("animal")["gebv"]
    tbv = table.set_index("animal")["tbv"]
    here = [a for a in target if a in gebv.index]
    return {"evaluated": len(here), "seconds": round(time.perf_counter() - t0, 1),
            "accuracy": round(realised_accuracy(gebv.loc[here].to_numpy(),
                                                tbv.loc[here].to_numpy()), 3) if here else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--animals", type=int, default=1000)
    ap.add_argument("--snps", type=int, default=10000)
    ap.add_argument("--low-share", type=float, default=0.2, help="share of animals on the LD chip")
    ap.add_argument("--ld-snps", type=int, default=1250, help="SNPs on the low-density chip")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t0 = time.perf_counter()
    herd = simulate_herd(n_animals=args.animals, n_snps=args.snps, seed=args.seed,
                         n_generations=4, n_herds=10, wrong_sire_rate=0.0)
    g = autosomes(herd.genotypes)
    ped = herd.pedigree
    rng = np.random.default_rng(args.seed + 1)
    young = np.flatnonzero((ped["generation"] == ped["generation"].max()).to_numpy())
    n_low = int(round(args.low_share * args.animals))
    low = np.zeros(len(g.samples), bool)
    low[rng.choice(young, size=min(n_low, len(young)), replace=False)] = True
    ld_idx = np.sort(rng.choice(len(g.snps), size=args.ld_snps, replace=False))
    panels = {"REF": select_samples(g, ~low), "LD": select_snps(select_samples(g, low), ld_idx)}
    simulated_s = time.perf_counter() - t0

    s = get_settings()
    engine = Beagle(command=s.imputation_command, nthreads=s.imputation_threads,
                    ne=s.imputation_ne)
    t1 = time.perf_counter()
    result = impute_to_reference(panels, engine, min_common_snps=100)
    impute_s = time.perf_counter() - t1

    truth = codes_of(herd.true_genotypes)[:, : len(herd.genotypes.snps)]
    truth = truth[:, np.isin(herd.genotypes.snps.chrom, list(map(str, range(1, 30))))]
    row = {a: i for i, a in enumerate(g.samples)}
    imp = np.flatnonzero(result.imputed)
    true_rows = truth[[row[a] for a in result.genotypes.samples[imp]]]
    got = codes_of(result.genotypes.packed)[imp][:, : len(g.snps)]
    masked = np.where(result.observed_mask(), 3, true_rows)
    masked[:, ld_idx] = 3  # SNPs of the LD chip are observed, not imputed
    acc = concordance(masked, got, result.dosages)
    ref_codes = codes_of(panels["REF"].packed)[:, : len(g.snps)]
    commonest = np.array([np.bincount(c[c != 3], minlength=3).argmax() for c in ref_codes.T])
    chance = concordance(masked, np.broadcast_to(commonest, masked.shape))["concordance"]

    table = pd.DataFrame({"animal": ped["animal"].astype(str), "herd": ped["herd"],
                          "birth_year": pd.to_datetime(ped["birth_date"]).dt.year,
                          "tbv": herd.breeding_values[TRAIT].to_numpy(),
                          TRAIT: herd.phenotypes[TRAIT].to_numpy()})
    target = [str(a) for a in g.samples[low]]
    table.loc[table["animal"].isin(target), TRAIT] = np.nan  # predicted, not measured
    order = np.argsort(result.genotypes.samples)
    imputed_geno = select_samples(result.genotypes, order)
    gebv = {"full genotypes": _gebv_accuracy(g, table, target),
            "imputed": _gebv_accuracy(imputed_geno, table, target),
            "dropped (before)": _gebv_accuracy(panels["REF"], table, target)}
    out = {
        "animals": args.animals, "snps_reference": len(g.snps), "snps_low_density": args.ld_snps,
        "low_density_animals": int(low.sum()), "imputed_animals": result.report["imputed_animals"],
        "simulate_s": round(simulated_s, 1), "impute_s": round(impute_s, 1),
        "beagle_peak_gib": _gib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
        "python_peak_gib": _gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        "masked_calls": acc["calls"], "concordance": round(acc["concordance"], 4),
        "dosage_r2": round(acc["dosage_r2"], 4), "chance_concordance": round(chance, 4),
        "gebv_accuracy_low_density": gebv, "engine": result.report["engine"],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
