"""Population analytics (researchers, administrators), on pseudonymised data only.

The PCA and the allele-frequency spectrum are the same for every reader, so they are computed
once per research snapshot and shared across sessions (keyed by the snapshot's file times):
the first reader after a snapshot waits for the PCA, everyone after gets it at once. The
research views' GEBVs and pedigree inbreeding are also the same for every reader allowed to
see them (``research:read``, checked in the reader's own session first), so they are shared
for a few minutes. Each section loads on its own after the page is shown.
"""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import pandas as pd
import panel as pn

from dashboards.cache import SHARED
from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.staff.common import (
    PALETTE,
    figure,
    heading,
    note,
    rounded,
    table,
)
from dashboards.text import md_text
from reprotech_core.errors import NotFound
from reprotech_core.results.index import genetic_trend
from reprotech_core.staffviews import population as views

SLUG = "population"


SNAPSHOT_TTL = 24 * 3600.0  # keyed by file times: a new snapshot is a new key anyway
RESEARCH_TTL = 300.0


def _structure(folder: str, version: tuple) -> views.PopulationStructure:
    return SHARED.get(("pca", folder, version),
                      lambda: views.population_structure(Path(folder)), ttl=SNAPSHOT_TTL)


def _spectrum(folder: str, version: tuple) -> pd.DataFrame:
    return SHARED.get(("afs", folder, version),
                      lambda: views.allele_frequency_spectrum(Path(folder)), ttl=SNAPSHOT_TTL)


def _heterozygosity(folder: str, version: tuple) -> pd.DataFrame:
    return SHARED.get(("het", folder, version),
                      lambda: views.heterozygosity_by_herd(Path(folder)), ttl=SNAPSHOT_TTL)


def _research(ctx: PageContext, what: str, query) -> pd.DataFrame:
    """A research-view table shared by research readers; the reader's permission is checked
    in their own session before the shared value is handed out."""
    with ctx.session() as s:
        views.require_research(s)

    def compute() -> pd.DataFrame:
        with ctx.session() as s:
            return query(s)

    return SHARED.get(("research", what, str(ctx.database.engine.url)), compute,
                      ttl=RESEARCH_TTL)


def store_of(ctx: PageContext) -> Path:
    return ctx.settings.var_dir / "store"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        views.require_research(s)
    return pn.Column(
        pn.pane.Markdown("## Population\nPseudonymised research data: animals `A…`, herds "
                         "`H…`; no customer is named."),
        heading("Population structure (PCA) and genomic inbreeding"),
        deferred(lambda: _pca(ctx), ctx),
        heading("Allele-frequency spectrum and heterozygosity"),
        deferred(lambda: _spectrum_section(ctx), ctx),
        heading("Genetic trends and GEBV distributions by herd"),
        deferred(lambda: _gebvs(ctx), ctx),
        heading("Pedigree inbreeding by birth year"),
        deferred(lambda: _inbreeding(ctx), ctx),
        sizing_mode="stretch_width")


def _snapshot(ctx: PageContext) -> tuple[str, tuple] | None:
    try:
        return str(store_of(ctx)), views.store_version(store_of(ctx))
    except NotFound:
        return None


NO_SNAPSHOT = ("No research snapshot yet: the population report job writes it "
               "(`reprotech lab snapshot`).")


def _pca(ctx: PageContext) -> pn.viewable.Viewable:
    snap = _snapshot(ctx)
    if snap is None:
        return note(NO_SNAPSHOT)
    try:
        result = _structure(*snap)
    except NotFound as exc:
        return note(md_text(exc))
    a = result.animals.fillna({"herd": "(no herd: AI sires)"})
    ve = result.variance_explained
    herds = sorted(a["herd"].unique())
    colours = {h: PALETTE[i % len(PALETTE)] for i, h in enumerate(herds)}
    pca = hv.Points(a, ["pc1", "pc2"], ["herd", "animal", "birth_year", "f_genomic"]).opts(
        color="herd", cmap=colours, size=5, alpha=0.75, tools=["hover"],
        legend_position="right", show_legend=len(herds) <= 12,
        xlabel=f"PC1 ({100 * ve[0]:.1f} %)",
        ylabel=f"PC2 ({100 * ve[1]:.1f} %)" if len(ve) > 1 else "PC2",
        title=f"PCA of {len(a):,} animals" + (
            f" (a sample of {result.n_animals_total:,})"
            if result.n_animals_total > len(a) else "") + f", {result.n_snps:,} SNPs")
    f_year = (a.dropna(subset=["birth_year"]).groupby("birth_year")["f_genomic"].mean()
              .reset_index())
    trend = hv.Curve(f_year, "birth_year", "f_genomic").opts(
        tools=["hover"], xlabel="birth year", ylabel="mean genomic F (diag G - 1)",
        title="Genomic inbreeding by birth year", color="#b23a48") * hv.Scatter(
        f_year, "birth_year", "f_genomic").opts(color="#b23a48", size=6)
    return pn.Row(figure(pca, height=380), figure(trend, height=380),
                  sizing_mode="stretch_width")


def _spectrum_section(ctx: PageContext) -> pn.viewable.Viewable:
    snap = _snapshot(ctx)
    if snap is None:
        return note(NO_SNAPSHOT)
    afs = _spectrum(*snap)
    het = _heterozygosity(*snap)
    bars = hv.Histogram((list(afs["bin_start"]) + [float(afs["bin_end"].iloc[-1])],
                         afs["snps"].to_numpy()), kdims=["maf"], vdims=["snps"]).opts(
        xlabel="minor allele frequency", ylabel="SNPs", tools=["hover"],
        title=f"Folded allele-frequency spectrum ({int(afs['snps'].sum()):,} SNPs)")
    return pn.Row(figure(bars, height=300),
                  table(rounded(het, 4), name="heterozygosity", page_size=10),
                  sizing_mode="stretch_width")


def _gebvs(ctx: PageContext) -> pn.viewable.Viewable:
    gebvs = _research(ctx, "gebvs", views.research_gebvs)
    if gebvs.empty:
        return note("No released genomic evaluation yet: GEBVs appear here once a run is "
                    "released (`reprotech eval release`).")
    traits = sorted(gebvs["trait"].unique())
    trend = genetic_trend(gebvs)
    curves = hv.Overlay([
        hv.Curve(trend[trend["trait"] == t], "birth_year", "mean", label=t).opts(
            color=PALETTE[i % len(PALETTE)], tools=["hover"])
        for i, t in enumerate(traits)]).opts(
        legend_position="right", xlabel="birth year", ylabel="mean GEBV",
        title="Genetic trend: mean released GEBV by birth year")
    default = "milk_production" if "milk_production" in traits else traits[0]
    trait = pn.widgets.Select(label="Trait", options=traits, value=default, width=240)

    def by_herd(t: str) -> pn.viewable.Viewable:
        part = gebvs[(gebvs["trait"] == t)].dropna(subset=["herd"])
        if part.empty:
            return note(f"No GEBVs of herd animals for {md_text(t)}.")
        box = hv.BoxWhisker(part, "herd", "gebv").opts(
            xrotation=45, xlabel="herd", ylabel=f"GEBV {t}", box_fill_color="#9ecae1",
            title=f"{t}: GEBV distribution by herd", tools=["hover"])
        return pn.Column(figure(box, height=340),
                         table(rounded(views.gebv_by_herd(gebvs, t), 3), name="gebv-by-herd",
                               page_size=10),
                         sizing_mode="stretch_width")

    return pn.Column(figure(curves, height=320), trait, pn.bind(by_herd, trait),
                     sizing_mode="stretch_width")


def _inbreeding(ctx: PageContext) -> pn.viewable.Viewable:
    ped = _research(ctx, "pedigree_inbreeding", views.pedigree_inbreeding)
    years = views.inbreeding_by_year(ped)
    if years.empty:
        return note("No animals with a birth year in the research data.")
    curve = hv.Curve(years, "birth_year", "f_pedigree_mean").opts(
        tools=["hover"], color="#7d5ba6", xlabel="birth year", ylabel="mean pedigree F",
        title="Pedigree inbreeding (Meuwissen & Luo) by birth year")
    return pn.Row(figure(curve, height=300), table(rounded(years, 4), name="inbreeding"),
                  sizing_mode="stretch_width")
