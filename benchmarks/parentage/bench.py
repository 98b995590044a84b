"""Benchmark of sire discovery: the opposing-homozygote method before issue #18 vs the LOD.

Simulates a herd with :func:`reprotech_core.genomics.simulate.simulate_herd` (linked SNPs,
AI bulls whose sons become bulls, genotyping errors, missing calls, ~3 % of recorded sires
replaced by another bull of an older generation) and, in the same process, asks each method
for the sire of every calf with a planted wrong sire, among all genotyped bulls (every true
sire is genotyped). A second pass removes the true sires of these calves from the candidates, so
only their relatives (their sires, sons, brothers) remain: nobody may be named then.
Usage (see README.md):

    python benchmarks/parentage/bench.py --animals 2000 --snps 60000

Prints one JSON line per method and a Markdown table (seconds: best of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reprotech_core.evaluation.grm import DEFAULT_BLOCK_SNPS, unpack_snp_block
from reprotech_core.evaluation.sire_discovery import FOUND, discover_sires
from reprotech_core.genomics.packing import MISSING
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet, autosomes


def opposing_discovery(geno: GenotypeSet, offspring: Sequence[str], candidates: Sequence[str],
                       *, max_opposing_rate: float = 0.01, min_informative: int = 500
                       ) -> pd.DataFrame:
    """The discovery before issue #18 (for comparison only): the candidate with the lowest
    opposing-homozygote rate, "found" only when he is the single compatible bull."""
    index = {str(a): i for i, a in enumerate(geno.samples)}
    off = np.array([index[a] for a in offspring])
    cand = np.array([index[a] for a in candidates])
    n_snps = len(geno.snps)
    n_opp = np.zeros((off.size, cand.size), dtype=np.float32)
    n_inf = np.zeros_like(n_opp)
    sub = geno.packed[np.concatenate([off, cand])]
    for j0 in range(0, n_snps, DEFAULT_BLOCK_SNPS):
        d = unpack_snp_block(sub, n_snps, j0, min(j0 + DEFAULT_BLOCK_SNPS, n_snps))
        o, c = d[:off.size], d[off.size:]
        c0, c2 = (c == 0).astype(np.float32), (c == 2).astype(np.float32)
        n_opp += (o == 0).astype(np.float32) @ c2.T + (o == 2).astype(np.float32) @ c0.T
        n_inf += (o != MISSING).astype(np.float32) @ (c0 + c2).T
    rate = np.divide(n_opp, n_inf, out=np.full(n_opp.shape, np.inf), where=n_inf > 0)
    rate[n_inf < min_informative] = np.inf
    rate[off[:, None] == cand[None, :]] = np.inf
    best = rate.argmin(axis=1)
    compatible = (rate <= max_opposing_rate).sum(axis=1)
    status = np.select([compatible == 1, compatible > 1], [FOUND, "ambiguous"], "no sire found")
    return pd.DataFrame({"animal": list(offspring), "status": status,
                         "sire": [candidates[b] if s == FOUND else None
                                  for b, s in zip(best, status, strict=True)]})


def score(found: pd.DataFrame, truth: pd.Series) -> dict[str, int]:
    named = found[found["status"] == FOUND]
    right = int((named["sire"].to_numpy() == truth.loc[named["animal"]].to_numpy()).sum())
    return {"named_true": right, "false": len(named) - right,
            "ambiguous": int((found["status"] == "ambiguous").sum()),
            "no_sire": int((found["status"] == "no sire found").sum()),
            "undetermined": int((found["status"] == "undetermined").sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--animals", type=int, default=2000)
    ap.add_argument("--snps", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--error-rate", type=float, default=0.0005, help="genotyping errors")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per method (best kept)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    herd = simulate_herd(n_animals=args.animals, n_snps=args.snps, seed=args.seed,
                         error_rate=args.error_rate)
    geno = autosomes(herd.genotypes)  # a bull passes no X to his sons
    t_sim = time.perf_counter() - t0
    ped = herd.pedigree.set_index("animal")
    truth = ped["true_sire"]
    wrong = ped.index[ped["sire"].notna() & (ped["sire"] != ped["true_sire"])].tolist()
    bulls = ped.index[ped["sex"] == 1].tolist()
    assert set(truth.loc[wrong]) <= set(bulls)  # every true sire is a genotyped bull
    dams, births = ped["dam"].to_dict(), ped["birth_date"].to_dict()
    runs = {
        "opposing homozygotes (before #18)": lambda kids, cand: opposing_discovery(
            geno, kids, cand),
        "LOD, pair (dams ignored)": lambda kids, cand: discover_sires(
            geno, kids, cand, birth_dates=None),
        "LOD, pair + age rule": lambda kids, cand: discover_sires(
            geno, kids, cand, birth_dates=births),
        "LOD, trio": lambda kids, cand: discover_sires(
            geno, kids, cand, birth_dates=None, dams=dams),
        "LOD, trio + age rule": lambda kids, cand: discover_sires(
            geno, kids, cand, dams=dams, birth_dates=births),
    }
    rows = []
    for name, run in runs.items():
        seconds = np.inf
        for _ in range(args.repeat):  # the machine is shared: keep the best time
            t = time.perf_counter()
            found = run(wrong, bulls)
            seconds = min(seconds, time.perf_counter() - t)
        # the true sires not genotyped: only their relatives (and the rest) are candidates
        orphans = run(wrong, sorted(set(bulls) - set(truth.loc[wrong])))
        row = {"method": name, "animals": args.animals, "snps": len(geno.snps),
               "error_rate": args.error_rate,
               "wrong_sires": len(wrong), "bulls": len(bulls), **score(found, truth),
               "seconds": round(seconds, 2),
               "named_without_true_sire": int((orphans["status"] == FOUND).sum())}
        rows.append(row)
        print(json.dumps(row), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\nsimulation {t_sim:.1f} s; peak RSS {peak:.2f} GiB\n")
    print("| method | true sire named | false | ambiguous | no sire found | best s | "
          "named without true sire |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["wrong_sires"]
        print(f"| {r['method']} | {r['named_true']}/{n} ({100 * r['named_true'] / n:.1f} %) | "
              f"{r['false']} | {r['ambiguous']} | {r['no_sire']} | {r['seconds']} | "
              f"{r['named_without_true_sire']}/{n} |")


if __name__ == "__main__":
    main()
