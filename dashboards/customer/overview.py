"""Herd overview: the herd's recent news (releases, failed QC), the herd in figures, what
changed since the last visit, the best animals by the latest released results, genetics over
time (trend, inbreeding, the herd against the population: ``dashboards.customer.genetics``),
the reproduction KPIs of the last twelve months and what the herd's reproduction to-do list
holds today."""

from __future__ import annotations

import panel as pn

from dashboards.customer import common, genetics
from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core import notifications
from reprotech_core.portal import herd, visits
from reprotech_core.portal.herd import TRAIT_LABELS
from reprotech_core.reproduction.worklists import ACTIONS

KPI_CARDS = (  # field, label, percent?, digits
    ("conception_rate", "Conception rate", True, 0),
    ("pregnancy_rate_21d", "21-day pregnancy rate", True, 0),
    ("services_per_conception", "Services per conception", False, 2),
    ("days_open", "Days open", False, 0),
    ("calving_interval", "Calving interval (days)", False, 0),
    ("embryos_per_flush", "Embryos per flush", False, 1),
    ("transferable_embryos_per_flush", "Transferable embryos per flush", False, 1),
    ("blastocyst_rate", "IVF blastocyst rate", True, 0),
    ("pregnancies_per_transfer", "Pregnancies per transfer", True, 0),
)


def card(label: str, value: str, note: str = "") -> pn.viewable.Viewable:
    return pn.pane.HTML(
        f'<div class="rt-card"><div style="font-size:1.6em;font-weight:600;color:#1f4e5f">'
        f'{value}</div><div style="font-weight:600">{label}</div>'
        + (f'<div style="color:#667;font-size:0.85em">{note}</div>' if note else "") + "</div>",
        styles={"border": "1px solid #d9e2e7", "border-radius": "6px", "padding": "8px 14px",
                "background": "#f7fafb", "min-width": "170px"},
        margin=(5, 8))


def figures(summary: herd.HerdSummary) -> pn.viewable.Viewable:
    share = common.fmt(summary.genotyped_share, percent=True)
    return pn.FlexBox(
        card("In the herd", f"{summary.in_herd:,}",
             f"{summary.females:,} F · {summary.males:,} M · {summary.animals:,} recorded"),
        card("Genotyped", share, f"{summary.genotyped:,} animals in the herd"),
        card("Genotype QC", f"{summary.qc_pass:,} pass",
             f"{summary.qc_review:,} review · {summary.qc_fail:,} failed"),
        card("With genomic results", f"{summary.with_results:,}",
             "latest released evaluation" if summary.release_run else "none released yet"),
        css_classes=["rt-figures"])


def changes(ctx: PageContext, h: common.Herd, release_run: int | None) -> pn.viewable.Viewable:
    log = visits.VisitLog(ctx.settings.var_dir / "dashboards" / "visits")
    last = log.last(ctx.identity.user_id, h.customer.id)
    log.record(ctx.identity.user_id, h.customer.id, visits.Visit(visits.now(), release_run))
    if last is None:
        return common.notice("Welcome: this is your first visit to this herd's overview. "
                             "Next time, this box lists what changed since.")
    with ctx.session() as s:
        found = visits.changes_since(s, h.customer.id, last)
    when = herd.as_of(last.at)
    if not found:
        return common.notice(f"Nothing has changed since your last visit ({when}).")
    lines = "\n".join(f"- **{n:,}** {what}" for what, n in found)
    return pn.pane.Markdown(f"#### Since your last visit ({when})\n{lines}",
                            css_classes=["rt-changes"])


def notices(ctx: PageContext, h: common.Herd) -> pn.viewable.Viewable:
    """The herd's news of the last weeks (an evaluation released, samples failing QC), newest
    first; nothing at all when there is none."""
    with ctx.session() as s:
        recent = notifications.recent(s, h.customer.id)
    kinds = {"qc_failed": "warning"}
    return pn.Column(*(
        pn.pane.Alert(f"**{md_text(n.subject)}** ({n.created_at:%Y-%m-%d}). {md_text(n.body)}",
                      alert_type=kinds.get(n.topic, "info"), sizing_mode="stretch_width",
                      css_classes=["rt-herd-notice"])
        for n in recent.head(5).itertuples()), sizing_mode="stretch_width")


def best_animals(table, h: common.Herd) -> pn.viewable.Viewable:
    top = herd.top_animals(table, 10)
    if top.empty:
        return common.notice(common.NO_RESULTS)
    rows = "\n".join(
        f"| [{md_text(r.official_id)}]({common.link('animal', h, animal=r.id)}) | "
        f"{md_text(r.sex)} | "
        f"{common.fmt(r.birth_year)} | {r.index:,.1f} | "
        + " | ".join(common.fmt(getattr(r, t), 1) for t in TRAIT_LABELS) + " |"
        for r in top.itertuples())
    head = ("| Animal | Sex | Born | Index | " + " | ".join(TRAIT_LABELS.values()) + " |\n"
            "|---|---|---|---:|" + "---:|" * len(TRAIT_LABELS))
    return pn.pane.Markdown(f"#### Best animals by selection index\n{head}\n{rows}",
                            css_classes=["rt-best"], sizing_mode="stretch_width")


TODO_LABELS = {"examine": "to examine", "pregnancy check": "pregnancy check(s) due",
               "confirm pregnancy": "pregnancy(ies) to confirm", "breed": "to breed",
               "dry off": "to dry off", "due to calve": "due to calve"}


def _empty(k) -> bool:  # noqa: ANN001
    return k.services == 0 and k.flushes == 0 and k.ivf_sessions == 0


def reproduction(ctx: PageContext, h: common.Herd) -> pn.viewable.Viewable:
    k, period = common.kpis(ctx, h, days=365), "the last twelve months"
    if _empty(k):
        k, period = common.kpis(ctx, h, days=None), "all records (none in the last twelve months)"
    if _empty(k):
        return common.notice("No reproduction records for this herd yet.")
    values = k.as_dict()
    cards = [card(label, common.fmt(values[f], digits, percent=pct),
                  "no records" if values[f] is None else "")
             for f, label, pct, digits in KPI_CARDS]
    note = (f"{k.services:,} services, {k.conceptions:,} conceptions, {k.flushes} flushes, "
            f"{k.ivf_sessions} OPU/IVF sessions.")
    todo = common.todo(ctx, h)
    counts = todo["action"].value_counts()
    to_do = ("**To do today:** " + " · ".join(
        f"{counts[a]} {TODO_LABELS[a]}" for a in ACTIONS if a in counts)
             if len(todo) else "**To do today:** nothing — no cow is waiting for a check, a "
             "service or drying off.")
    return pn.Column(pn.pane.Markdown(f"#### Reproduction KPIs: {period}"),
                     pn.FlexBox(*cards), pn.pane.Markdown(note), pn.pane.Markdown(to_do),
                     sizing_mode="stretch_width", css_classes=["rt-kpis"])


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    table, run = common.herd_table(ctx, h)
    layout = pn.Column(common.heading("Herd overview", h, "overview"), notices(ctx, h),
                       sizing_mode="stretch_width")
    summary = herd.herd_summary(table, run)
    if summary.animals == 0:
        layout.extend([common.notice(common.NO_HERD), changes(ctx, h, run)])
        return layout
    layout.extend([figures(summary), changes(ctx, h, run), best_animals(table, h)])
    if summary.animals == 1:
        layout.append(common.notice("This herd has a single animal: herd statistics and "
                                    "comparisons become meaningful with more animals."))
    # Trend plots and the population aggregate: loaded after the page shows, with a spinner.
    layout.append(deferred(lambda: genetics.section(ctx, h, table), ctx))
    if "reproduction" in h.modules:
        # KPIs simulate every service's outcome: loaded after the page shows, with a spinner.
        layout.append(deferred(lambda: reproduction(ctx, h), ctx))
    return layout
