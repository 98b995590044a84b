"""Scale curve of the genomic evaluation (issue 22 item 3): time and peak memory by herd size.

Each step runs in its own process (``ru_maxrss`` is that process's peak). Usage (README.md):

    python benchmarks/evaluation/bench_scale.py prepare  --n 20000 --workdir DIR
    python benchmarks/evaluation/bench_scale.py evaluate --n 20000 --workdir DIR [--solver exact]
    python benchmarks/evaluation/bench_scale.py compare  --n 20000 --workdir DIR
    python benchmarks/evaluation/bench_scale.py reliability --n 10000 --workdir DIR [--cores 200]

``--cg-size 8`` (evaluate, reliability, compare) fits contemporary groups of about 8 records
within herd and birth year, each trait its own, each group with its own effect, instead of the
herd: a real herd's thousands of herd-year-seasons (about 12,000 per trait at 100,000 animals).

``prepare`` simulates the herd of ``bench.py`` (founders N/2 then 2 generations of N/4, 50 sires
per generation, 20 herds, 60,000 unlinked SNPs, 0.5 % missing calls, 4 traits, ~20 % of the
youngest generation unrecorded) with the project's simulator
(:mod:`reprotech_core.evaluation.simulate`: its gametes and phenotypes; founders drawn as its
``founder_dosages`` draws them — Beta(0.5, 0.5) frequencies clipped to [0.02, 0.98], two
Bernoulli alleles — from float32 uniforms, 10x faster), in blocks of animals written into the
packed store, so 100,000 animals need the 1.5 GB of packed genotypes rather than 6 GB of
dosages (TBVs come from the calls before missing ones are made), and the pedigree.
``evaluate`` runs the full
evaluation of the four traits (variances, GEBV, reliability of every animal, forward
validation by the LR method as the job runs it) on the path
:func:`~reprotech_core.evaluation.path.choose_path` picks with the default settings, or on the
one given by ``--solver``, and keeps the GEBVs; ``compare`` correlates the two paths' GEBVs;
``reliability`` sets the large-N path's reliabilities against the exact ones by core size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.evaluation.core_reliability import (
    choose_core, core_factor, core_reliabilities, parent_links,
)
from reprotech_core.evaluation.design import class_design
from reprotech_core.evaluation.gblup import (
    DEFAULT_FACTORS, TRAITS, evaluate_traits, given_variances, trait_records,
)
from reprotech_core.evaluation.grm import allele_frequencies, vanraden_grm
from reprotech_core.evaluation.packed_products import z_times
from reprotech_core.evaluation.path import choose_path
from reprotech_core.evaluation.simulate import gametes, phenotypes
from reprotech_core.evaluation.snpblup_multi import evaluate_traits_snpblup
from reprotech_core.genomics.packing import MISSING, pack, packed_width, unpack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.settings import get_settings
from reprotech_core.store.run_validation import (
    ValidationRules, validate_large_run, validate_run,
)

H2 = {"milk_production": 0.35, "fertility": 0.05, "disease_resistance": 0.10, "longevity": 0.15}
BLOCK = 2000  # animals simulated at a time


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def prepare(n: int, m: int, work: Path) -> dict:
    """The herd of ``bench.prepare``, simulated block-wise into the packed store."""
    rng = np.random.default_rng(2026)
    n_f, n_g = n // 2, n // 4
    sizes = [n_f, n_g, n_g]
    total = sum(sizes)
    packed = np.empty((total, packed_width(m)), np.uint8)
    qtl = {t: rng.choice(m, size=1000, replace=False) for t in H2}
    effects = {t: rng.normal(size=1000) for t in H2}
    tbv = {t: np.empty(total) for t in H2}
    sex = rng.choice(["M", "F"], size=total)
    sire = np.full(total, -1)
    dam = np.full(total, -1)
    p_founders = np.clip(rng.beta(0.5, 0.5, size=m), 0.02, 0.98)

    def store(i0: int, x: np.ndarray) -> None:
        for t in H2:
            tbv[t][i0:i0 + len(x)] = x[:, qtl[t]].astype(np.float64) @ effects[t]
        x = x.copy()
        x[rng.random(x.shape, dtype=np.float32) < 0.005] = MISSING
        packed[i0:i0 + len(x)] = pack(x)

    truth = np.empty_like(packed)  # calls before masking, for the next generation's gametes
    start = 0
    for i0 in range(0, n_f, BLOCK):
        x = (rng.random((min(BLOCK, n_f - i0), m), dtype=np.float32) < p_founders).astype(
            np.int8) + (rng.random((min(BLOCK, n_f - i0), m), dtype=np.float32) < p_founders)
        truth[i0:i0 + len(x)] = pack(x)
        store(i0, x)
    prev = np.arange(0, n_f)
    start = n_f
    for size in sizes[1:]:
        males, females = prev[sex[prev] == "M"], prev[sex[prev] == "F"]
        bulls = rng.choice(males, size=50, replace=False)
        sire[start:start + size] = rng.choice(bulls, size=size)
        dam[start:start + size] = rng.choice(females, size=size)
        for i0 in range(start, start + size, BLOCK):
            i1 = min(i0 + BLOCK, start + size)
            x = (gametes(unpack(truth[sire[i0:i1]], m), rng=rng)
                 + gametes(unpack(truth[dam[i0:i1]], m), rng=rng)).astype(np.int8)
            truth[i0:i1] = pack(x)
            store(i0, x)
        prev = np.arange(start, start + size)
        start += size
    del truth
    np.save(work / "packed.npy", packed)
    gen = np.repeat([0, 1, 2], sizes)
    rec = pd.DataFrame({"animal": [f"A{i:06d}" for i in range(total)],
                        "herd": [f"H{h}" for h in rng.integers(0, 20, size=total)],
                        "birth_year": 2015 + gen})
    for t, h2 in H2.items():
        v = tbv[t] - tbv[t].mean()
        v *= np.sqrt(h2 / v.var())
        rec[t] = phenotypes(v, rec["herd"].to_numpy(), h2=h2, rng=rng)
    young = (gen == 2) & (rng.random(total) < 0.8)
    rec.loc[young, list(TRAITS)] = np.nan
    rec.to_csv(work / "records.csv", index=False)
    pd.DataFrame({"animal": rec["animal"],
                  "sire": [rec["animal"][s] if s >= 0 else "" for s in sire],
                  "dam": [rec["animal"][d] if d >= 0 else "" for d in dam]}).to_csv(
        work / "pedigree.csv", index=False)
    return {"animals": total, "n_records": int((~young).sum())}


def load(work: Path, m: int) -> tuple[GenotypeSet, pd.DataFrame]:
    rec = pd.read_csv(work / "records.csv")
    geno = GenotypeSet(packed=np.load(work / "packed.npy"), samples=rec["animal"].astype(str)
                       .to_numpy(), snps=SnpMap.from_columns([f"snp{j}" for j in range(m)]))
    return geno, rec


def parent_rows(work: Path, samples: np.ndarray) -> np.ndarray:
    """Sire and dam rows of every animal (-1 for founders), as the job passes them."""
    row = {a: i for i, a in enumerate(samples)}
    ped = pd.read_csv(work / "pedigree.csv", dtype=str).fillna("")
    return np.array([[row.get(s, -1), row.get(d, -1)]
                     for s, d in zip(ped["sire"], ped["dam"], strict=True)], dtype=np.int64)


def with_groups(rec: pd.DataFrame, size: int, seed: int = 7) -> pd.DataFrame:
    """The records in contemporary groups of about ``size`` within herd and birth year (a
    real herd's herd-year-seasons: thousands of small groups), each trait with its own
    groups (``cg:<trait>``: its records' own dates) and each group with its own effect (SD
    half the trait's), fitted as ``cg`` with the herd dropped, as the job fits them.
    ``size`` 0: the records as simulated (herd and birth year)."""
    if size == 0:
        return rec
    rng = np.random.default_rng(seed)
    cell = rec["herd"] + ":" + rec["birth_year"].astype(str)
    per_cell = cell.map(np.ceil(cell.value_counts() / size).astype(int))
    out = rec.drop(columns=["herd"])
    for t in TRAITS:
        group = cell + ":" + np.floor(rng.random(len(rec)) * per_cell).astype(int).astype(str)
        code = pd.factorize(group)[0]
        effect = rng.normal(0.0, 0.5 * np.nanstd(out[t]), code.max() + 1)
        out[f"cg:{t}"] = group
        out[t] = out[t] + effect[code]
    return out


def fixed_levels(rec: pd.DataFrame) -> int:
    """The most fixed-effect levels of a trait (as the job counts them)."""
    def levels(t: str, f: str) -> int:
        column = f"{f}:{t}" if f"{f}:{t}" in rec.columns else f
        return rec.loc[rec[t].notna(), column].nunique() if column in rec.columns else 0
    return max(sum(levels(t, f) for f in DEFAULT_FACTORS) for t in TRAITS)


def evaluate(n: int, m: int, work: Path, solver: str | None, cg_size: int) -> dict:
    geno, rec = load(work, m)
    rec = with_groups(rec, cg_size)
    settings = get_settings()
    levels = fixed_levels(rec)
    choice = choose_path(len(geno.samples), m, len(TRAITS),
                         memory_gib=settings.evaluation_memory_gib,
                         exact_max_animals=settings.evaluation_exact_max_animals,
                         core_animals=settings.evaluation_reliability_core,
                         fixed_levels=levels)
    solver = solver or choice.solver
    out: dict = {"chosen": choice.solver, "reason": choice.reason, "fixed_levels": levels,
                 "estimated_peak_gib": round(choice.exact_gib if solver == "exact"
                                             else choice.snpblup_gib, 2)}
    ids = geno.samples.tolist()
    born = pd.Series(rec["birth_year"].to_numpy(), index=rec["animal"].astype(str))
    rules = ValidationRules.from_settings(settings)
    t0 = time.perf_counter()
    if solver == "exact":
        g = vanraden_grm(geno).matrix
        out["grm_s"] = round(time.perf_counter() - t0, 2)
        results = evaluate_traits(g, ids, rec, traits=list(TRAITS))
        t1 = time.perf_counter()
        validation = validate_run(g, ids, rec, born, results, rules=rules, min_records=20)
        out["validation_s"] = round(time.perf_counter() - t1, 1)
        del g
    else:
        run = evaluate_traits_snpblup(geno, rec, traits=list(TRAITS),
                                      reml_animals=settings.evaluation_reml_animals,
                                      reliability_core=settings.evaluation_reliability_core,
                                      parents=parent_rows(work, geno.samples))
        results = run.results
        out["iterations"] = run.record["iterations"]
        out["reliability_core"] = run.record["reliability_core"]
        out["reml_subsample"] = run.record["reml_subsample"]
        out["stage_s"] = {k: round(v, 1) for k, v in results[0].seconds.items()}
        t1 = time.perf_counter()
        validation = validate_large_run(geno, rec, born, run, rules=rules, min_records=20)
        out["validation_s"] = round(time.perf_counter() - t1, 1)
        out["partial_iterations"] = validation["partial_iterations"]
    seconds = time.perf_counter() - t0
    out["validation"] = {t: {k: v[k] for k in ("n", "bias_sd", "dispersion",
                                                "ratio_of_accuracies", "accuracy_partial")}
                         if "dispersion" in v else v for t, v in validation["traits"].items()}
    np.savez(work / f"gebv-{solver}{f'-cg{cg_size}' if cg_size else ''}.npz",
             **{r.trait: r.animals["gebv"].to_numpy() for r in results},
             **{f"rel_{r.trait}": r.animals["reliability"].to_numpy() for r in results})
    out["h2"] = {r.trait: round(r.variances.h2, 3) for r in results}
    return {"step": "evaluate", "n": n, "snps": m, "solver": solver, "cg_size": cg_size,
            "seconds": round(seconds, 1), "peak_gib": round(peak_gib(), 2),
            "load_average": os.getloadavg(), **out}


def compare(n: int, work: Path, cg_size: int) -> dict:
    """Correlation of the large-N GEBVs with the exact ones (each path with its own variance
    components, as the job would run it), and how the approximate reliabilities compare."""
    tag = f"-cg{cg_size}" if cg_size else ""
    ex, sb = np.load(work / f"gebv-exact{tag}.npz"), np.load(work / f"gebv-snp-blup{tag}.npz")
    out = {}
    for t in TRAITS:
        out[t] = {"r_gebv": round(float(np.corrcoef(ex[t], sb[t])[0, 1]), 5),
                  "max_abs_diff_sd": round(float(np.abs(ex[t] - sb[t]).max() / ex[t].std()), 4),
                  "r_reliability": round(float(np.corrcoef(ex[f"rel_{t}"],
                                                           sb[f"rel_{t}"])[0, 1]), 3),
                  "mean_reliability_exact": round(float(ex[f"rel_{t}"].mean()), 3),
                  "mean_reliability_approx": round(float(sb[f"rel_{t}"].mean()), 3)}
    return {"step": "compare", "n": n, "cg_size": cg_size, **out}


def reliability(n: int, m: int, work: Path, cores: list[int], against: str,
                cg_size: int) -> dict:
    """The large-N path's reliabilities (:mod:`~reprotech_core.evaluation.core_reliability`)
    for the same variances (h2 of the simulation) by core size, against the exact ones (G
    formed: up to ~10,000 animals), with the core of parents first (as the job) and at
    random; or, where G cannot be formed, against the largest core's (parents first: how
    much the smaller cores move). The time of each core's factor and of the four traits."""
    geno, rec = load(work, m)
    rec = with_groups(rec, cg_size)
    ids = [str(a) for a in geno.samples]
    index = {a: i for i, a in enumerate(ids)}
    designs = {}
    for t in TRAITS:
        obs, r = trait_records(index, rec, t, min_records=20)
        x = class_design(r, factors=DEFAULT_FACTORS)
        designs[t] = (obs, x, given_variances(r[t].to_numpy(dtype=np.float64), x, H2[t]))
    if against == "exact":
        grm = vanraden_grm(geno)
        exact = evaluate_traits(grm.matrix, ids, rec, traits=list(TRAITS), h2=H2)
        reference = {e.trait: e.animals["reliability"].to_numpy() for e in exact}
        g_diag, p, scale = np.diag(grm.matrix).astype(np.float64), np.nan_to_num(grm.p), grm.scale
        del grm, exact
        runs = [(how, c) for c in cores for how in ("parents", "random")]
    else:
        p = np.nan_to_num(allele_frequencies(geno).p)
        scale = float(2.0 * np.sum(p * (1.0 - p)))
        g_diag = z_times(geno.packed, np.arange(len(ids)), p, np.ones(m), power=2) / scale
        reference = None
        runs = [("parents", c) for c in sorted(cores, reverse=True)]
    young = np.ones(len(ids), dtype=bool)
    young[np.unique(np.concatenate([obs for obs, _, _ in designs.values()]))] = False
    parents = parent_rows(work, geno.samples)
    out: dict = {"against": against, "cg_size": cg_size}
    for how, c in runs:
        t0 = time.perf_counter()
        core = choose_core(len(ids), c, parents=parents, unrecorded=young) \
            if how == "parents" else choose_core(len(ids), c)  # as the job chooses, or not
        factor = core_factor(geno.packed, m, p, scale, core, g_diag)
        t1 = time.perf_counter()
        links = parent_links(geno.packed, m, p, scale, factor, parents, np.flatnonzero(young))
        t2 = time.perf_counter()
        rels = {t: core_reliabilities(factor, g_diag, obs, x, vc, links=links)
                for t, (obs, x, vc) in designs.items()}
        t3 = time.perf_counter()
        plain = {t: core_reliabilities(factor, g_diag, obs, x, vc)  # as before the links
                 for t, (obs, x, vc) in designs.items()}
        del factor
        row = {"factor_s": round(t1 - t0, 1), "links_s": round(t2 - t1, 1),
               "links": int(links.child.size), "traits_s": round(t3 - t2, 1)}
        if reference is None:  # the first (largest) core is the reference of the others
            reference = rels
            out[f"{how} {c} (reference)"] = row
            continue
        for t, rel in rels.items():
            ref = reference[t]
            row[t] = {"r": round(float(np.corrcoef(ref, rel)[0, 1]), 3),
                      "mean_reference": round(float(ref.mean()), 3),
                      "mean_core": round(float(rel.mean()), 3),
                      "max_abs_diff": round(float(np.abs(ref - rel).max()), 3),
                      "unrecorded_r": round(float(np.corrcoef(ref[young], rel[young])[0, 1]), 3),
                      "unrecorded_mean_reference": round(float(ref[young].mean()), 3),
                      "unrecorded_mean_core": round(float(rel[young].mean()), 3),
                      "without_links": {
                          "r": round(float(np.corrcoef(ref, plain[t])[0, 1]), 3),
                          "unrecorded_r": round(float(np.corrcoef(
                              ref[young], plain[t][young])[0, 1]), 3),
                          "unrecorded_mean_core": round(float(plain[t][young].mean()), 3)}}
        out[f"{how} {c}"] = row
    return {"step": "reliability", "n": n, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["prepare", "evaluate", "compare", "reliability"])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--snps", type=int, default=60_000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--solver", choices=["exact", "snp-blup"], default=None,
                    help="evaluate: force a path (default: the one the job would choose)")
    ap.add_argument("--cores", default="200,1000,2000",
                    help="reliability: core sizes to compare")
    ap.add_argument("--against", choices=["exact", "largest"], default="exact",
                    help="reliability: the exact reliabilities (G formed) or the largest core's")
    ap.add_argument("--cg-size", type=int, default=0,
                    help="evaluate, reliability, compare: contemporary groups of about this "
                         "many records (0: herd and birth year, as simulated)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.step == "prepare":
        row = {"step": "prepare", "n": args.n, **prepare(args.n, args.snps, args.workdir),
               "seconds": round(time.perf_counter() - t0, 1), "peak_gib": round(peak_gib(), 2)}
    elif args.step == "evaluate":
        row = evaluate(args.n, args.snps, args.workdir, args.solver, args.cg_size)
    elif args.step == "reliability":
        row = reliability(args.n, args.snps, args.workdir,
                          [int(c) for c in args.cores.split(",")], args.against, args.cg_size)
    else:
        row = compare(args.n, args.workdir, args.cg_size)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
