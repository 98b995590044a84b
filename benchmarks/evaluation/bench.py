"""Benchmark of the genomic evaluation: GRM, REML + GBLUP (4 traits), SNP-BLUP, plink2.

Every stage runs in its own Python process so its peak RSS (``ru_maxrss``) is its own.
Usage (see README.md):

    python benchmarks/evaluation/bench.py all --n 2000 --snps 60000 --workdir DIR

Stages: ``prepare`` (simulate and pack genotypes, phenotypes, a PLINK .bed for plink2),
``gemm`` (float32 GEMM rate of this machine, the floor), ``syrk`` (float32 SYRK of the same
``n x m`` product, in 4,096-column blocks: the BLAS floor measured directly), ``grm`` (the
popcount kernel, ``kernel="popcount"``), ``grm_blas`` (the BLAS reference path), ``evaluate`` (GRM + REML +
4 traits + reliabilities: the full evaluation), ``snpblup`` (one trait, variances given),
``plink`` (plink2 ``--make-rel cov meanimpute``). ``all`` runs them in order and prints a
Markdown table. Prints one JSON line per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.linalg import blas

from reprotech_core.evaluation.gblup import TRAITS, evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.simulate import phenotypes, simulate_herd, true_breeding_values
from reprotech_core.evaluation.snpblup import snp_blup
from reprotech_core.genomics.packing import pack, unpack
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap

H2 = {"milk_production": 0.35, "fertility": 0.05, "disease_resistance": 0.10, "longevity": 0.15}
STAGES = ("prepare", "gemm", "syrk", "grm", "grm_blas", "evaluate", "snpblup", "plink")
EXTRA = ("snpblup_stream",)  # not in "all": SNP-BLUP unpacking every iteration (no cache)


def peak_gib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024**2  # Linux: KiB


def write_bed(prefix: Path, packed: np.ndarray, n_snps: int, block: int = 4096) -> None:
    """SNP-major PLINK .bed from the packed store (test/benchmark helper, not the product's)."""
    n = packed.shape[0]
    code = np.array([0b11, 0b10, 0b00, 0b01], np.uint8)  # dosage 0,1,2,missing(-1 -> idx 3)
    with open(prefix.with_suffix(".bed"), "wb") as f:
        f.write(bytes([0x6C, 0x1B, 0x01]))
        for j0 in range(0, n_snps, block):
            j1 = min(j0 + block, n_snps)
            b0, b1 = j0 // 4, (j1 + 3) // 4
            d = unpack(packed[:, b0:b1], (b1 - b0) * 4)[:, : j1 - j0]
            c = code[np.where(d < 0, 3, d)].T  # (snps, n)
            c = np.pad(c, ((0, 0), (0, (-n) % 4)))
            c = c.reshape(c.shape[0], -1, 4)
            f.write((c[..., 0] | c[..., 1] << 2 | c[..., 2] << 4 | c[..., 3] << 6).tobytes())
    prefix.with_suffix(".bim").write_text(
        "".join(f"{1 + j // 2000}\ts{j}\t0\t{(j % 2000 + 1) * 1000}\tB\tA\n"
                for j in range(n_snps)))
    prefix.with_suffix(".fam").write_text("".join(f"i{i}\ti{i}\t0\t0\t0\t-9\n" for i in range(n)))


def prepare(n: int, m: int, work: Path) -> dict:
    rng = np.random.default_rng(2026)
    herd = simulate_herd(n_founders=n // 2, n_per_generation=n // 4, n_generations=2, n_snps=m,
                         n_sires_per_generation=50, n_herds=20, rng=rng)
    x = herd.dosages
    x[rng.random(x.shape) < 0.005] = -1  # 0.5 % missing calls
    packed = pack(x)
    np.save(work / "packed.npy", packed)
    rec = herd.animals[["animal", "herd", "birth_year"]].copy()
    for trait, h2 in H2.items():
        tbv = true_breeding_values(np.where(x < 0, 1, x), n_qtl=1000, h2=h2, rng=rng)
        rec[trait] = phenotypes(tbv, rec["herd"].to_numpy(), h2=h2, rng=rng)
    young = herd.animals["generation"].to_numpy() == herd.animals["generation"].max()
    young &= rng.random(n) < 0.8  # ~20 % of animals: young, genotyped, no records yet
    rec.loc[young, list(TRAITS)] = np.nan
    rec.to_csv(work / "records.csv", index=False)
    write_bed(work / "plink", packed, m)
    return {"n_records": int((~young).sum())}


def gemm_rate() -> dict:
    """Best of 3 float32 GEMMs (two distinct operands: ``a @ a.T`` would dispatch to syrk,
    which does half the flops, and overstate the rate ~2x)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((4096, 4096), dtype=np.float32) for _ in range(2))
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return {"gflops": 2 * 4096**3 / best / 1e9}


def syrk_floor(n: int, m: int, block: int = 4096) -> dict:
    """Seconds of float32 SYRK ``C += Z_b Z_b'`` over ``m`` columns in blocks (one random block
    reused: the flops and memory traffic are those of the product, without unpacking)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, block), dtype=np.float32)  # C order: z.T is what syrk reads
    acc = np.zeros((n, n), dtype=np.float32, order="F")
    t0 = time.perf_counter()
    for j0 in range(0, m, block):
        zb = z[:, : min(block, m - j0)]
        acc = blas.ssyrk(1.0, zb.T, beta=1.0, c=acc, trans=1, lower=1, overwrite_c=1)
    return {"seconds": round(time.perf_counter() - t0, 2)}


def load(work: Path, m: int) -> tuple[GenotypeSet, pd.DataFrame]:
    rec = pd.read_csv(work / "records.csv")  # one row per animal, in genotype order
    geno = GenotypeSet(packed=np.load(work / "packed.npy"), samples=rec["animal"].astype(str)
                       .to_numpy(), snps=SnpMap.from_columns([f"snp{j}" for j in range(m)]))
    return geno, rec


def run_stage(stage: str, n: int, m: int, work: Path) -> dict:
    """Run one stage; ``seconds`` excludes interpreter start and reading the inputs."""
    out: dict = {}
    if stage in ("grm", "grm_blas", "evaluate", "snpblup", "snpblup_stream"):
        geno, rec = load(work, m)
    t0 = time.perf_counter()
    if stage == "prepare":
        out = prepare(n, m, work)
    elif stage == "gemm":
        out = gemm_rate()
    elif stage == "syrk":
        return {"stage": stage, "n": n, "snps": m, **syrk_floor(n, m),
                "peak_gib": round(peak_gib(), 2), "load_average": os.getloadavg()}
    elif stage in ("grm", "grm_blas"):
        # The floor is measured right before and after, so a neighbour's load on the shared
        # cores moves both: seconds / floor_s is the figure to compare with the 1.5x goal.
        kernel = "popcount" if stage == "grm" else "blas"
        extra = {}
        if kernel == "popcount":  # numba's cached compilation, paid once per install
            t0 = time.perf_counter()
            small = GenotypeSet(geno.packed[:200], geno.samples[:200], geno.snps)
            vanraden_grm(small, kernel="popcount", min_snps=1)
            extra["first_call_s"] = round(time.perf_counter() - t0, 2)
            ref = vanraden_grm(small, kernel="blas", dtype=np.float64, min_snps=1).matrix
            got = vanraden_grm(small, kernel="popcount", min_snps=1).matrix
            extra["max_abs_diff_vs_blas_200"] = float(np.abs(got - ref).max())
        before = gemm_rate()["gflops"]
        t0 = time.perf_counter()
        vanraden_grm(geno, kernel=kernel)
        seconds = time.perf_counter() - t0
        after = gemm_rate()["gflops"]
        rate = (before + after) / 2
        floor = n * n * m / (rate * 1e9)
        return {"stage": stage, "n": n, "snps": m, "seconds": round(seconds, 2),
                "peak_gib": round(peak_gib(), 2), "gemm_gflops_before": round(before),
                "gemm_gflops_after": round(after), "floor_s": round(floor, 2),
                "x_floor": round(seconds / floor, 2), "load_average": os.getloadavg(), **extra}
    elif stage == "evaluate":
        g = vanraden_grm(geno).matrix
        out["grm_s"] = round(time.perf_counter() - t0, 2)
        results = evaluate_traits(g, geno.samples.tolist(), rec)
        for r in results:
            out[r.trait] = {"h2_true": H2[r.trait], "h2": round(r.variances.h2, 4),
                            "se_h2": round(r.variances.se_h2, 4),
                            **{k: round(v, 2) for k, v in r.seconds.items()}}
    elif stage == "snpblup":
        eff, _ = snp_blup(geno, rec, trait="milk_production", h2=H2["milk_production"],
                          tol=1e-6)
        out = {"iterations": eff.iterations}
    elif stage == "snpblup_stream":
        eff, _ = snp_blup(geno, rec, trait="milk_production", h2=H2["milk_production"],
                          tol=1e-6, cache_bytes=0)
        out = {"iterations": eff.iterations}
    elif stage == "plink":
        exe = shutil.which("plink2")
        if exe is None:
            return {"stage": stage, "skipped": "plink2 not installed"}
        subprocess.run([exe, "--cow", "--bfile", str(work / "plink"), "--make-rel", "cov",
                        "meanimpute", "square", "bin", "--threads", "2", "--out",
                        str(work / "plink_rel")], check=True, capture_output=True)
        out["peak_gib"] = round(peak_gib(resource.RUSAGE_CHILDREN), 2)
    seconds = time.perf_counter() - t0
    return {"stage": stage, "n": n, "snps": m, "seconds": round(seconds, 2),
            "peak_gib": round(peak_gib(), 2), **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=[*STAGES, *EXTRA, "all"])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--snps", type=int, default=60_000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--skip", nargs="*", default=[], choices=STAGES)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.stage != "all":
        print(json.dumps(run_stage(args.stage, args.n, args.snps, args.workdir)), flush=True)
        return
    rows = []
    for stage in STAGES:
        if stage in args.skip:
            continue
        proc = subprocess.run([sys.executable, __file__, stage, "--n", str(args.n), "--snps",
                               str(args.snps), "--workdir", str(args.workdir)],
                              check=True, capture_output=True, text=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        rows.append(row)
    summarize(rows)


def summarize(rows: list[dict]) -> None:
    by = {r["stage"]: r for r in rows}
    if "gemm" not in by:
        return
    n, m = rows[0]["n"], rows[0]["snps"]
    floor = by["grm"]["floor_s"] if "grm" in by else n * n * m / (by["gemm"]["gflops"] * 1e9)
    # floor: 2 N^2 M / 2 flops (only one triangle is needed) at the float32 GEMM rate
    print(f"\nN={n} M={m}: float32 GEMM {by['gemm']['gflops']:.0f} GFLOP/s, "
          f"GRM floor {floor:.1f} s (GEMM rate measured around the GRM)")
    syrk = by.get("syrk", {}).get("seconds")
    print("| stage | seconds | x GEMM floor | x SYRK (same run) | peak GiB |\n|---|---|---|---|---|")
    for s in ("syrk", "grm", "grm_blas", "plink", "evaluate", "snpblup"):
        if s in by and "seconds" in by[s]:
            ratio = f"{by[s]['seconds'] / floor:.2f}" if s != "evaluate" else ""
            x_syrk = f"{by[s]['seconds'] / syrk:.2f}" if syrk and s != "evaluate" else ""
            print(f"| {s} | {by[s]['seconds']} | {ratio} | {x_syrk} | {by[s]['peak_gib']} |")


if __name__ == "__main__":
    main()
