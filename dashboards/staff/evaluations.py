"""Evaluation runs (lab operations, researchers, administrators): every run with its release
verdict; ``?page=evaluations&run=<id>`` opens one run — what went in, each trait's
heritability, the forward validation per trait (bias, dispersion, ratio of accuracies), the
genetic trend, the contemporary groups — and, for those with ``results:release``, the release:
a run held by its validation is released only with a reason, which the run records
(issue 18: a release is decided on numbers).
"""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import panel as pn

from dashboards.actions import ActionPage
from dashboards.app import query_param
from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.staff.common import (
    PALETTE,
    figure,
    heading,
    int_param,
    link_formatter,
    note,
    refresh_button,
    rounded,
    table,
)
from dashboards.text import md_text
from reprotech_core.errors import ReprotechError
from reprotech_core.staffviews import evaluations as views

SLUG = "evaluations"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    run_id = int_param(query_param("run"), "run")
    with ctx.session() as s:
        if run_id is None:
            views.require_runs(s)
        else:
            views.run_record(s, run_id)  # NotFound when absent or not visible
    if run_id is not None:
        return RunPage(ctx, run_id)
    refresh = refresh_button()
    return pn.Column(
        pn.Row(pn.pane.Markdown("## Evaluation runs"), pn.Spacer(), refresh,
               sizing_mode="stretch_width"),
        deferred(lambda: _overview(ctx), ctx, refresh=refresh),
        sizing_mode="stretch_width")


def _overview(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        runs = views.evaluation_runs(s)
    if runs.empty:
        return note("No evaluation runs yet: the daily evaluation job makes them "
                    "(`reprotech eval run`).")
    held = runs[(runs["status"] == "succeeded") & runs["validation"].str.startswith("held")]
    parts: list = []
    if not held.empty:
        parts.append(pn.pane.Alert(
            f"**{len(held)} run(s) held by their validation**: open a run to see why; a person "
            "with the release permission releases it with a reason.", alert_type="warning",
            css_classes=["rt-attention"]))
    when = {c: runs[c].map(lambda v: "" if pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d %H:%M}")
            for c in ("started_at", "finished_at", "released_at")}
    shown = runs.assign(run=[f"?page={SLUG}&run={i}" for i in runs["id"]],
                        run_label=runs["id"].astype(str),
                        seconds=pd.to_numeric(runs["seconds"]).round(1), **when)
    parts.append(table(shown[["run", "run_label", *[c for c in views.RUN_LIST_COLUMNS
                                                     if c != "id"]]],
                       name="evaluation-runs", page_size=20,
                       formatters={"run": link_formatter("run_label")}, hidden=["run_label"]))
    return pn.Column(*parts, sizing_mode="stretch_width")


class RunPage(ActionPage):
    """One run; its release section is the page's only action."""

    def __init__(self, ctx: PageContext, run_id: int, **params) -> None:
        super().__init__(**params)
        self.ctx, self.run_id = ctx, run_id
        with ctx.session() as s:
            self.run = views.run_record(s, run_id)
            self.may_release = views.may_release(s)
        self.reason = pn.widgets.TextAreaInput(
            label="Why release it despite its validation (recorded on the run)", height=90,
            sizing_mode="stretch_width", css_classes=["rt-release-reason"])
        self.release_button = pn.widgets.Button(label="Release", color="primary",
                                                css_classes=["rt-release"])
        self.release_button.on_click(lambda _: self.release())
        self.inputs(self.reason)

    def release(self) -> None:
        """Release the run (with the typed reason when its validation holds it)."""
        if not self.ready():
            return
        try:
            with self.ctx.session() as s:
                n = views.release(s, self.run_id,
                                  despite_validation=self.reason.value or None)
        except ReprotechError as exc:
            self.say("danger", f"Not released. {exc}")
            return
        with self.ctx.session() as s:
            self.run = views.run_record(s, self.run_id)
        self.release_button.disabled = True
        self.say("success", f"Released {n:,} results of run {self.run_id}: customers see them "
                            "now.")

    # Sections ------------------------------------------------------------------------------
    def _facts(self) -> pn.pane.Markdown:
        r, p = self.run, self.run.parameters
        cohort = r.validation.get("cohort", {})
        facts = [
            ("method", p.get("method", r.method)), ("status", r.status),
            ("animals", p.get("animals")), ("SNPs", p.get("n_snps")), ("panel", p.get("panel")),
            ("fixed effects", p.get("fixed_effects")),
            ("heritabilities", "REML" if p.get("h2") == "REML" else p.get("h2")),
            ("validation cohort", f"{cohort.get('animals')} animals born "
                                  f"{', '.join(map(str, cohort.get('birth_years', [])))}"
             if cohort else None),
            ("release verdict", r.verdict),
            ("started", _when(r.started_at)), ("finished", _when(r.finished_at)),
            ("released", _when(r.released_at)),
            ("took", f"{r.timings['total']:.1f} s" if "total" in r.timings else None),
            ("error", r.timings.get("error")),
        ]
        rows = "\n".join(f"| {k} | {md_text(v)} |" for k, v in facts if v not in ("", None))
        return pn.pane.Markdown(f"| | |\n|---|---|\n{rows}", css_classes=["rt-run"])

    def _validation(self) -> list:
        table_ = self.run.validation_table()
        if table_.empty:
            return [note("This run has no validation record (made before runs validated "
                         "themselves).")]
        parts: list = [table(rounded(table_, 3), name="validation")]
        if self.run.reasons:
            items = "\n".join(f"- {md_text(r)}" for r in self.run.reasons)
            parts.insert(0, pn.pane.Alert(
                f"**Not released automatically:**\n\n{items}", alert_type="warning",
                css_classes=["rt-validation-held"]))
        return parts

    def _trend(self) -> list:
        trend = self.run.trend()
        if trend.empty:
            return [note("No genetic trend stored with this run.")]
        curves = [hv.Curve(trend[trend["trait"] == t], "birth_year", "mean", label=t).opts(
            color=PALETTE[i % len(PALETTE)], line_width=2, tools=["hover"])
            for i, t in enumerate(sorted(trend["trait"].unique()))]
        plot = hv.Overlay(curves).opts(xlabel="Birth year", ylabel="Mean GEBV",
                                       title="Genetic trend per birth year",
                                       legend_position="right", show_grid=True)
        return [figure(plot, height=300)]

    def _release(self) -> list:
        r = self.run
        if r.status == "released":
            despite = r.validation.get("release", {}).get("despite")
            why = f" despite its validation: {md_text(despite['reason'])}" if despite else ""
            return [note(f"Released {_when(r.released_at)}{why}.")]
        if r.status != "succeeded":
            return [note(f"A {r.status} run cannot be released.")]
        if not self.may_release:
            return [note("Releasing needs the results:release permission (administrators).")]
        parts: list = []
        if r.reasons:
            parts.append(self.reason)
        parts += [self.release_button, self.outcome]
        return parts

    def __panel__(self) -> pn.viewable.Viewable:
        groups, traits = self.run.groups(), self.run.traits()
        return pn.Column(
            pn.pane.Markdown(f"[← Evaluation runs](?page={SLUG})\n\n## Evaluation run "
                             f"{self.run_id}"),
            self._facts(),
            heading("Traits"), table(rounded(traits, 3), name="traits") if not traits.empty
            else note("No traits recorded for this run."),
            heading("Forward validation (LR method: youngest birth years' records removed)"),
            *self._validation(),
            heading("Genetic trend"), *self._trend(),
            heading("Contemporary groups (herd-year-season)"),
            table(groups, name="groups") if not groups.empty
            else note("No contemporary groups recorded for this run."),
            heading("Release"), *self._release(),
            sizing_mode="stretch_width")


def _when(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"
