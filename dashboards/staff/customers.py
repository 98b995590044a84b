"""My customers (veterinarians, technicians): assigned customers, their herds, the
reproduction to-do list (the vet's herd-check cows first; as CSV or emailed to the vet for the
herd visit), KPIs, animals.

``?page=my-customers`` lists the customers; ``&customer=<id>`` opens one. An id that is not
one of the user's assigned customers reads "Not found." (decided by the query, under row
security). Animal rows link to the portal's animal page (``?page=animal&animal=<id>``).
"""

from __future__ import annotations

import io

import holoviews as hv
import pandas as pd
import panel as pn
import param

from dashboards.app import query_param
from dashboards.deferred import deferred
from dashboards.layout import widget_row, wrapping_row
from dashboards.pages import PageContext
from dashboards.staff.common import (
    ACCENT,
    figure,
    heading,
    int_param,
    link_formatter,
    note,
    rounded,
    table,
)
from dashboards.text import md_text
from reprotech_core.errors import ReprotechError
from reprotech_core.portal.exports import csv_bytes
from reprotech_core.reproduction.queries import worklist
from reprotech_core.reproduction.worklists import ACTIONS
from reprotech_core.staffviews import customers as views

SLUG = "my-customers"
PERIODS = {"Last 12 months": 365, "Last 3 years": 3 * 365, "All records": None}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    customer_id = int_param(query_param("customer"), "customer")
    if customer_id is None:
        return pn.Column(pn.pane.Markdown("## My customers"), deferred(lambda: _list(ctx), ctx),
                         sizing_mode="stretch_width")
    with ctx.session() as s:
        _, code, name, tier = views.assigned_customer(s, customer_id)  # NotFound if not mine
    return pn.panel(CustomerPage(ctx, customer_id, f"{name} ({code}, {tier})"))


def _list(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        mine = views.assigned_customers(s)
    if mine.empty:
        return note("You have no assigned customers yet. An administrator assigns customers "
                    "to veterinarians and technicians (`reprotech user assign`).")
    shown = mine.assign(open=[f"?page={SLUG}&customer={i}" for i in mine["id"]],
                        genotyped_share=(100 * mine["genotyped_share"]).round(1))
    bars = hv.Bars(pd.concat([
        mine.assign(kind="animals", n=mine["animals"]),
        mine.assign(kind="genotyped", n=mine["genotyped"])]), ["code", "kind"], "n").opts(
        tools=["hover"], xlabel="", ylabel="animals", color=hv.Cycle([ACCENT, "#e07a1f"]),
        title="Animals and genotyped animals per customer")
    return pn.Column(
        table(shown[["open", "name", "code", "tier", "herds", "animals", "females",
                     "genotyped", "genotyped_share", "samples_pending", "samples_failed",
                     "last_service"]],
              formatters={"open": link_formatter("name")}, name="customers",
              hidden=["name"],  # the link's text
              titles={"open": "customer", "genotyped_share": "genotyped %",
                      "samples_pending": "samples waiting",
                      "samples_failed": "samples failed QC"}),
        figure(bars, height=280), sizing_mode="stretch_width")


class CustomerPage(pn.viewable.Viewer):
    """One assigned customer: herds, the reproduction to-do list, reproduction KPIs for a
    chosen period, animals. The period and the search are the page's state; the KPI and
    animal sections reload (in the thread pool, with a spinner) when they change."""

    period = param.Selector(default="Last 12 months", objects=list(PERIODS),
                            doc="The KPIs' period (a key of PERIODS)")
    search = param.String(default="", doc="Part of an official ID or name; empty lists all")

    def __init__(self, ctx: PageContext, customer_id: int, title: str, **params) -> None:
        super().__init__(**params)
        self.ctx, self.customer_id = ctx, customer_id
        self.sent = pn.pane.Alert("", visible=False, sizing_mode="stretch_width",
                                  css_classes=["rt-todo-sent"])
        self._layout = pn.Column(
            pn.pane.Markdown(f"[← My customers](?page={SLUG})\n\n## {md_text(title)}"),
            deferred(self._herds, ctx),
            heading("Reproduction to-do"), deferred(self._todo, ctx),
            heading("Reproduction KPIs"),
            pn.widgets.RadioButtonGroup.from_param(self.param.period, label="Period"),
            deferred(lambda: self._kpis(self.period), ctx, watch=(self.param.period,)),
            heading("Animals"),
            pn.widgets.TextInput.from_param(self.param.search, label="Find an animal",
                                            placeholder="official ID or name"),
            deferred(lambda: self._animals(self.search), ctx, watch=(self.param.search,)),
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _herds(self) -> pn.viewable.Viewable:
        with self.ctx.session() as s:
            herds = views.herd_figures(s, self.customer_id)
        if herds.empty:
            return note("This customer has no animals recorded yet.")
        bars = hv.Bars(pd.concat([herds.assign(kind="animals", n=herds["animals"]),
                                  herds.assign(kind="genotyped", n=herds["genotyped"])]),
                       ["herd", "kind"], "n").opts(tools=["hover"], xlabel="", ylabel="animals",
                                                   title="Herds")
        return wrapping_row(table(herds, name="herds",
                                  titles={"animals": "animals in herd",
                                          "left_herd": "left the herd"}),
                            figure(bars, height=240))

    def _todo(self) -> pn.viewable.Viewable:
        with self.ctx.session() as s:
            views.assigned_customer(s, self.customer_id)
            todo = worklist(s, self.customer_id)
        if todo.empty:
            return note("No cow needs an examination, a check, a service, drying off or "
                        "watching at calving today.")
        counts = todo["action"].value_counts()
        summary = " · ".join(f"{counts[a]} {a}" for a in ACTIONS if a in counts)
        shown = todo.assign(animal=[f"?page=animal&animal={i}" for i in todo["cow"]],
                            due=todo["due"].dt.date, last_service=todo["last_service"].dt.date)
        sheet = shown.drop(columns=["cow", "animal"])
        download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(csv_bytes(sheet)), filename="to-do.csv",
            label="CSV for the herd visit", color="light")
        send = pn.widgets.Button(label="Email it to me", css_classes=["rt-email-todo"])
        send.on_click(lambda _: self.email_todo())
        return pn.Column(
            widget_row(pn.pane.Markdown(
                f"**{summary}** (rules: examine — not served by 80 days in milk or open after "
                "3+ services; pregnancy check — served 32+ days ago; confirm — only an early "
                "positive check)", sizing_mode="stretch_width", min_width=260,
                styles={"flex": "1 1 300px"}), download, send),
            self.sent,
            table(shown[["animal", "official_id", "herd", "action", "reason", "status",
                         "parity", "days_in_milk", "services", "last_service", "due"]],
                  formatters={"animal": link_formatter("official_id")},
                  hidden=["official_id"], name="todo",
                  titles={"days_in_milk": "days in milk", "last_service": "last service"}),
            sizing_mode="stretch_width")

    def email_todo(self) -> None:
        """The to-do list to the vet's own address, for the herd visit."""
        try:
            with self.ctx.session() as s:
                address = views.email_todo(s, self.ctx.settings, self.ctx.identity,
                                           self.customer_id)
        except ReprotechError as exc:
            self.sent.alert_type, self.sent.object = "danger", md_text(f"Not sent. {exc}")
        else:
            self.sent.alert_type = "success"
            self.sent.object = md_text(f"The to-do list went to {address}.")
        self.sent.visible = True

    def _kpis(self, period: str) -> pn.viewable.Viewable:
        with self.ctx.session() as s:
            view = views.customer_view(s, self.customer_id, days=PERIODS[period])
        if view.kpis.services == 0 and view.kpis.flushes == 0 and view.kpis.ivf_sessions == 0:
            return note(f"No services, flushes or IVF sessions recorded in this period "
                        f"({period.lower()}). Choose a longer period.")
        by_herd = view.kpis_by_herd[["herd", "services", "conception_rate",
                                     "services_per_conception", "pregnancy_rate_21d",
                                     "heat_detection_rate", "days_open",
                                     "calving_interval"]].copy()
        for col in ("conception_rate", "pregnancy_rate_21d", "heat_detection_rate"):
            by_herd[col] = (100 * by_herd[col].astype(float)).round(1)
        return wrapping_row(
            table(views.kpi_table(view.kpis), page_size=12, name="kpis"),
            table(rounded(by_herd, 2), name="kpis-by-herd",
                  titles={"conception_rate": "conception %",
                          "pregnancy_rate_21d": "21-d pregnancy %",
                          "heat_detection_rate": "heat detection %"}))

    def _animals(self, search: str) -> pn.viewable.Viewable:
        with self.ctx.session() as s:
            animals = views.customer_animals(s, self.customer_id, search=search or "")
        if animals.empty:
            return note("No animal matches." if search else "No animals recorded yet.")
        shown = animals.assign(animal=[f"?page=animal&animal={i}" for i in animals["id"]])
        return table(shown[["animal", "official_id", "name", "sex", "birth_date", "herd",
                            "genotyped"]],
                     formatters={"animal": link_formatter("official_id")},
                     hidden=["official_id"], name="animals")
