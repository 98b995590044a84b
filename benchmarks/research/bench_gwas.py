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
from scipy.stats import chi2

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


def bolt_fileset(work: Path) -> Path:
    """The PLINK fileset as BOLT-LMM reads it: its chromosome codes stop at 22 autosomes (23 is
    X), so cattle autosomes 23-29 become 1-7 placed 400 Mb past the end of those (BOLT's
    leave-one-chromosome-out then leaves out each such pair together); a phenotype header
    without PLINK 2's '#'."""
    bim = pd.read_csv(work / "herd.bim", sep="\t", header=None, dtype={0: str})
    auto = bim[0].str.isdigit()
    number = pd.to_numeric(bim[0].where(auto), errors="coerce")
    high = auto & (number > 22)
    bim.loc[high, 3] = bim.loc[high, 3] + 400_000_000
    bim.loc[high, 0] = (number[high] - 22).astype(int).astype(str)
    bim.loc[bim[0] == "X", 0] = "23"
    bim.to_csv(work / "bolt.bim", sep="\t", header=False, index=False)
    for ext in ("bed", "fam"):
        shutil.copyfile(work / f"herd.{ext}", work / f"bolt.{ext}")
    pheno = (work / "pheno.txt").read_text().replace("#FID", "FID", 1)
    (work / "bolt.pheno").write_text(pheno)
    return work / "bolt"


def run_bolt(work: Path, ours: dict[str, pd.DataFrame], threads: int = 2) -> dict:
    """BOLT-LMM's infinitesimal mixed model (leave-one-chromosome-out, as BOLT always is) on
    the same data: time, lambda_GC and the agreement of -log10 p with our scans."""
    bolt = shutil.which("bolt")
    if bolt is None:
        return {"bolt": "not installed (Debian: apt-get install bolt-lmm)"}
    prefix = bolt_fileset(work)
    t0 = time.perf_counter()
    subprocess.run([bolt, f"--bfile={prefix}", f"--phenoFile={prefix}.pheno", "--phenoCol=milk",
                    "--lmmInfOnly", "--LDscoresUseChip", f"--numThreads={threads}",
                    f"--statsFile={prefix}.stats"], check=True, capture_output=True)
    out = {"bolt_lmm_inf_s": time.perf_counter() - t0}
    stats = pd.read_csv(f"{prefix}.stats", sep="\t")
    # BOLT prints p to two significant digits: the exact statistic is (beta / se)²
    stat = (stats["BETA"] / stats["SE"]) ** 2
    stats["P_BOLT_LMM_INF"] = chi2.sf(stat, 1)
    out["lambda_gc_bolt"] = float(np.median(stat.dropna()) / chi2.ppf(0.5, 1))
    for name, table in ours.items():
        both = table[table["status"] == "ok"].merge(stats, left_on="snp", right_on="SNP")
        a, b = -np.log10(both["p"]), -np.log10(both["P_BOLT_LMM_INF"])
        out[f"bolt_vs_{name}_log10p_spearman"] = float(a.rank().corr(b.rank()))
        out[f"bolt_vs_{name}_log10p_pearson"] = float(a.corr(b))
        top = 100
        ours_top = set(both.nsmallest(top, "p")["snp"])
        bolt_top = set(both.nsmallest(top, "P_BOLT_LMM_INF")["snp"])
        out[f"bolt_vs_{name}_top{top}_shared"] = len(ours_top & bolt_top)
    return out


def run(work: Path, with_reml: bool, with_loco: bool = False,
        with_bolt: bool = False) -> dict:
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
    if with_bolt:
        compared = {"mlm": mlm.table, **({"mlm_loco": loco.table} if with_loco else {})}
        out |= run_bolt(work, compared)
        if "bolt_lmm_inf_s" in out:
            out["ratio_bolt_to_ours_mlm"] = out["bolt_lmm_inf_s"] / out["ours_mlm_s"]
            if with_loco:
                out["ratio_bolt_to_ours_loco"] = out["bolt_lmm_inf_s"] / out["ours_mlm_loco_s"]
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
    ap.add_argument("--bolt", action="store_true",
                    help="also run BOLT-LMM (Debian bolt-lmm) on the same data and compare")
    ap.add_argument("--stage", choices=["all", "prepare", "run"], default="all")
    a = ap.parse_args()
    if a.stage in ("all", "prepare"):
        prep = prepare(a.work, a.animals, a.snps)
        prep["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps({"stage": "prepare", **prep}), flush=True)
    if a.stage == "all":
        cmd = [sys.executable, __file__, "--work", str(a.work), "--stage", "run"]
        subprocess.run(cmd + (["--reml"] if a.reml else []) + (["--loco"] if a.loco else [])
                       + (["--bolt"] if a.bolt else []), check=True)
    elif a.stage == "run":
        print(json.dumps({"stage": "run", **run(a.work, a.reml, a.loco, a.bolt)}), flush=True)


if __name__ == "__main__":
    main()
