"""Herd overview: the herd's recent news (releases, failed QC), the herd in figures, what
changed since the last visit, the best animals by the latest released results, genetics over
time (trend, inbreeding, the herd against the population: ``dashboards.customer.genetics``),
the reproduction KPIs of the last twelve months, each against the herd's target where one is
set (``reprotech_core.reproduction.targets``: value, target and "met"/"missed" in words, not
by colour alone), and what the herd's reproduction to-do list holds today."""

from __future__ import annotations

import panel as pn

from dashboards.customer import common, genetics
from dashboards.deferred import deferred
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core import notifications
from reprotech_core.portal import herd, visits
from reprotech_core.portal.herd import TRAIT_LABELS
from reprotech_core.reproduction.targets import TargetCheck, check_against_targets, herd_targets
from reprotech_core.reproduction.worklists import ACTIONS

KPI_CARDS = (  # field, label, percent?, digits
    ("conception_rate", "Conception rate", True, 0),
    ("pregnancy_rate_21d", "21-day pregnancy rate", True, 0),
    ("heat_detection_rate", "Heat-detection rate", True, 0),
    ("services_per_conception", "Services per conception", False, 2),
    ("days_open", "Days open", False, 0),
    ("calving_interval", "Calving interval (days)", False, 0),
    ("embryos_per_flush", "Embryos per flush", False, 1),
    ("transferable_embryos_per_flush", "Transferable embryos per flush", False, 1),
    ("blastocyst_rate", "IVF blastocyst rate", True, 0),
    ("pregnancies_per_transfer", "Pregnancies per transfer", True, 0),
)


def card(label: str, value: str, note: str = "", target: str = "") -> pn.viewable.Viewable:
    """A figure with its label, a note and (KPIs) a target line; sized to sit two to a row
    on a phone (390 px) and wrap (``min-width`` 150 px, text wraps inside)."""
    return pn.pane.HTML(
        f'<div class="rt-card"><div style="font-size:1.6em;font-weight:600;color:#1f4e5f">'
        f'{value}</div><div style="font-weight:600">{label}</div>'
        + (f'<div style="color:#667;font-size:0.85em">{note}</div>' if note else "")
        + target + "</div>",
        styles={"border": "1px solid #d9e2e7", "border-radius": "6px", "padding": "8px 12px",
                "background": "#f7fafb", "min-width": "150px", "max-width": "100%",
                "overflow-wrap": "anywhere"},
        margin=(5, 6))


MET = ("✓ met", "#1b6e3a", "#e3f4e8")  # text, colour, background: the words say it
MISSED = ("✗ missed", "#a4262c", "#fbe7e8")


def target_line(check: TargetCheck | None, percent: bool, digits: int) -> str:
    """The card's target line: "Target ≥ 40% · ✓ met" (rates at or above, days at or below);
    nothing when the herd set no target for the KPI."""
    if check is None:
        return ""
    goal = common.fmt(check.target if percent else round(check.target), digits,
                      percent=percent)
    sign = "≥" if check.higher_is_better else "≤"
    if check.met is None:
        mark = '<span class="rt-target-mark">no value</span>'
    else:
        text, colour, back = MET if check.met else MISSED
        mark = (f'<span class="rt-target-mark" style="color:{colour};background:{back};'
                f'font-weight:600;padding:0 4px;border-radius:3px;white-space:nowrap">'
                f'{text}</span>')
    return (f'<div class="rt-target" style="font-size:0.85em;margin-top:2px">'
            f'<span style="white-space:nowrap">Target {sign} {goal}</span> · {mark}</div>')


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
    with ctx.session() as s:
        checks = check_against_targets(values, herd_targets(s, h.customer.id))
    cards = [card(label, common.fmt(values[f], digits, percent=pct),
                  "no records" if values[f] is None else "",
                  target_line(checks.get(f), pct, digits))
             for f, label, pct, digits in KPI_CARDS]
    note = (f"{k.services:,} services, {k.conceptions:,} conceptions, {k.flushes} flushes, "
            f"{k.ivf_sessions} OPU/IVF sessions.")
    todo = common.todo(ctx, h)
    counts = todo["action"].value_counts()
    to_do = ("**To do today:** " + " · ".join(
        f"{counts[a]} {TODO_LABELS[a]}" for a in ACTIONS if a in counts)
             if len(todo) else "**To do today:** nothing — no cow is waiting for a check, a "
             "service or drying off.")
    set_ = ("Targets are the herd's own (set on the Reproduction page)." if checks else
             "No targets set: the herd's admin or vet sets them on the Reproduction page.")
    return pn.Column(pn.pane.Markdown(f"#### Reproduction KPIs: {period}"),
                     pn.FlexBox(*cards, sizing_mode="stretch_width"),
                     pn.pane.Markdown(f"{note} {set_}"), pn.pane.Markdown(to_do),
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
