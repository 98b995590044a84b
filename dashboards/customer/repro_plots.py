"""HoloViews plots of the reproduction page (the figures come from
``reprotech_core.reproduction.bredsum``; here they are only drawn)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from dashboards.customer.plots import HERD_COLOUR

hv.extension("bokeh", logo=False)

RATE_COLOURS = {"Submission rate": "#8fb3c2", "Conception rate": "#e0a458",
                "Pregnancy rate": HERD_COLOUR}
STATUS_COLOURS = {"open": "#c8553d", "bred": "#e0a458", "pregnant": HERD_COLOUR}


def target_lines(targets: dict[str, float | None], colours: dict[str, str], *,
                 vertical: bool = False) -> list[hv.Element]:
    """The herd's targets as dashed lines (a target not set draws nothing)."""
    line = hv.VLine if vertical else hv.HLine
    return [line(v).opts(color=colours[k], line_dash="dashed", line_width=2)
            for k, v in targets.items() if v is not None]


def _cycle_axis(plot, _element) -> None:  # noqa: ANN001 (a HoloViews hook)
    """In an overlay HoloViews keeps the rate labels under each bar (``multi_level=False`` is
    lost): hide them — the legend names the colours — and slant the cycle dates."""
    axis = plot.state.xaxis[0]
    if hasattr(axis, "group_label_orientation"):
        axis.major_label_text_font_size = "0pt"
        axis.group_label_orientation = 1.0


def cycle_bars(cycles: pd.DataFrame, targets: dict[str, float | None] | None = None
               ) -> hv.Overlay:
    """BREDSUM's chart: per 21-day cycle, submission, conception and pregnancy rate side by
    side (a cycle without a rate has no bar), the herd's targets (in %) as dashed lines."""
    long = cycles.assign(cycle=cycles["cycle_start"].dt.strftime("%d %b %y")).melt(
        id_vars=["cycle"], value_vars=["submission_rate", "conception_rate", "pregnancy_rate"],
        var_name="rate", value_name="value")
    long["rate"] = long["rate"].map({"submission_rate": "Submission rate",
                                     "conception_rate": "Conception rate",
                                     "pregnancy_rate": "Pregnancy rate"})
    long["value"] = long["value"] * 100
    bars = hv.Bars(long, ["cycle", "rate"], "value").opts(
        color="rate", cmap=RATE_COLOURS, multi_level=False, xrotation=60, show_legend=True,
        tools=["hover"])
    return hv.Overlay([bars, *target_lines(targets or {}, RATE_COLOURS)]).opts(
        responsive=True, height=340, ylabel="%", xlabel="21-day cycle starting",
        title="21-day cycles of the last year", legend_position="top", legend_cols=3,
        show_grid=True, ylim=(0, 100), hooks=[_cycle_axis])


def status_scatter(status: pd.DataFrame) -> hv.Overlay:
    """DairyComp's pregnancy-status chart: each cow at her days in milk, by status."""
    layers = [hv.Scatter(status[status["status"] == s], "days_in_milk",
                         ["status", "official_id", "lactation"], label=s).opts(
                             color=STATUS_COLOURS[s], size=7, tools=["hover"])
              for s in STATUS_COLOURS if (status["status"] == s).any()]
    return hv.Overlay(layers).opts(
        responsive=True, height=300, xlabel="Days in milk", ylabel="Status",
        title="Pregnancy status of the cows in the herd", show_grid=True,
        legend_position="top_right")


def histogram(values: pd.Series, *, xlabel: str, title: str, bins: int = 20,
              target: float | None = None) -> hv.Overlay:
    """How many cows per bin of ``values`` (days or months), the target as a dashed line."""
    counts, edges = np.histogram(values.astype(float), bins=bins)
    marks = target_lines({"target": target}, {"target": "#c8553d"}, vertical=True)
    return hv.Overlay([hv.Histogram((edges, counts)).opts(color=HERD_COLOUR,
                                                          line_color="white"), *marks]).opts(
        responsive=True, height=280, xlabel=xlabel, ylabel="Cows", title=title,
        show_grid=True)


TREND_COLOURS = ("#1f4e5f", "#e0a458", "#6a8d3a", "#c8553d")


def monthly_trend(by_month: pd.DataFrame, columns: dict[str, str], *, ylabel: str,
                  title: str, percent: bool,
                  targets: dict[str, float | None] | None = None) -> hv.Overlay:
    """KPIs of each month as lines (one per KPI), points where a month has a value, and each
    KPI's target (same colour, dashed)."""
    data = by_month.assign(month=pd.PeriodIndex(by_month["month"], freq="M").to_timestamp())
    layers = []
    colours = dict(zip(columns, TREND_COLOURS, strict=False))
    for col, lab in columns.items():
        d = data[["month", col]].dropna()
        d = d.assign(**{col: d[col] * (100 if percent else 1)})
        layers.append(hv.Curve(d, "month", col, label=lab).opts(line_width=2,
                                                                color=colours[col]))
        layers.append(hv.Scatter(d, "month", col, label=lab).opts(size=6, tools=["hover"],
                                                                  color=colours[col]))
    layers += target_lines({c: v for c, v in (targets or {}).items() if c in colours},
                           colours)
    return hv.Overlay(layers).opts(responsive=True, height=300, ylabel=ylabel, xlabel="Month",
                                   title=title, show_grid=True, legend_position="top_left")
