"""Rankings by the selection index with the customer's own weights, the herd's genetic trend
by birth year, and the herd's GEBV distribution against the anonymised population.

Changing a weight re-ranks the cached herd table in place (the table widget's value is
replaced; the layout is not rebuilt).
"""

from __future__ import annotations

import io

import panel as pn

from dashboards.customer import common, plots
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import rankings
from reprotech_core.portal.exports import csv_bytes
from reprotech_core.portal.herd import TRAIT_LABELS

# "index" would clash with the table's own row index in Tabulator: shown as selection_index.
COLUMNS = ["rank", "id", "official_id", "sex", "birth_year", "selection_index", *TRAITS,
           *[f"{t}_rel" for t in TRAITS]]
EXPORT_TITLES = {"rank": "Rank", "official_id": "Animal", "sex": "Sex", "birth_year": "Born",
                 "selection_index": "Index", **TRAIT_LABELS,
                 **{f"{t}_rel": f"{TRAIT_LABELS[t]} reliability" for t in TRAITS}}
TITLES = {"rank": "Rank", "official_id": "Animal", "sex": "Sex", "birth_year": "Born",
          "selection_index": "Index", **TRAIT_LABELS, **{f"{t}_rel": "Rel." for t in TRAITS}}


def shown(frame):  # noqa: ANN001, ANN201
    return frame.rename(columns={"index": "selection_index"})[COLUMNS]


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    table, run = common.herd_table(ctx, h)
    layout = pn.Column(common.heading("Rankings", h, "rankings"), sizing_mode="stretch_width")
    if table.empty:
        layout.append(common.notice(common.NO_HERD))
        return layout
    if run is None or table[list(TRAITS)].notna().sum().sum() == 0:
        layout.append(common.notice(common.NO_RESULTS))
        return layout
    defaults = common.weights(ctx)
    inputs = {t: pn.widgets.FloatInput(name=f"{TRAIT_LABELS[t]} weight", value=defaults.get(t, 0),
                                       step=0.01, width=170) for t in TRAITS}
    sex = pn.widgets.RadioButtonGroup(options={"All": "", "Cows": "F", "Bulls": "M"}, value="",
                                      button_type="light")
    present = pn.widgets.Checkbox(name="In the herd only", value=True)
    reset = pn.widgets.Button(name="Reset to Reprotech's weights", button_type="light")
    status = pn.pane.Markdown("")
    prefix = common.link("animal", h) + "&animal="
    grid = pn.widgets.Tabulator(
        shown(table.head(0).assign(rank=0)), pagination="remote", page_size=20,
        show_index=False, disabled=True, selectable=False, hidden_columns=["id"], titles=TITLES,
        sizing_mode="stretch_width", layout="fit_data_fill", theme="simple",
        formatters={"official_id": {"type": "link", "urlPrefix": prefix, "urlField": "id",
                                    "labelField": "official_id"},
                    **{c: common.number(2) for c in ("selection_index", *TRAITS)},
                    "birth_year": common.number(0),
                    **{f"{t}_rel": common.number(2) for t in TRAITS}},
        css_classes=["rt-rankings"])

    def current_weights() -> dict[str, float]:
        return {t: float(w.value or 0) for t, w in inputs.items()}

    def rerank(*_events) -> None:
        w = current_weights()
        try:
            ranked = rankings.ranked(table, w, sex=sex.value or None, in_herd=present.value)
        except ValueError as exc:
            status.object = f"**{md_text(exc)}**"
            return
        grid.value = shown(ranked)
        left = rankings.unranked(table, w, in_herd=present.value)
        status.object = (f"{len(ranked):,} animals ranked"
                         + (f"; {left:,} without a GEBV for every weighted trait are left out"
                            if left else "") + ".")

    for w in (*inputs.values(), sex, present):
        w.param.watch(rerank, "value")

    def restore(_event) -> None:
        for t, w in inputs.items():
            w.value = defaults.get(t, 0)

    reset.on_click(restore)
    rerank()
    download = pn.widgets.FileDownload(
        callback=lambda: io.BytesIO(csv_bytes(grid.current_view.drop(columns=["id"])
                                              .rename(columns=EXPORT_TITLES))),
        filename="rankings.csv", label="CSV of this ranking", button_type="light")
    layout.extend([
        pn.pane.Markdown("Index = Σ weight × GEBV. Reprotech's weights are economic values per "
                         "trait unit; a negative weight prefers lower values."),
        pn.Row(*inputs.values()), pn.Row(sex, present, reset, download), status, grid,
        common.deferred(ctx, lambda: trend_and_distribution(ctx, h, table)),
    ])
    return layout


def trend_and_distribution(ctx: PageContext, h: common.Herd, table) -> pn.viewable.Viewable:
    trait = pn.widgets.Select(name="Trait", options={plots.label(t): t for t in (*TRAITS,
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

    return pn.Column(trait, pn.Row(pn.panel(pn.bind(trend_view, trait), loading_indicator=True,
                                            sizing_mode="stretch_width"),
                                   pn.panel(pn.bind(distribution_view, trait),
                                            loading_indicator=True,
                                            sizing_mode="stretch_width"),
                                   sizing_mode="stretch_width"),
                     sizing_mode="stretch_width", css_classes=["rt-plots"])
