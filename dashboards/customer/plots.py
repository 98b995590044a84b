"""HoloViews/Bokeh plots of the portal (data shaping lives in ``reprotech_core.portal``)."""

from __future__ import annotations

import holoviews as hv
import pandas as pd

from reprotech_core.portal.herd import TRAIT_LABELS
from reprotech_core.portal.rankings import Distribution

hv.extension("bokeh", logo=False)

HERD_COLOUR = "#1f4e5f"
POPULATION_COLOUR = "#b8c4ca"


def label(trait: str) -> str:
    return "Selection index" if trait == "index" else TRAIT_LABELS.get(trait, trait)


def trend(trend_frame: pd.DataFrame, trait: str) -> hv.Overlay:
    """Mean GEBV by birth year, points sized by how many animals the mean rests on."""
    data = trend_frame[trend_frame["trait"] == trait]
    curve = hv.Curve(data, "birth_year", "mean").opts(color=HERD_COLOUR, line_width=2)
    points = hv.Points(data, ["birth_year", "mean"], ["n"]).opts(
        color=HERD_COLOUR, size=8, tools=["hover"])
    return (curve * points).opts(
        responsive=True, height=320, xlabel="Birth year", ylabel=f"Mean GEBV: {label(trait)}",
        title=f"Genetic trend: {label(trait)}", show_grid=True)


def distribution(d: Distribution) -> hv.Overlay:
    """The herd's share of animals per GEBV bin over the population's (shares, not counts)."""
    pop = hv.Histogram((d.edges, d.population), label="All evaluated animals (anonymised)").opts(
        color=POPULATION_COLOUR, line_color=None, alpha=0.8)
    own = hv.Histogram((d.edges, d.herd), label="Your herd").opts(
        color=HERD_COLOUR, line_color=None, alpha=0.55)
    mean = hv.VLine(d.herd_mean).opts(color=HERD_COLOUR, line_dash="dashed")
    return (pop * own * mean).opts(
        responsive=True, height=320, xlabel=f"GEBV: {label(d.trait)}", ylabel="Share of animals",
        title=f"{label(d.trait)}: your herd against the population", legend_position="top_left",
        show_grid=True)


def empty_plot(message: str) -> hv.Text:
    return hv.Text(0, 0, message).opts(responsive=True, height=120, xaxis=None, yaxis=None,
                                       toolbar=None)



def inbreeding_trend(frame: pd.DataFrame) -> hv.Overlay:
    """Mean genomic and pedigree inbreeding by birth year (``portal.genetics.inbreeding_trend``);
    hovering a point shows how many animals its mean rests on."""
    layers = []
    for measure, colour in (("genomic", HERD_COLOUR), ("pedigree", "#e0a458")):
        data = frame[frame["measure"] == measure]
        if data.empty:
            continue
        name = f"{measure.capitalize()} inbreeding"
        layers += [hv.Curve(data, "birth_year", "mean", label=name).opts(color=colour,
                                                                         line_width=2),
                   hv.Points(data, ["birth_year", "mean"], ["n"], label=name).opts(
                       color=colour, size=7, tools=["hover"])]
    return hv.Overlay(layers).opts(
        responsive=True, height=300, xlabel="Birth year", ylabel="Mean inbreeding (F)",
        title="Inbreeding trend", legend_position="top_left", show_grid=True)


def standing(frame: pd.DataFrame) -> hv.Overlay:
    """Per trait, the share of the population's animals below the herd's mean GEBV (%), with
    the population's middle (50 %) dashed: above it, the herd is better than half."""
    data = frame.assign(label=frame["trait"].map(label), percent=frame["share_below"] * 100)
    bars = hv.Bars(data, "label", ["percent", "herd_mean", "population_mean"]).opts(
        color=HERD_COLOUR, tools=["hover"])
    middle = hv.HLine(50).opts(color=POPULATION_COLOUR, line_dash="dashed", line_width=2)
    return (bars * middle).opts(
        responsive=True, height=300, ylim=(0, 100), xlabel="",
        ylabel="% of population below herd mean", title="Herd against population",
        show_grid=True)
