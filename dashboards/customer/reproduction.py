"""Reproduction analytics of a herd (customer and vet): the breeding summary after DairyComp
305's BREDSUM — the 21-day cycle chart, conception rates by service number, lactation, heat or
timed AI, sire, technician and month, the pregnancy-status chart, calving-interval and
age-at-first-calving distributions, and every KPI's monthly trend.

The figures are ``reprotech_core.reproduction.bredsum.breeding_summary`` (pure functions over
the records read under the user's row security), shared by the tenant's sessions for the day
until a record changes; the whole analysis loads after the page shows. Every table has a CSV
download, neutralised for spreadsheets (``portal.exports.csv_bytes``): sire codes and
technician names are typed in by people.
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import panel as pn
import param

from dashboards.cache import SHARED
from dashboards.customer import common, repro_plots
from dashboards.deferred import deferred
from dashboards.layout import widget_row
from dashboards.pages import PageContext
from dashboards.pending import STILL_ARRIVING, PendingChanges
from dashboards.text import md_text
from reprotech_core.portal.exports import csv_bytes
from reprotech_core.reproduction.bredsum import BreedingSummary, cycle_totals
from reprotech_core.reproduction.queries import breeding_summary, records_version
from reprotech_core.reproduction.targets import (
    FIELDS,
    LABELS,
    HerdTargets,
    herd_targets,
    may_set_targets,
    save_targets,
)
from reprotech_core.textfields import RecordRefused

SLUG = "reproduction"

TITLES = {
    "cycle_start": "Cycle start", "cycle_end": "Cycle end", "eligible": "Eligible",
    "bred": "Bred", "heats": "Heat seen, not bred", "pregnant": "Pregnant",
    "pending": "Outcome pending", "submission_rate": "Submission rate",
    "conception_rate": "Conception rate",
    "pregnancy_rate": "Pregnancy rate", "services": "Services", "conceptions": "Conceptions",
    "services_per_conception": "Services per conception", "transfers": "Embryo transfers",
    "pregnancies_per_transfer": "Pregnancies per transfer", "service_number": "Service",
    "lactation": "Lactation", "service_type": "Service type", "sire": "Sire",
    "technician": "Technician", "month": "Month", "pregnancy_rate_21d": "21-day pregnancy rate",
    "eligible_cycles": "Eligible cycles", "heat_detection_rate": "Heat-detection rate",
    "submitted_cycles": "Cycles bred or seen in heat", "days_open": "Days open",
    "calving_interval": "Calving interval", "pregnancy_loss": "Pregnancy loss",
    "official_id": "Cow", "herd": "Herd", "days_in_milk": "Days in milk", "status": "Status",
    "last_service": "Last service", "calving": "Calving", "next_calving": "Next calving",
    "days": "Days", "birth_date": "Born", "first_calving": "First calving",
    "months": "Months", "flushes": "Flushes", "embryos_per_flush": "Embryos per flush",
    "transferable_embryos_per_flush": "Transferable embryos per flush",
    "ivf_sessions": "OPU/IVF sessions", "blastocyst_rate": "Blastocyst rate",
}
RATES = {"submission_rate", "conception_rate", "pregnancy_rate", "pregnancy_rate_21d",
         "heat_detection_rate",
         "pregnancy_loss", "pregnancies_per_transfer", "blastocyst_rate"}
SERVICE_TABLE = ["services", "conceptions", "conception_rate", "services_per_conception"]
BREAKDOWNS = (  # attribute, column, heading, file
    ("by_service_number", "service_number", "Conception rate by service number",
     "service-number"),
    ("by_lactation", "lactation", "Conception rate by lactation", "lactation"),
    ("by_service_type", "service_type", "Conception rate by heat or timed AI",
     "service-type"),
    ("by_sire", "sire", "Conception rate by sire", "sire"),
    ("by_technician", "technician", "Conception rate by technician", "technician"),
)


def summary(ctx: PageContext, h: common.Herd, vwp_days: int) -> BreedingSummary:
    """The herd's breeding summary today with its waiting period, shared by the tenant's
    sessions until a record changes (``h`` was resolved under the user's row security, so the
    tenant is theirs)."""
    cid, today = h.customer.id, date.today()
    with ctx.session() as s:
        version = records_version(s, cid)

    def load() -> BreedingSummary:
        with ctx.session() as s:
            return breeding_summary(s, cid, today=today, vwp_days=vwp_days)

    return SHARED.get(("bredsum", cid, today, vwp_days, version), load)


def _formatters(frame: pd.DataFrame) -> dict[str, object]:
    from bokeh.models.widgets.tables import NumberFormatter

    out: dict[str, object] = {}
    for col in frame.columns:
        if col in RATES:
            out[TITLES[col]] = NumberFormatter(format="0%", nan_format="—", null_format="—",
                                               text_align="right")
        elif pd.api.types.is_float_dtype(frame[col]):
            out[TITLES.get(col, col)] = common.number(1)
    return out


def table(frame: pd.DataFrame, filename: str, *, page_size: int = 10,
          name: str = "") -> pn.viewable.Viewable:
    """A table of ``frame`` (titles, rates as %) and its CSV download (the exact values)."""
    shown = frame.rename(columns=TITLES)
    for col in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[col]):
            shown[col] = shown[col].dt.strftime("%Y-%m-%d")
    grid = pn.widgets.Tabulator(shown, show_index=False, disabled=True, selectable=False,
                                pagination="local", page_size=page_size, theme="simple",
                                layout="fit_data_table", formatters=_formatters(frame),
                                sizing_mode="stretch_width", css_classes=[f"rt-{name}"])
    download = pn.widgets.FileDownload(
        callback=lambda: io.BytesIO(csv_bytes(frame.rename(columns=TITLES))),
        filename=filename, label="CSV", color="light", width=90)
    return pn.Column(grid, download, sizing_mode="stretch_width")


def _section(title: str, text: str, *objects: pn.viewable.Viewable) -> pn.Column:
    return pn.Column(pn.pane.Markdown(f"#### {title}\n{text}"), *objects,
                     sizing_mode="stretch_width")


def cycles_section(s: BreedingSummary, code: str, t: HerdTargets) -> pn.viewable.Viewable:
    totals = cycle_totals(s.cycles)
    line = (f"Last year: **{totals['eligible']:,}** eligible cow-cycles, **{totals['bred']:,}** "
            f"bred, **{totals['heats']:,}** seen in heat and not bred, "
            f"**{totals['pregnant']:,}** pregnant — submission (heat-detection) rate "
            f"**{common.fmt(totals['submission_rate'], percent=True)}**, conception rate "
            f"**{common.fmt(totals['conception_rate'], percent=True)}**, pregnancy rate "
            f"**{common.fmt(totals['pregnancy_rate'], percent=True)}**.")
    return _section(
        "21-day cycles (breeding summary)",
        f"Cows past the {s.vwp_days}-day voluntary waiting period, not yet pregnant, in the "
        "herd for the cycle. Submission (heat-detection) rate = (bred + seen in heat and not "
        "bred) / eligible; conception rate = pregnant / "
        "bred with a known outcome; pregnancy rate = pregnant / eligible (the newest cycles "
        "still have services waiting for a diagnosis: see *Outcome pending*).\n\n" + line,
        pn.pane.HoloViews(repro_plots.cycle_bars(s.cycles, {
            "Submission rate": t.submission_rate_pct, "Conception rate": t.conception_rate_pct,
            "Pregnancy rate": t.pregnancy_rate_pct}), sizing_mode="stretch_width"),
        table(s.cycles, f"{code}-21-day-cycles.csv", page_size=17, name="cycles"))


def conception_section(s: BreedingSummary, code: str) -> pn.viewable.Viewable:
    parts = []
    for attr, col, heading, file in BREAKDOWNS:
        frame = getattr(s, attr)
        frame = frame[[col, *SERVICE_TABLE, *(["transfers", "pregnancies_per_transfer"]
                                              if col == "sire" else [])]]
        parts.append(pn.Column(pn.pane.Markdown(f"##### {heading}"),
                               common.notice("No services in the last year.") if frame.empty
                               else table(frame, f"{code}-conception-by-{file}.csv",
                                          name=f"by-{file}"),
                               sizing_mode="stretch_width", min_width=320))
    return _section(
        "Conception rate", "Services of the last year. Service number counts within the "
        "lactation (1 = the first service after calving; heifers from their first service); "
        "lactation counts the calvings recorded for the cow.",
        pn.FlexBox(*parts, sizing_mode="stretch_width"))


def status_section(s: BreedingSummary, code: str) -> pn.viewable.Viewable:
    if s.status.empty:
        return _section("Pregnancy status", "",
                        common.notice("No cow in the herd has a recorded calving."))
    counts = s.status["status"].value_counts()
    line = " · ".join(f"**{counts.get(k, 0):,}** {k}" for k in ("open", "bred", "pregnant"))
    cols = ["official_id", "herd", "lactation", "days_in_milk", "status", "services",
            "last_service"]
    return _section(
        "Pregnancy status", "Each cow in the herd at her days in milk today: *open* (not "
        "served since calving, or found open), *bred* (served, not checked since), "
        "*pregnant* (found pregnant after her last service). Dry-off is not recorded, so "
        f"dry cows show as pregnant.\n\n{line}",
        pn.pane.HoloViews(repro_plots.status_scatter(s.status), sizing_mode="stretch_width"),
        table(s.status[cols].sort_values("days_in_milk", ascending=False),
              f"{code}-pregnancy-status.csv", name="status"))


def distributions_section(s: BreedingSummary, code: str, t: HerdTargets
                          ) -> pn.viewable.Viewable:
    ci, afc = s.calving_intervals, s.first_calving
    left = (common.notice("No cow has two recorded calvings yet.") if ci.empty else pn.Column(
        pn.pane.HoloViews(repro_plots.histogram(ci["days"], xlabel="Calving interval (days)",
                                                title=f"Calving interval: mean "
                                                f"{ci['days'].mean():,.0f} days (n={len(ci)})",
                                                target=t.calving_interval_days),
                          sizing_mode="stretch_width"),
        table(ci.drop(columns=["cow"]), f"{code}-calving-intervals.csv", name="intervals"),
        sizing_mode="stretch_width"))
    right = (common.notice("No cow with a birth date has a recorded calving yet.") if afc.empty
             else pn.Column(
                 pn.pane.HoloViews(repro_plots.histogram(
                     afc["months"], xlabel="Age at first calving (months)",
                     title=f"Age at first calving: mean {afc['months'].mean():,.1f} months "
                     f"(n={len(afc)})", target=t.first_calving_months),
                     sizing_mode="stretch_width"),
                 table(afc.drop(columns=["cow"]), f"{code}-age-at-first-calving.csv",
                       name="first-calving"),
                 sizing_mode="stretch_width"))
    return _section(
        "Calving interval and age at first calving", "All records: each pair of consecutive "
        "calvings of a cow, and each cow's first recorded calving (a cow bought in after her "
        "first calving shows her first one here).",
        pn.FlexBox(pn.Column(left, min_width=320, sizing_mode="stretch_width"),
                   pn.Column(right, min_width=320, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"))


def trends_section(s: BreedingSummary, code: str, t: HerdTargets) -> pn.viewable.Viewable:
    m = s.by_month
    if m.empty:
        return _section("KPIs by month", "", common.notice("No records in the last year."))
    rates = repro_plots.monthly_trend(
        m, {"conception_rate": "Conception rate", "pregnancy_rate_21d": "21-day pregnancy rate",
            "heat_detection_rate": "Heat-detection rate", "pregnancy_loss": "Pregnancy loss"},
        ylabel="%", title="Rates by month", percent=True,
        targets={"conception_rate": t.conception_rate_pct,
                 "pregnancy_rate_21d": t.pregnancy_rate_pct,
                 "heat_detection_rate": t.submission_rate_pct})
    days = repro_plots.monthly_trend(
        m, {"days_open": "Days open", "calving_interval": "Calving interval"}, ylabel="Days",
        title="Days open and calving interval by month", percent=False,
        targets={"days_open": t.days_open, "calving_interval": t.calving_interval_days})
    return _section(
        "KPIs by month", "Each record counts in the month of its own date (docs: "
        "reproduction KPIs); the herd's targets are the dashed lines.",
        pn.FlexBox(pn.pane.HoloViews(rates, sizing_mode="stretch_width", min_width=320),
                   pn.pane.HoloViews(days, sizing_mode="stretch_width", min_width=320),
                   sizing_mode="stretch_width"),
        table(m, f"{code}-kpis-by-month.csv", page_size=13, name="by-month"))


class TargetsForm(pn.viewable.Viewer):
    """The herd's waiting period and targets, editable by the customer admin and the
    customer's vet. ``saved`` counts the saves: the analysis below is rebuilt on each."""

    saved = param.Integer(default=0, doc="Saves so far (the analysis watches it)")

    def __init__(self, ctx: PageContext, h: common.Herd, targets: HerdTargets,
                 **params) -> None:
        super().__init__(**params)
        self.ctx, self.herd = ctx, h
        values = targets.as_dict()
        self.inputs = {f: pn.widgets.TextInput(
            label=LABELS[f][0].upper() + LABELS[f][1:], width=230,
            value="" if values[f] is None else str(values[f]),
            placeholder="required" if f == "vwp_days" else "not set") for f in FIELDS}
        for box in self.inputs.values():  # typing is the value, no Enter needed
            box.param.watch(lambda e, box=box: setattr(box, "value", e.new), "value_input")
        self.button = pn.widgets.Button(label="Save targets", color="primary")
        self.button.on_click(self.save)
        self.pending = PendingChanges()
        self.pending.watch(self.inputs.values())
        self.message = pn.pane.Markdown("", css_classes=["rt-targets-message"])
        self._layout = pn.Card(
            pn.pane.Markdown("The waiting period changes which cows are eligible (cycle "
                             "table, 21-day pregnancy rate); the targets draw the dashed "
                             "lines. Leave a target empty to draw none."),
            pn.FlexBox(*self.inputs.values()), widget_row(self.button, self.message),
            title="Waiting period and targets", collapsed=True, sizing_mode="stretch_width",
            css_classes=["rt-targets"])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def save(self, _event: object = None) -> None:
        """Store the typed values; a refusal names every problem and nothing is written."""
        if not self.pending.settled():
            self.message.object = STILL_ARRIVING
            return
        values = {f: w.value for f, w in self.inputs.items()}
        try:
            with self.ctx.session() as s:
                save_targets(s, self.herd.customer.id, values)
        except RecordRefused as exc:
            self.message.object = "**Not saved:** " + "; ".join(
                md_text(p.message) for p in exc.problems)
            return
        self.message.object = "Saved."
        self.saved += 1


def analysis(ctx: PageContext, h: common.Herd) -> pn.viewable.Viewable:
    with ctx.session() as session:
        t = herd_targets(session, h.customer.id)
    s = summary(ctx, h, t.vwp_days)
    if s.empty:
        return common.notice("No reproduction records for this herd yet.")
    code = h.customer.code
    return pn.Column(cycles_section(s, code, t), conception_section(s, code),
                     status_section(s, code), distributions_section(s, code, t),
                     trends_section(s, code, t), sizing_mode="stretch_width",
                     css_classes=["rt-reproduction"])


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    with ctx.session() as s:
        targets, editable = herd_targets(s, h.customer.id), may_set_targets(s)
    layout = pn.Column(common.heading("Reproduction", h, SLUG), sizing_mode="stretch_width")
    if editable:
        form = TargetsForm(ctx, h, targets)
        layout.extend([form, deferred(lambda: analysis(ctx, h), ctx,
                                      watch=(form.param.saved,))])
    else:
        layout.extend([pn.pane.Markdown(
            f"Voluntary waiting period: **{targets.vwp_days} days**. Targets are set by your "
            "herd's administrator or vet."), deferred(lambda: analysis(ctx, h), ctx)])
    return layout
