"""System (administrators): users, activity, animals, genotypes, analyses, job durations."""

from __future__ import annotations

import holoviews as hv
import panel as pn

from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.staff.common import ACCENT, figure, heading, note, number, table
from reprotech_core.staffviews import jobs as job_views
from reprotech_core.staffviews import system as views

SLUG = "system"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        views.require_admin(s)
    return pn.Column(pn.pane.Markdown("## System"), deferred(lambda: _figures(ctx), ctx),
                     sizing_mode="stretch_width")


def _figures(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        f = views.system_figures(s)
    share = f.genotyped / f.animals if f.animals else None
    cards = pn.FlexBox(
        number("Users", f.users), number("Active today", f.active_today),
        number("Customers", f.customers), number("Animals", f.animals),
        number("Genotyped", f.genotyped),
        number("Evaluations running", f.evaluations_running),
        number("Jobs running", f.jobs_running), number("Jobs queued", f.jobs_queued),
        number("Jobs failed (24 h)", f.jobs_failed_24h),
        css_classes=["rt-figures"], sizing_mode="stretch_width")
    roles = hv.Bars(f.users_by_role, "role", "users").opts(
        color=ACCENT, tools=["hover"], xlabel="", xrotation=30, title="Active users by role")
    durations = f.job_durations.assign(**{c: f.job_durations[c].map(job_views.format_duration)
                                          for c in ("median_s", "p95_s", "max_s")})
    parts = [
        cards,
        note(f"Genotyped share: {100 * share:.1f} % of all animals." if share is not None
             else "No animals recorded yet."),
        note("*Active today* counts users with a recorded action today (UTC): a change in the "
             "audit log or a job they started. Sign-ins are recorded by the hub, not here."),
        pn.Row(figure(roles, height=280), table(f.users_by_role, name="users-by-role"),
               sizing_mode="stretch_width"),
        heading("Job durations (successful runs)"),
    ]
    if durations.empty:
        parts.append(note("No job runs yet."))
    else:
        parts.append(table(durations.rename(columns={"median_s": "median", "p95_s": "p95",
                                                     "max_s": "max"}), name="job-durations"))
    return pn.Column(*parts, sizing_mode="stretch_width")
