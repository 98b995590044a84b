"""Mating advice: choose cows and bulls, get the allocation that maximises expected progeny
merit within an inbreeding limit, with each mating's expected merit and inbreeding.

The plan is computed on a button press (it can take a second for hundreds of cows), with a
loading indicator; problems (an infeasible limit, too many animals) are shown in words.
"""

from __future__ import annotations

import io
import math

import panel as pn

from dashboards.customer import common
from dashboards.pages import PageContext
from dashboards.text import html_text, md_text
from reprotech_core.portal import mating, rankings
from reprotech_core.portal.exports import csv_bytes

TITLES = {"cow": "Cow", "bull": "Bull", "progeny_merit": "Expected progeny index",
          "progeny_inbreeding": "Expected progeny inbreeding"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    table, run = common.herd_table(ctx, h)
    layout = pn.Column(common.heading("Mating advice", h, "mating"), sizing_mode="stretch_width")
    if table.empty:
        layout.append(common.notice(common.NO_HERD))
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
    # Choices.js (Bokeh's MultiChoice) renders labels as HTML: escaped like an HTML pane.
    cow_options = {f"{html_text(r.official_id)} (index {r.index:,.1f})": r.id
                   for r in cows.itertuples()}
    bull_options = {f"{html_text(r.official_id)} · {html_text(r.source)} "
                    f"(index {r.index:,.1f})": r.id for r in bulls.itertuples()}
    cow_pick = pn.widgets.MultiChoice(name=f"Cows (best {min(20, len(cows))} preselected)",
                                      options=cow_options,
                                      value=list(cow_options.values())[:20],
                                      sizing_mode="stretch_width", max_items=mating.MAX_COWS)
    bull_pick = pn.widgets.MultiChoice(name="Bulls", options=bull_options,
                                       value=list(bull_options.values())[:5],
                                       sizing_mode="stretch_width", max_items=mating.MAX_BULLS)
    limit = pn.widgets.FloatSlider(name="Highest expected inbreeding of a calf", start=0.0,
                                   end=0.25, step=0.0025, value=0.0625, format="0.00%",
                                   width=300)
    per_bull = pn.widgets.IntInput(name="Most matings per bull", value=4, start=1, end=300,
                                   width=180)
    go = pn.widgets.Button(name="Plan matings", button_type="primary", width=160)
    result = pn.Column(pn.pane.Markdown("Choose cows and bulls, then **Plan matings**."),
                       sizing_mode="stretch_width", css_classes=["rt-plan"])
    chosen = {"plan": None}

    def plan(_event=None) -> None:
        result.loading = True
        try:
            picked_cows = cows[cows["id"].isin(cow_pick.value)]
            picked_bulls = bulls[bulls["id"].isin(bull_pick.value)]
            slots = math.ceil(len(picked_cows) / max(len(picked_bulls), 1))
            with ctx.session() as s:
                p = mating.plan_matings(s, picked_cows, picked_bulls,
                                        max_inbreeding=float(limit.value),
                                        max_matings_per_bull=int(per_bull.value))
        except ValueError as exc:
            hint = (f" Try at least {slots} matings per bull or a higher inbreeding limit."
                    if "infeasible" in str(exc) else "")
            result.objects = [common.notice(f"No plan: {md_text(exc)}.{hint}", "warning")]
            return
        finally:
            result.loading = False
        chosen["plan"] = p.plan
        result.objects = [
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
                callback=lambda: io.BytesIO(csv_bytes(chosen["plan"].rename(columns=TITLES))),
                filename="mating-plan.csv", label="CSV of this plan", button_type="light"),
        ]

    go.on_click(plan)
    layout.extend([
        pn.pane.Markdown("Each cow gets one bull. The plan maximises the total expected "
                         "progeny index (the parents' mean) while keeping every calf's "
                         "expected inbreeding (half the parents' relationship) under the "
                         "limit."),
        cow_pick, bull_pick, pn.Row(limit, per_bull, go), result])
    return layout
