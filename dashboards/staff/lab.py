"""Lab batches (lab operations, technicians, administrators): stages, QC, failed samples."""

from __future__ import annotations

import holoviews as hv
import panel as pn

from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.staff.common import (
    ACCENT,
    figure,
    heading,
    note,
    refresh_button,
    rounded,
    table,
)
from reprotech_core.staffviews import lab as views

SLUG = "lab"
DECISION_COLOURS = {"pass": "#3b9c6d", "review": "#e07a1f", "fail": "#b23a48"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        views.require_lab(s)
    refresh = refresh_button()
    return pn.Column(
        pn.Row(pn.pane.Markdown("## Lab batches"), pn.Spacer(), refresh,
               sizing_mode="stretch_width"),
        deferred(lambda: _batches(ctx), ctx, refresh=refresh),
        heading("QC per batch and chip"), deferred(lambda: _qc(ctx), ctx, refresh=refresh),
        heading("Failed samples and samples to review"),
        deferred(lambda: _failed(ctx), ctx, refresh=refresh),
        sizing_mode="stretch_width")


def _batches(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        batches = views.batches(s)
        history = views.stage_history(s)
    if batches.empty:
        return note("No genotyping batches yet: they appear when the lab's files are ingested "
                    "(`reprotech lab ingest`).")
    stages = views.stage_counts(batches)
    pipeline = hv.Bars(stages, "stage", "batches").opts(
        color=ACCENT, tools=["hover"], xlabel="", title="Batches per stage (pipeline order)")
    shown = batches.drop(columns=["id"]).assign(
        mean_call_rate=batches["mean_call_rate"].astype(float).round(4))
    return pn.Column(
        pn.Row(figure(pipeline, height=240), sizing_mode="stretch_width"),
        table(shown, name="batches", titles={"qc_pass": "pass", "qc_review": "review",
                                             "qc_fail": "fail"}),
        pn.Accordion(("Stage history", table(rounded(history, 2), name="stage-history")),
                     sizing_mode="stretch_width"),
        sizing_mode="stretch_width")


def _qc(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        qc = views.qc_by_batch_and_chip(s)
        samples = views.qc_samples(s)
    if qc.empty:
        return note("No QC decisions yet: QC runs on a genotyped batch (`reprotech lab qc`).")
    points = [hv.Points(samples[samples["decision"] == d], ["call_rate", "heterozygosity"],
                        ["barcode", "batch", "decision"], label=d).opts(color=c)
              for d, c in DECISION_COLOURS.items() if (samples["decision"] == d).any()]
    scatter = hv.Overlay(points).opts(
        hv.opts.Points(size=6, alpha=0.7, tools=["hover"]),
        hv.opts.Overlay(title="Samples: call rate against heterozygosity", legend_position="right",
                        xlabel="call rate", ylabel="heterozygosity"))
    fails = hv.Bars(qc.melt(id_vars=["batch"], value_vars=["pass", "review", "fail"],
                            var_name="decision", value_name="samples"),
                    ["batch", "decision"], "samples").opts(
        stacked=True, tools=["hover"], cmap=list(DECISION_COLOURS.values()), xlabel="",
        title="Decisions per batch", color=hv.dim("decision").categorize(DECISION_COLOURS))
    return pn.Column(
        table(rounded(qc, 4), name="qc"),
        pn.Row(figure(fails, height=300), figure(scatter, height=300),
               sizing_mode="stretch_width"),
        sizing_mode="stretch_width")


def _failed(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        failed = views.failed_samples(s)
    if failed.empty:
        return note("No failed samples and nothing to review.")
    return table(rounded(failed, 4), name="failed-samples", page_size=20)

