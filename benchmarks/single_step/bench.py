"""Benchmark: single-step GBLUP vs GBLUP (genotyped only) vs pedigree BLUP, in one run.

A herd from :func:`reprotech_core.genomics.simulate.simulate_herd` (meiosis with crossovers,
AI sires chosen on merit, no wrong sires); only part of it is genotyped (every sire with
progeny plus a random share of the rest); the youngest generation has no records. The
accuracy is the correlation of the evaluation with the true breeding value, for young
genotyped and young non-genotyped animals separately. Every method runs in its own Python
process, so its peak RSS (``ru_maxrss``) is its own. Usage (see README.md):

    python benchmarks/single_step/bench.py all --genotyped 2000 --others 6000 --snps 10000 \
        --workdir DIR

Stages: ``prepare`` (simulate; write genotypes, pedigree, records, TBVs), ``gblup`` (GRM of
the genotyped + REML + GBLUP; writes its variance components), ``ssgblup`` (H^-1 from the
whole pedigree and G, MME with GBLUP's variance components), ``pblup`` (the same MME with
H^-1 = A^-1). ``all`` runs them in order and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.evaluation.accuracy import realised_accuracy
from reprotech_core.evaluation.gblup import evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.reml import VarianceComponents
from reprotech_core.evaluation.single_step import h_inverse, single_step_gblup
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap

TRAIT = "milk_production"
STAGES = ("prepare", "gblup", "ssgblup", "pblup")


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def prepare(n_geno: int, n_other: int, m: int, work: Path, seed: int) -> dict:
    n = n_geno + n_other
    herd = simulate_herd(n_animals=n, n_snps=m, seed=seed, n_generations=4, n_herds=20,
                         wrong_sire_rate=0.0)
    ped = herd.pedigree
    rng = np.random.default_rng(seed + 1)
    sires = set(ped["sire"].dropna())
    is_sire = ped["animal"].isin(sires).to_numpy()
    n_rest = n_geno - int(is_sire.sum())
    if n_rest < 0:
        raise ValueError(f"{int(is_sire.sum())} sires: genotype at least that many")
    rest = rng.choice(np.flatnonzero(~is_sire), size=n_rest, replace=False)
    genotyped = is_sire.copy()
    genotyped[rest] = True
    young = (ped["generation"] == ped["generation"].max()).to_numpy()
    table = pd.DataFrame({
        "animal": ped["animal"], "sire": ped["sire"], "dam": ped["dam"], "herd": ped["herd"],
        "birth_year": pd.to_datetime(ped["birth_date"]).dt.year, "genotyped": genotyped,
        "young": young, "tbv": herd.breeding_values[TRAIT].to_numpy(),
        TRAIT: np.where(young, np.nan, herd.phenotypes[TRAIT].to_numpy()),
    })
    table.to_csv(work / "animals.csv", index=False)
    np.save(work / "packed.npy", herd.genotypes.packed[genotyped])
    return {"animals": n, "genotyped": int(genotyped.sum()), "sires": int(is_sire.sum()),
            "young": int(young.sum()), "young_genotyped": int((young & genotyped).sum()),
            "records": int((~young).sum()), "records_genotyped": int((~young & genotyped).sum())}


def _grm(work: Path, table: pd.DataFrame, m: int) -> tuple[np.ndarray, list[str]]:
    ids = table.loc[table["genotyped"], "animal"].astype(str).tolist()
    geno = GenotypeSet(packed=np.load(work / "packed.npy"), samples=np.array(ids),
                       snps=SnpMap.from_columns([f"snp{j}" for j in range(m)]))
    return vanraden_grm(geno).matrix, ids


def _accuracy(table: pd.DataFrame, gebv: pd.Series) -> dict:
    t = table.set_index("animal")
    out = {}
    for name, mask in (("young_genotyped", t["young"] & t["genotyped"]),
                       ("young_not_genotyped", t["young"] & ~t["genotyped"])):
        ids = t.index[mask]
        ids = ids[ids.isin(gebv.index)]
        out[name] = round(realised_accuracy(gebv.loc[ids].to_numpy(),
                                            t.loc[ids, "tbv"].to_numpy()), 3) if len(ids) > 2 \
            else None
    return out


def run_stage(stage: str, args: argparse.Namespace) -> dict:
    work, m = args.workdir, args.snps
    t0 = time.perf_counter()
    if stage == "prepare":
        out = prepare(args.genotyped, args.others, m, work, args.seed)
        return {"stage": stage, "seconds": round(time.perf_counter() - t0, 1), **out}
    table = pd.read_csv(work / "animals.csv", dtype={"sire": str, "dam": str})
    rec = table.loc[table[TRAIT].notna(), ["animal", "herd", "birth_year", TRAIT]]
    t0 = time.perf_counter()
    out: dict = {}
    if stage == "gblup":
        g, ids = _grm(work, table, m)
        out["grm_s"] = round(time.perf_counter() - t0, 1)
        res = evaluate_traits(g, ids, rec[rec["animal"].isin(ids)], traits=[TRAIT])[0]
        vc = res.variances
        (work / "variances.json").write_text(json.dumps(
            {"sigma_u2": vc.sigma_u2, "sigma_e2": vc.sigma_e2, "h2": vc.h2}))
        out["h2_reml"] = round(vc.h2, 3)
        gebv = res.animals.set_index("animal")["gebv"]
    else:
        vc_json = json.loads((work / "variances.json").read_text())
        vc = VarianceComponents(**vc_json, se_h2=float("nan"), loglik=float("nan"))
        ped = table[["animal", "sire", "dam"]]
        if stage == "ssgblup":
            g, ids = _grm(work, table, m)
            out["grm_s"] = round(time.perf_counter() - t0, 1)
            t1 = time.perf_counter()
            hinv = h_inverse(ped, g, ids, blend=0.05)
            del g
        else:
            t1 = time.perf_counter()
            hinv = h_inverse(ped, None, [])
        out["h_inverse_s"] = round(time.perf_counter() - t1, 1)
        t2 = time.perf_counter()
        res = single_step_gblup(hinv, rec, TRAIT, variances=vc)
        out.update(solve_s=round(time.perf_counter() - t2, 1), solver=res.solver,
                   iterations=res.iterations, reliability=res.reliability_method)
        if hinv.alignment is not None:
            out["align_alpha"] = round(hinv.alignment.alpha, 4)
            out["align_beta"] = round(hinv.alignment.beta, 4)
        gebv = res.animals.set_index("animal")["gebv"]
    return {"stage": stage, "seconds": round(time.perf_counter() - t0, 1),
            "peak_gib": round(peak_gib(), 2), **out, **_accuracy(table, gebv)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=[*STAGES, "all"])
    ap.add_argument("--genotyped", type=int, default=2000)
    ap.add_argument("--others", type=int, default=6000)
    ap.add_argument("--snps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.stage != "all":
        print(json.dumps(run_stage(args.stage, args)), flush=True)
        return
    rows = {}
    for stage in STAGES:
        cmd = [sys.executable, __file__, stage, "--genotyped", str(args.genotyped), "--others",
               str(args.others), "--snps", str(args.snps), "--seed", str(args.seed),
               "--workdir", str(args.workdir)]
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows[stage] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(rows[stage]), flush=True)
    print(f"\n{args.genotyped} genotyped + {args.others} not, {args.snps} SNPs, "
          f"{rows['prepare']['young']} young animals without records "
          f"({rows['prepare']['young_genotyped']} genotyped)")
    print("| method | accuracy young genotyped | accuracy young not genotyped | seconds "
          "| peak GiB |\n|---|---|---|---|---|")
    names = {"ssgblup": "ssGBLUP", "gblup": "GBLUP (genotyped only)", "pblup": "pedigree BLUP"}
    for stage in ("ssgblup", "gblup", "pblup"):
        r = rows[stage]
        ng = r["young_not_genotyped"] if r["young_not_genotyped"] is not None else "— (no value)"
        print(f"| {names[stage]} | {r['young_genotyped']} | {ng} | {r['seconds']} "
              f"| {r['peak_gib']} |")


if __name__ == "__main__":
    main()
