"""Manhattan, QQ and LD-decay plots (HoloViews/Bokeh), from the pure tables they draw.

The coordinates are computed by plain functions (:func:`manhattan_frame`, :func:`qq_frame`),
tested without a browser; the plot functions only style them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from reprotech_core.genomics.qc import AUTOSOME_NAMES

from .gwas import GwasResult


def _chrom_order(chrom: pd.Series) -> pd.Series:
    names = chrom.astype(str)
    num = pd.to_numeric(names, errors="coerce")
    return num.where(names.isin(AUTOSOME_NAMES), 100 + names.rank(method="dense"))


def manhattan_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Tested SNPs with ``x`` (cumulative position, chromosomes end to end in order),
    ``neglog10p`` and ``chrom_index``; untested SNPs (NaN p) are left out."""
    t = table[np.isfinite(table["p"])].copy()
    t["chrom_index"] = _chrom_order(t["chrom"])
    t = t.sort_values(["chrom_index", "pos"], kind="stable")
    span = t.groupby("chrom_index", sort=True)["pos"].max()
    offset = span.cumsum().shift(fill_value=0)
    t["x"] = t["pos"] + t["chrom_index"].map(offset)
    t["neglog10p"] = -np.log10(np.maximum(t["p"].to_numpy(float), 1e-300))
    return t.reset_index(drop=True)


def qq_frame(p: np.ndarray, *, ci: float = 0.95) -> pd.DataFrame:
    """Expected vs observed -log10 p with the pointwise ``ci`` band of uniform order
    statistics (the k-th of n is Beta(k, n - k + 1))."""
    p = np.sort(np.asarray(p, float)[np.isfinite(p)])
    n = p.size
    if n == 0:
        raise ValueError("no tested SNP: nothing to plot")
    k = np.arange(1, n + 1)
    lo, hi = stats.beta.ppf([(1 + ci) / 2], k, n - k + 1), stats.beta.ppf([(1 - ci) / 2], k,
                                                                            n - k + 1)
    return pd.DataFrame({"expected": -np.log10(k / (n + 1)),
                         "observed": -np.log10(np.maximum(p, 1e-300)),
                         "lower": -np.log10(lo), "upper": -np.log10(hi)})


def manhattan_plot(result: GwasResult, *, threshold: float | None = None):
    """Manhattan plot; the line is Bonferroni 0.05 over tested SNPs unless ``threshold``."""
    import holoviews as hv

    t = manhattan_frame(result.table)
    line = threshold or 0.05 / max(len(t), 1)
    even = t["chrom_index"].rank(method="dense") % 2 == 0
    points = [hv.Scatter(t[m], "x", ["neglog10p", "snp", "chrom", "pos"]).opts(color=c)
              for m, c in ((even, "#1f77b4"), (~even, "#7f7f7f"))]
    return (hv.Overlay(points) * hv.HLine(-np.log10(line)).opts(color="red", line_dash="dashed")
            ).opts(hv.opts.Scatter(size=3, tools=["hover"], width=800, height=300,
                                   xlabel="chromosome", ylabel="-log10 p"),
                   hv.opts.Overlay(title=f"{result.trait}: {result.method}, "
                                         f"lambda = {result.lambda_gc:.3f}"))


def qq_plot(result: GwasResult):
    """QQ plot of the p-values with the 95 % band under the null."""
    import holoviews as hv

    q = qq_frame(result.table["p"].to_numpy())
    top = float(max(q["expected"].max(), q["observed"].max()))
    band = hv.Area(q, "expected", ["lower", "upper"]).opts(alpha=0.2, color="grey")
    return (band * hv.Curve([(0, 0), (top, top)]).opts(color="red")
            * hv.Scatter(q, "expected", "observed").opts(size=3)).opts(
        hv.opts.Overlay(width=350, height=350, title=f"QQ, lambda = {result.lambda_gc:.3f}",
                        xlabel="expected -log10 p", ylabel="observed -log10 p"))


def decay_plot(table: pd.DataFrame):
    """Mean r² against distance (kb) from :func:`reprotech_core.research.ld.ld_decay`."""
    import holoviews as hv

    return hv.Curve(table, "mean_distance_kb", "mean_r2").opts(
        width=500, height=300, xlabel="distance (kb)", ylabel="mean r²", tools=["hover"])
