"""GWAS on a simulated 10,000 x 60,000 herd with the GRM precomputed, next to PLINK 2 --glm.

    flock /tmp/reprotech-bench.lock .venv/bin/python benchmarks/research/bench_gwas.py \
        [--animals 10000] [--snps 60000] [--work /tmp/bench-gwas] [--reml]

Stage 1 (not timed as GWAS): simulate the herd (reprotech_core.genomics.simulate), write the
PLINK fileset for plink2 and the VanRaden GRM (reprotech_core.evaluation.grm) to ``--work``.
Stage 2, in a fresh process so its peak memory is the GWAS's own: load cohort and GRM, run
(a) our OLS scan (no GRM: the same test as plink2 --glm), (b) plink2 --glm on the same data,
(c) the mixed-model scan with the GRM (P3D, variance components given, float32), and with
``--reml`` (d) the REML null model first (one n^3 eigendecomposition). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reprotech_core.evaluation.grm import GRM, vanraden_grm  # noqa: E402
from reprotech_core.evaluation.reml import (  # noqa: E402
    VarianceComponents,
    reml,
    spectral_decomposition,
)
from reprotech_core.genomics.plink_bed import write_plink  # noqa: E402
from reprotech_core.genomics.simulate import simulate_herd  # noqa: E402
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap  # noqa: E402
from reprotech_core.research.cohort import Cohort  # noqa: E402
from reprotech_core.research.gwas import gwas  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def prepare(work: Path, n: int, m: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    herd = simulate_herd(n_animals=n, n_snps=m, seed=7, n_herds=50, n_customers=20)
    t1 = time.perf_counter()
    g = herd.genotypes
    write_plink(g, work / "herd")
    pd.DataFrame({"#FID": g.samples, "IID": g.samples,
                  "milk": herd.phenotypes["milk_production"].to_numpy()}
                 ).to_csv(work / "pheno.txt", sep="\t", index=False)
    np.save(work / "packed.npy", g.packed)
    s = g.snps
    pd.DataFrame({"snp": s.names, "chrom": s.chrom, "pos": s.pos, "a": s.allele_a,
                  "b": s.allele_b}).to_parquet(work / "snps.parquet")
    t2 = time.perf_counter()
    grm = vanraden_grm(g)
    t3 = time.perf_counter()
    np.save(work / "grm.npy", grm.matrix)
    np.save(work / "grm_p.npy", grm.p)
    (work / "grm_scale.txt").write_text(repr(grm.scale))
    return {"simulate_s": t1 - t0, "write_s": t2 - t1, "grm_s": t3 - t2}


def run(work: Path, with_reml: bool, with_loco: bool = False) -> dict:
    packed = np.load(work / "packed.npy")
    s = pd.read_parquet(work / "snps.parquet")
    snps = SnpMap(names=s["snp"].to_numpy(str), chrom=s["chrom"].to_numpy(str),
                  pos=s["pos"].to_numpy(np.int64), allele_a=s["a"].to_numpy(str),
                  allele_b=s["b"].to_numpy(str))
    pheno = pd.read_csv(work / "pheno.txt", sep="\t")
    cohort = Cohort(pd.DataFrame({"animal": pheno["IID"]}),
                    GenotypeSet(packed, pheno["IID"].astype(str).to_numpy(), snps),
                    snapshot=str(work))
    records = pd.DataFrame({"animal": pheno["IID"], "milk": pheno["milk"]})
    matrix = np.load(work / "grm.npy")
    grm = GRM(matrix=matrix, p=np.load(work / "grm_p.npy"),
              scale=float((work / "grm_scale.txt").read_text()), n_snps_used=len(snps))
    out: dict = {"animals": cohort.n_animals, "snps": cohort.n_snps,
                 "rss_loaded_mib": peak_rss_mib()}
    t0 = time.perf_counter()
    ols = gwas(cohort, records, "milk")
    out["ours_ols_s"] = time.perf_counter() - t0
    plink = shutil.which("plink2")
    if plink:
        t0 = time.perf_counter()
        subprocess.run([plink, "--bfile", str(work / "herd"), "--cow", "--pheno",
                        str(work / "pheno.txt"), "--pheno-name", "milk", "--glm",
                        "allow-no-covars", "omit-ref", "--out", str(work / "plink")],
                       check=True, capture_output=True)
        out["plink2_glm_s"] = time.perf_counter() - t0
        ref = pd.read_csv(work / "plink.milk.glm.linear", sep="\t", na_values=["NA"])
        both = ols.table.merge(ref, left_on="snp", right_on="ID")
        both = both[(both["status"] == "ok") & (both["ERRCODE"] == ".")
                    & (both["chrom"] != "X")]
        # PLINK drops missing calls, we mean-impute them: report the agreement, not equality
        out["ols_vs_plink2_p_spearman"] = float(both["p"].rank().corr(both["P"].rank()))
    if with_reml:
        t0 = time.perf_counter()
        x = np.ones((cohort.n_animals, 1))
        vc = reml(records["milk"].to_numpy(), x, spectral_decomposition(matrix))
        out["reml_s"] = time.perf_counter() - t0
    else:
        var = float(records["milk"].var())
        vc = VarianceComponents(sigma_u2=0.35 * var, sigma_e2=0.65 * var, h2=0.35,
                                se_h2=float("nan"), loglik=float("nan"))
    t0 = time.perf_counter()
    mlm = gwas(cohort, records, "milk", grm=grm, variances=vc)
    out["ours_mlm_s"] = time.perf_counter() - t0
    out["lambda_gc_ols"] = ols.lambda_gc
    out["lambda_gc_mlm"] = mlm.lambda_gc
    if with_loco:
        t0 = time.perf_counter()
        loco = gwas(cohort, records, "milk", grm=grm, variances=vc, loco=True)
        out["ours_mlm_loco_s"] = time.perf_counter() - t0
        out["lambda_gc_mlm_loco"] = loco.lambda_gc
        both = mlm.table.merge(loco.table, on="snp", suffixes=("", "_loco"))
        both = both[(both["status"] == "ok") & (both["status_loco"] == "ok")]
        out["loco_vs_mlm_p_spearman"] = float(both["p"].rank().corr(both["p_loco"].rank()))
    out["h2"] = vc.h2
    if "plink2_glm_s" in out:
        out["ratio_mlm_to_plink2_glm"] = out["ours_mlm_s"] / out["plink2_glm_s"]
        out["ratio_ols_to_plink2_glm"] = out["ours_ols_s"] / out["plink2_glm_s"]
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--animals", type=int, default=10_000)
    ap.add_argument("--snps", type=int, default=60_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-gwas"))
    ap.add_argument("--reml", action="store_true", help="also time the REML null model")
    ap.add_argument("--loco", action="store_true",
                    help="also time the leave-one-chromosome-out mixed-model scan")
    ap.add_argument("--stage", choices=["all", "prepare", "run"], default="all")
    a = ap.parse_args()
    if a.stage in ("all", "prepare"):
        prep = prepare(a.work, a.animals, a.snps)
        prep["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps({"stage": "prepare", **prep}), flush=True)
    if a.stage == "all":
        cmd = [sys.executable, __file__, "--work", str(a.work), "--stage", "run"]
        subprocess.run(cmd + (["--reml"] if a.reml else []) + (["--loco"] if a.loco else []),
                       check=True)
    elif a.stage == "run":
        print(json.dumps({"stage": "run", **run(a.work, a.reml, a.loco)}), flush=True)


if __name__ == "__main__":
    main()
