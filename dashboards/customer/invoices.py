"""Invoices (the financial module): the farm's invoices and credit notes, each downloadable as
the PDF issued, and its service orders. Row security decides what shows: a farm's admin on a
tier with the financial module, or an administrator choosing the farm."""

from __future__ import annotations

import io

import pandas as pd
import panel as pn

from dashboards.customer import common
from dashboards.pages import PageContext
from dashboards.staff.common import note, table
from reprotech_core import finance

SLUG = "invoices"
KIND_LABELS = {"invoice": "invoice", "credit_note": "credit note"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    with ctx.session() as s:
        issued = finance.invoices(s, ctx.settings, customer_id=h.customer.id)
        orders = [(o.reference or "", o.service, o.quantity, f"{o.unit_price} {o.currency}",
                   o.ordered_on, o.performed_on, o.status, o.invoice_id is not None)
                  for o in finance.customer_orders(s, h.customer.id)]
    layout = pn.Column(common.heading("Invoices", h, SLUG), sizing_mode="stretch_width")
    if issued.empty:
        layout.append(common.notice("No invoice has been issued to this farm yet: invoices "
                                    "are issued on the first of each month for the month "
                                    "before."))
    else:
        shown = issued.assign(
            kind=issued["kind"].map(KIND_LABELS),
            total=[f"{t} {c}" for t, c in zip(issued["total"], issued["currency"], strict=True)],
            paid_on=issued["paid_on"].astype(object).where(issued["paid_on"].notna(), ""),
            credited_by=issued["credited_by"].fillna(""))
        layout.append(table(shown[["number", "kind", "period", "issued_on", "due_on", "total",
                                   "paid_on", "credited_by"]], name="invoices",
                            titles={"issued_on": "issued", "due_on": "due", "paid_on": "paid",
                                    "credited_by": "credited by"}))
        choice = pn.widgets.Select(label="Invoice", options={
            f"{r.number} ({KIND_LABELS[r.kind]}, {r.period})": int(r.id)
            for r in issued.itertuples()}, css_classes=["rt-invoice-choice"])
        numbers = dict(zip(issued["id"], issued["number"], strict=True))

        def pdf() -> io.BytesIO:
            with ctx.session() as s:  # fetched again as the user, by an id the page offered
                return io.BytesIO(finance.invoice_document(s, h.customer.id, choice.value)[1])

        download = pn.widgets.FileDownload(callback=pdf, label="Download the PDF",
                                           filename=f"{numbers[choice.value]}.pdf",
                                           css_classes=["rt-invoice-download"])
        choice.param.watch(lambda e: setattr(download, "filename", f"{numbers[e.new]}.pdf"),
                           "value")
        layout.append(pn.FlexBox(choice, download, sizing_mode="stretch_width"))
    layout.append(pn.pane.Markdown("#### Service orders"))
    if orders:
        frame = pd.DataFrame(orders, columns=["reference", "service", "qty", "unit price",
                                              "ordered", "done", "status", "invoiced"])
        layout.append(table(frame.assign(invoiced=frame["invoiced"].map({True: "yes",
                                                                          False: "no"})),
                            name="orders"))
    else:
        layout.append(note("No service orders yet."))
    return layout
