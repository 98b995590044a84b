"""Mating advice: choose cows and bulls, get the allocation that maximises expected progeny
merit within an inbreeding limit, with each mating's expected merit and inbreeding.

The plan is computed on a button press (it can take a second for hundreds of cows), with a
loading indicator; problems (an infeasible limit, too many animals) are shown in words. The
page finds the candidates (cows in the herd, evaluated bulls); ``MatingPlanner`` holds the
choices and the plan.
"""

from __future__ import annotations

import io
import math

import pandas as pd
import panel as pn
import param

from dashboards.customer import common
from dashboards.layout import widget_row
from dashboards.pages import PageContext
from dashboards.pending import STILL_ARRIVING, PendingChanges
from dashboards.text import html_text, md_text
from reprotech_core.portal import mating, rankings
from reprotech_core.portal.exports import csv_bytes

TITLES = {"cow": "Cow", "bull": "Bull", "progeny_merit": "Expected progeny index",
          "progeny_inbreeding": "Expected progeny inbreeding"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h, table, _, layout = common.herd_page(ctx, "Mating advice", "mating")
    if table.empty:
        return layout
    w = common.weights(ctx)
    cows = rankings.ranked(table, w, sex="F", in_herd=True)
    with ctx.session() as s:
        bulls = mating.candidate_bulls(s, h.customer.id, w)
    if cows.empty or bulls.empty:
        layout.append(common.notice(
            "Mating advice needs cows and bulls with released genomic results: "
            + ("none of your cows has them yet." if cows.empty
               else "no evaluated bulls are available yet.")))
        return layout
    layout.append(MatingPlanner(ctx, cows, bulls))
    return layout


class MatingPlanner(pn.viewable.Viewer):
    """The chosen cows and bulls, the inbreeding limit and the matings per bull are the state;
    **Plan matings** computes the plan from them (with a loading indicator), which becomes the
    state the CSV download reads."""

    chosen_cows = param.List(default=[], doc="Ids of the cows to mate")
    chosen_bulls = param.List(default=[], doc="Ids of the bulls to use")
    max_inbreeding = param.Number(default=0.0625, bounds=(0.0, 0.25),
                                  label="Highest expected inbreeding of a calf")
    max_per_bull = param.Integer(default=4, bounds=(1, 300), label="Most matings per bull")
    plan = param.DataFrame(default=None, allow_None=True, doc="The last plan computed")

    def __init__(self, ctx: PageContext, cows: pd.DataFrame, bulls: pd.DataFrame,
                 **params) -> None:
        super().__init__(**params)
        self.ctx, self.cows, self.bulls = ctx, cows, bulls
        # Choices.js (Bokeh's MultiChoice) renders labels as HTML: escaped like an HTML pane.
        cow_options = {f"{html_text(r.official_id)} (index {r.index:,.1f})": r.id
                       for r in cows.itertuples()}
        bull_options = {f"{html_text(r.official_id)} · {html_text(r.source)} "
                        f"(index {r.index:,.1f})": r.id for r in bulls.itertuples()}
        self.chosen_cows = list(cow_options.values())[:20]
        self.chosen_bulls = list(bull_options.values())[:5]
        go = pn.widgets.Button(label="Plan matings", color="primary", width=160)
        go.on_click(self.make_plan)
        self.result = pn.Column(pn.pane.Markdown("Choose cows and bulls, then **Plan matings**."),
                                sizing_mode="stretch_width", css_classes=["rt-plan"])
        inputs = [
            pn.widgets.MultiChoice.from_param(
                self.param.chosen_cows, label=f"Cows (best {min(20, len(cows))} preselected)",
                options=cow_options, sizing_mode="stretch_width", max_items=mating.MAX_COWS),
            pn.widgets.MultiChoice.from_param(
                self.param.chosen_bulls, label="Bulls", options=bull_options,
                sizing_mode="stretch_width", max_items=mating.MAX_BULLS),
            pn.widgets.FloatSlider.from_param(self.param.max_inbreeding, start=0.0, end=0.25,
                                              step=0.0025, format="0.00%", width=300),
            pn.widgets.IntInput.from_param(self.param.max_per_bull, start=1, end=300,
                                           width=180)]
        self._layout = pn.Column(
            pn.pane.Markdown("Each cow gets one bull. The plan maximises the total expected "
                             "progeny index (the parents' mean) while keeping every calf's "
                             "expected inbreeding (half the parents' relationship) under the "
                             "limit."),
            *inputs[:2], widget_row(*inputs[2:], go), self.result, sizing_mode="stretch_width")
        self.pending = PendingChanges()
        self.pending.watch(inputs)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def make_plan(self, _event: object = None) -> None:
        """Plan the chosen matings; an infeasible limit or too many animals is said in words."""
        if not self.pending.settled():
            self.result.objects = [common.notice(STILL_ARRIVING, "warning")]
            return
        self.result.loading = True
        try:
            picked_cows = self.cows[self.cows["id"].isin(self.chosen_cows)]
            picked_bulls = self.bulls[self.bulls["id"].isin(self.chosen_bulls)]
            slots = math.ceil(len(picked_cows) / max(len(picked_bulls), 1))
            with self.ctx.session() as s:
                p = mating.plan_matings(s, picked_cows, picked_bulls,
                                        max_inbreeding=float(self.max_inbreeding),
                                        max_matings_per_bull=int(self.max_per_bull))
        except ValueError as exc:
            hint = (f" Try at least {slots} matings per bull or a higher inbreeding limit."
                    if "infeasible" in str(exc) else "")
            self.result.objects = [common.notice(f"No plan: {md_text(exc)}.{hint}", "warning")]
            return
        finally:
            self.result.loading = False
        self.plan = p.plan
        self.result.objects = [
            pn.pane.Markdown(
                f"**{len(p.plan)} matings** · mean expected progeny index "
                f"**{p.mean_merit:,.2f}** · mean expected inbreeding "
                f"**{p.mean_inbreeding:.2%}** (pedigree relationships)"),
            pn.widgets.Tabulator(
                p.plan.rename(columns=TITLES), show_index=False, disabled=True,
                pagination="local", page_size=25, sizing_mode="stretch_width",
                layout="fit_data_fill", theme="simple",
                formatters={TITLES["progeny_merit"]: common.number(2),
                            TITLES["progeny_inbreeding"]: common.number(4)}),
            pn.widgets.FileDownload(
                callback=lambda: io.BytesIO(csv_bytes(self.plan.rename(columns=TITLES))),
                filename="mating-plan.csv", label="CSV of this plan", color="light"),
        ]
