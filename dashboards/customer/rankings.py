"""Rankings by the selection index with the customer's own weights, the herd's genetic trend
by birth year, and the herd's GEBV distribution against the anonymised population.

Changing a weight re-ranks the cached herd table in place (the table widget's value is
replaced; the layout is not rebuilt). The trend and the population comparison load after the
page shows.
"""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
import param

from dashboards.customer import common, plots
from dashboards.deferred import deferred
from dashboards.layout import widget_row, wrapping_row
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import rankings
from reprotech_core.portal.exports import csv_bytes
from reprotech_core.portal.herd import TRAIT_LABELS
from reprotech_core.results.released import BASIS_HELP, BASIS_LABELS

# "index" would clash with the table's own row index in Tabulator: shown as selection_index.
COLUMNS = ["rank", "id", "official_id", "sex", "birth_year", "selection_index", "basis",
           *TRAITS, *[f"{t}_rel" for t in TRAITS]]
EXPORT_TITLES = {"rank": "Rank", "official_id": "Animal", "sex": "Sex", "birth_year": "Born",
                 "selection_index": "Index", "basis": "Values", **TRAIT_LABELS,
                 **{f"{t}_rel": f"{TRAIT_LABELS[t]} reliability" for t in TRAITS}}
TITLES = {"rank": "Rank", "official_id": "Animal", "sex": "Sex", "birth_year": "Born",
          "selection_index": "Index", "basis": "Values", **TRAIT_LABELS, **{f"{t}_rel": "Rel." for t in TRAITS}}


def shown(frame):  # noqa: ANN001, ANN201
    return frame.rename(columns={"index": "selection_index"})[COLUMNS]


class Rankings(pn.viewable.Viewer):
    """The herd ranked by the selection index. The weights and which animals are ranked (sex,
    in the herd only) are the state; a change re-ranks the cached herd table in place."""

    weights = param.Dict(default={}, doc="Index weight per trait (economic value per unit)")
    sex = param.Selector(default="", objects={"All": "", "Cows": "F", "Bulls": "M"},
                         doc="Rank cows, bulls or all")
    in_herd = param.Boolean(default=True, label="In the herd only",
                            doc="Rank only the animals still in the herd")

    def __init__(self, h: common.Herd, table: pd.DataFrame, defaults: dict[str, float],
                 **params) -> None:
        super().__init__(weights={t: float(defaults.get(t, 0) or 0) for t in TRAITS}, **params)
        self.table, self.defaults = table, defaults
        self._inputs = {t: pn.widgets.FloatInput(label=f"{TRAIT_LABELS[t]} weight",
                                                 value=defaults.get(t, 0), step=0.01, width=170)
                        for t in TRAITS}
        for box in self._inputs.values():
            box.param.watch(self._read_weights, "value")
        reset = pn.widgets.Button(label="Reset to Reprotech's weights", color="light")
        reset.on_click(self.reset_weights)
        self.status = pn.pane.Markdown("")
        prefix = common.link("animal", h) + "&animal="
        self.grid = pn.widgets.Tabulator(
            shown(table.head(0).assign(rank=0)), pagination="remote", page_size=20,
            show_index=False, disabled=True, selectable=False, hidden_columns=["id"],
            titles=TITLES, sizing_mode="stretch_width", layout="fit_data_fill", theme="simple",
            formatters={"official_id": {"type": "link", "urlPrefix": prefix, "urlField": "id",
                                        "labelField": "official_id"},
                        **{c: common.number(2) for c in ("selection_index", *TRAITS)},
                        "birth_year": common.number(0),
                        **{f"{t}_rel": common.number(2) for t in TRAITS}},
            header_filters={"basis": {"type": "list", "func": "=",
                                      "values": ["", *BASIS_LABELS.values()]}},
            css_classes=["rt-rankings"])
        download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(csv_bytes(self.grid.current_view.drop(columns=["id"])
                                                  .rename(columns=EXPORT_TITLES))),
            filename="rankings.csv", label="CSV of this ranking", color="light")
        self._layout = pn.Column(
            pn.pane.Markdown("Index = Σ weight × GEBV. Reprotech's weights are economic values "
                             "per trait unit; a negative weight prefers lower values. "
                             f"**Values** — {BASIS_HELP}", css_classes=["rt-basis-help"]),
            widget_row(*self._inputs.values()),
            widget_row(pn.widgets.RadioButtonGroup.from_param(self.param.sex, label="",
                                                              color="light"),
                       pn.widgets.Checkbox.from_param(self.param.in_herd), reset, download),
            self.status, self.grid, sizing_mode="stretch_width")
        self.rerank()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def reset_weights(self, _event: object = None) -> None:
        """Back to Reprotech's weights, in the inputs the customer sees."""
        for t, box in self._inputs.items():
            box.value = self.defaults.get(t, 0)

    def _read_weights(self, *_events: object) -> None:
        self.weights = {t: float(box.value or 0) for t, box in self._inputs.items()}

    @param.depends("weights", "sex", "in_herd", watch=True)
    def rerank(self) -> None:
        table, w = self.table, self.weights
        try:
            ranked = rankings.ranked(table, w, sex=self.sex or None, in_herd=self.in_herd)
        except ValueError as exc:
            self.status.object = f"**{md_text(exc)}**"
            return
        self.grid.value = shown(ranked)
        left = rankings.unranked(table, w, in_herd=self.in_herd)
        self.status.object = (f"{len(ranked):,} animals ranked"
                              + (f"; {left:,} without a GEBV for every weighted trait are left "
                                 "out" if left else "") + ".")


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h, table, run, layout = common.herd_page(ctx, "Rankings", "rankings")
    if table.empty:
        return layout
    if run is None or table[list(TRAITS)].notna().sum().sum() == 0:
        layout.append(common.notice(common.NO_RESULTS))
        return layout
    layout.extend([
        Rankings(h, table, common.weights(ctx)),
        deferred(lambda: trend_and_distribution(ctx, h, table), ctx),
    ])
    return layout


def trend_and_distribution(ctx: PageContext, h: common.Herd, table) -> pn.viewable.Viewable:
    trait = pn.widgets.Select(label="Trait", options={plots.label(t): t for t in (*TRAITS,
                                                                                  "index")},
                              value="milk_production", width=240)
    trend = rankings.herd_trend(table)

    def trend_view(t: str):
        if trend[trend["trait"] == t].empty:
            return common.notice("No birth years recorded for evaluated animals: no trend.")
        if trend[trend["trait"] == t]["birth_year"].nunique() < 2:
            return common.notice("All evaluated animals were born in the same year: a trend "
                                 "needs two birth years or more.")
        return pn.pane.HoloViews(plots.trend(trend, t), sizing_mode="stretch_width")

    def distribution_view(t: str):
        if t == "index":
            return common.notice("The population comparison is per trait; choose a trait.")
        with ctx.session() as s:
            d = rankings.population_distribution(s, table[t], t)
        if d is None:
            return common.notice("Not enough evaluated herds on the platform yet to compare "
                                 "with the population anonymously.")
        return pn.Column(pn.pane.HoloViews(plots.distribution(d), sizing_mode="stretch_width"),
                         pn.pane.Markdown(
                             f"Your herd's mean GEBV ({d.herd_mean:,.2f}) is above "
                             f"{d.herd_percentile:.0f}% of all evaluated animals "
                             f"(population mean {d.population_mean:,.2f})."),
                         sizing_mode="stretch_width")

    return pn.Column(trait, wrapping_row(
                         pn.panel(pn.bind(trend_view, trait), loading_indicator=True,
                                  sizing_mode="stretch_width"),
                         pn.panel(pn.bind(distribution_view, trait), loading_indicator=True,
                                  sizing_mode="stretch_width"), min_width=320),
                     sizing_mode="stretch_width", css_classes=["rt-plots"])
