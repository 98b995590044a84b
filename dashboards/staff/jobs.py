"""Jobs (lab operations, administrators): runs, timings, outputs; failed and long-running
runs flagged at the top (issue 5: a failed or long-running job is visible here).

``?page=jobs&run=<id>`` opens one run: its record, the error and failing cell, and the
executed notebook (rendered HTML in a sandboxed frame, both files to download). The files are
sent over the session's own connection, so no file route is opened on the service.
"""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import panel as pn

from dashboards.app import query_param
from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.staff.common import (
    ACCENT,
    figure,
    heading,
    int_param,
    link_formatter,
    note,
    refresh_button,
    table,
)
from dashboards.text import html_text, md_text
from reprotech_core.staffviews import jobs as views

SLUG = "jobs"
MAX_INLINE_HTML = 5_000_000  # bytes: larger notebooks are offered as downloads only


def build(ctx: PageContext) -> pn.viewable.Viewable:
    run_id = int_param(query_param("run"), "run")
    with ctx.session() as s:
        if run_id is None:
            views.require_jobs(s)
        else:
            run = views.run_by_id(s, run_id)  # NotFound when absent or not visible
    if run_id is not None:
        return _run_page(ctx, run)
    refresh = refresh_button()
    return pn.Column(
        pn.Row(pn.pane.Markdown("## Jobs"), pn.Spacer(), refresh, sizing_mode="stretch_width"),
        deferred(lambda: _overview(ctx), ctx, refresh=refresh),
        sizing_mode="stretch_width")


def _runs(ctx: PageContext) -> pd.DataFrame:
    with ctx.session() as s:
        return views.annotate_runs(views.job_runs(s))


def _shown(runs: pd.DataFrame) -> pd.DataFrame:
    out = runs.assign(
        run=[f"?page={SLUG}&run={i}" for i in runs["id"]],
        duration=runs["duration_s"].map(views.format_duration),
        waited=runs["wait_s"].map(views.format_duration),
        queued=runs["queued_at"].dt.strftime("%Y-%m-%d %H:%M"),
        output="",
    )
    out["output"] = ["html" if h else "" for h in runs["output_html"]]
    out["run_label"] = out["id"].astype(str)
    return out[["run", "run_label", "job", "status", "flag", "why", "attempts", "queued",
                "waited", "duration", "progress", "output", "requested_by"]]


def _overview(ctx: PageContext) -> pn.viewable.Viewable:
    runs = _runs(ctx)
    if runs.empty:
        return note("No job runs yet: the scheduler queues them (`reprotech jobs schedules`).")
    flagged = views.attention(runs)
    parts: list = []
    if flagged.empty:
        parts.append(pn.pane.Alert("No failed, long-running or waiting runs.",
                                   alert_type="success",
                                   css_classes=["rt-attention"]))
    else:
        parts += [
            pn.pane.Alert(f"**{md_text(views.attention_summary(flagged))}**", alert_type="danger",
                          css_classes=["rt-attention"]),
            table(_shown(flagged), name="attention",
                  formatters={"run": link_formatter("run_label")}, hidden=["run_label"]),
        ]
    durations = views.job_durations(runs)
    timed = durations.dropna(subset=["median_s"])
    parts += [heading("All runs"),
              table(_shown(runs), name="runs", page_size=20,
                    formatters={"run": link_formatter("run_label")}, hidden=["run_label"]),
              heading("Durations per job (successful runs)")]
    shown = durations.assign(**{c: durations[c].map(views.format_duration)
                                for c in ("median_s", "p95_s", "max_s")})
    parts.append(table(shown.rename(columns={"median_s": "median", "p95_s": "p95",
                                             "max_s": "max"}), name="durations"))
    if not timed.empty:
        bars = hv.Bars(timed.melt(id_vars=["job"], value_vars=["median_s", "p95_s"],
                                  var_name="statistic", value_name="seconds"),
                       ["job", "statistic"], "seconds").opts(
            tools=["hover"], xlabel="", ylabel="seconds", color=hv.Cycle([ACCENT, "#e07a1f"]),
            title="Successful run durations: median and 95th percentile")
        parts.append(figure(bars, height=280))
    return pn.Column(*parts, sizing_mode="stretch_width")


def _run_page(ctx: PageContext, run: dict) -> pn.viewable.Viewable:
    runs = _runs(ctx)  # flags judged against the job's history, as on the overview
    mine = runs[runs["id"] == run["id"]]
    if mine.empty:  # an old, finished run beyond the overview's window
        mine = views.annotate_runs(pd.DataFrame([run]).reindex(columns=list(views.RUN_COLUMNS)))
    r = mine.iloc[0]
    outputs = views.run_outputs(run, ctx.settings.jobs_dir)
    def when(value: object) -> str:
        return "" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S} UTC"

    facts = [
        ("job", r.job), ("status", r.status), ("attempts", f"{r.attempts} of {r.max_attempts}"),
        ("progress", r.progress or ""), ("queued", when(r.queued_at)),
        ("started", when(r.started_at)), ("finished", when(r.finished_at)),
        ("waited", views.format_duration(r.wait_s)),
        ("duration", views.format_duration(r.duration_s)),
        ("timeout", views.format_duration(r.timeout_s)),
        ("requested by", r.requested_by or ""),
        ("parameters", str(run.get("parameters") or {})),
    ]
    rows = "\n".join(f"| {k} | {md_text(v)} |"
                     for k, v in facts if v not in ("", None))
    parts: list = [pn.pane.Markdown(f"[← Jobs](?page={SLUG})\n\n## Run {run['id']}: "
                                    f"{md_text(r.job)}")]
    if r.flag:
        parts.append(pn.pane.Alert(f"**{md_text(r.flag)}**: {md_text(r.why)}", alert_type="danger",
                                   css_classes=["rt-attention"]))
    parts.append(pn.pane.Markdown(f"| | |\n|---|---|\n{rows}", css_classes=["rt-run"]))
    if r.error:
        cell = f" (cell {int(r.error_cell)})" if pd.notna(r.error_cell) else ""
        parts.append(pn.pane.HTML(f"<b>Error{cell}</b><pre class='rt-error'>"
                                  f"{html_text(r.error)}</pre>",
                                  sizing_mode="stretch_width"))
    downloads = [pn.widgets.FileDownload(file=str(p), filename=p.name, label=f"Download {what}",
                                         color="primary", embed=False)
                 for what, p in (("notebook", outputs.notebook), ("HTML", outputs.html)) if p]
    if not downloads:
        parts.append(note("This run has no output notebook (yet)."))
    else:
        parts.append(pn.Row(*downloads))
    if outputs.html and outputs.html.stat().st_size <= MAX_INLINE_HTML:
        body = outputs.html.read_text(errors="replace")
        parts.append(pn.pane.HTML(
            f'<iframe class="rt-notebook" sandbox="" srcdoc="{html_text(body)}" '
            'style="width:100%;height:70vh;border:1px solid #ddd"></iframe>',
            sizing_mode="stretch_width"))
    return pn.Column(*parts, sizing_mode="stretch_width")
