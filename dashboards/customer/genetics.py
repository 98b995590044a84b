"""Genetics over time, a section of the herd overview: the herd's genetic trend per birth year
for each trait and the selection index (with the average gain per year), the inbreeding trend,
and where the herd stands against the anonymised population.

The numbers are ``reprotech_core.portal.genetics``'s, from the cached herd table (the newest
released evaluation); the population comparison runs the database's anonymous aggregate in
the user's own session. Every table has a CSV download (spreadsheet-safe). The section loads
after the page shows (``dashboards.deferred``).
"""

from __future__ import annotations

import io

import pandas as pd
import panel as pn

from dashboards.customer import common, plots
from dashboards.layout import wrapping_row
from dashboards.pages import PageContext
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import genetics
from reprotech_core.portal.exports import csv_bytes

TITLES = {"trait": "Trait", "measure": "Inbreeding", "birth_year": "Born", "mean": "Mean",
          "sd": "SD", "n": "Animals", "gain_per_year": "Gain per year",
          "first_year": "From", "last_year": "To", "animals": "Animals in herd",
          "herd_mean": "Herd mean", "population_mean": "Population mean",
          "difference": "Herd − population", "share_below": "Population below herd mean"}
PERCENT = {"share_below"}
YEARS = {"birth_year", "first_year", "last_year"}
NO_POPULATION = ("Not enough evaluated herds on the platform yet to compare with the "
                 "population anonymously.")


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Trait codes as breeders read them (the CSVs and tables say "Milk (kg)", not a code)."""
    return frame.assign(trait=frame["trait"].map(plots.label)) if "trait" in frame else frame


def table(frame: pd.DataFrame, filename: str, *, name: str, page_size: int = 10,
          digits: int = 2) -> pn.viewable.Viewable:
    """``frame`` as a table (scrolling inside its box on a narrow screen) and its CSV."""
    from bokeh.models.widgets.tables import NumberFormatter

    shown = frame.rename(columns=TITLES)
    formats = {TITLES.get(c, c): (NumberFormatter(format="0%", text_align="right")
                                  if c in PERCENT else common.number(digits))
               for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    formats |= {TITLES[c]: common.number(0) for c in YEARS if c in frame}  # 2016, not 2,016
    grid = pn.widgets.Tabulator(shown, show_index=False, disabled=True, selectable=False,
                                pagination="local", page_size=page_size, theme="simple",
                                layout="fit_data_table", formatters=formats,
                                sizing_mode="stretch_width", css_classes=[f"rt-{name}"])
    download = pn.widgets.FileDownload(
        callback=lambda: io.BytesIO(csv_bytes(shown)), filename=filename, label="CSV",
        color="light", width=90)
    return pn.Column(grid, download, sizing_mode="stretch_width")


def trend_part(trend: pd.DataFrame, gain: pd.DataFrame, code: str) -> pn.viewable.Viewable:
    choice = pn.widgets.Select(label="Trait", options={plots.label(t): t
                                                      for t in (*TRAITS, "index")},
                               value="index", width=240, css_classes=["rt-genetics-trait"])

    def plot(t: str) -> pn.viewable.Viewable:
        years = trend[trend["trait"] == t]["birth_year"].nunique()
        if years == 0:
            return common.notice("No evaluated animal with a birth year: no trend.")
        if years < 2:
            return common.notice("All evaluated animals were born in the same year: a trend "
                                 "needs two birth years or more.")
        return pn.pane.HoloViews(plots.trend(trend, t), sizing_mode="stretch_width",
                                 min_width=280)

    gain_text = " · ".join(f"{plots.label(r.trait)}: **{r.gain_per_year:+,.2f}**"
                           for r in gain.itertuples())
    return pn.Column(
        pn.pane.Markdown("Mean GEBV of the animals born each year (those that left the herd "
                         "count in their year), from the latest released evaluation. "
                         + (f"Average gain per year: {gain_text}." if gain_text else "")),
        choice, pn.panel(pn.bind(plot, choice), sizing_mode="stretch_width"),
        table(labelled(trend), f"{code}-genetic-trend.csv", name="genetic-trend"),
        sizing_mode="stretch_width", min_width=280, styles={"flex": "1 1 420px"})


def inbreeding_part(frame: pd.DataFrame, code: str) -> pn.viewable.Viewable:
    if frame.empty:
        body = [common.notice("No inbreeding values in the latest released evaluation.")]
    else:
        body = [pn.pane.HoloViews(plots.inbreeding_trend(frame), sizing_mode="stretch_width",
                                  min_width=280),
                table(frame, f"{code}-inbreeding-trend.csv", name="inbreeding-trend",
                      digits=4)]
    return pn.Column(
        pn.pane.Markdown("Mean genomic (from the genotypes) and pedigree inbreeding of the "
                         "animals born each year."),
        *body, sizing_mode="stretch_width", min_width=280, styles={"flex": "1 1 420px"})


def standing_part(ctx: PageContext, table_: pd.DataFrame, code: str) -> pn.viewable.Viewable:
    with ctx.session() as s:  # the user's own session: only the anonymous aggregate
        frame = genetics.population_standing(s, table_)
    if frame.empty:
        return common.notice(NO_POPULATION)
    lines = "\n".join(
        f"- {plots.label(r.trait)}: your herd's mean {r.herd_mean:,.2f} is above "
        f"**{r.share_below:.0%}** of all evaluated animals (population mean "
        f"{r.population_mean:,.2f})" for r in frame.itertuples())
    return pn.Column(
        pn.pane.Markdown("Your herd (the animals in it today) against every evaluated animal "
                         "on the platform, anonymised: no other herd or animal is shown.\n\n"
                         + lines),
        wrapping_row(pn.pane.HoloViews(plots.standing(frame), sizing_mode="stretch_width",
                                       min_width=280),
                     table(labelled(frame), f"{code}-population-standing.csv",
                           name="population-standing")),
        sizing_mode="stretch_width")


def section(ctx: PageContext, h: common.Herd, table_: pd.DataFrame) -> pn.viewable.Viewable:
    """The overview's "Genetics over time" section for the herd table ``table_``."""
    head = pn.pane.Markdown("#### Genetics over time", css_classes=["rt-genetics"])
    if table_[list(TRAITS)].notna().sum().sum() == 0:
        return pn.Column(head, common.notice(common.NO_RESULTS), sizing_mode="stretch_width")
    code = h.customer.code
    return pn.Column(
        head,
        wrapping_row(trend_part(genetics.genetic_trend(table_), genetics.annual_gain(table_),
                                code),
                     inbreeding_part(genetics.inbreeding_trend(table_), code)),
        pn.pane.Markdown("##### Where the herd stands"),
        standing_part(ctx, table_, code),
        sizing_mode="stretch_width", css_classes=["rt-genetics-section"])
