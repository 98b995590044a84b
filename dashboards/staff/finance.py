"""Finance (administrators): unpaid invoices with their due dates, recording a payment,
crediting an invoice, and the price list. The rules are :mod:`reprotech_core.finance`; the
database keeps an issued invoice as issued."""

from __future__ import annotations

from datetime import date

import panel as pn

from dashboards.actions import ActionPage, require
from dashboards.pages import PageContext
from dashboards.staff.common import heading, note, table
from reprotech_core import finance
from reprotech_core.errors import ReprotechError

SLUG = "finance"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    require(ctx, "financial:write", "the finance page is for administrators")
    return FinancePage(ctx)


class FinancePage(ActionPage):

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        self.which = pn.widgets.Select(label="Invoice", options={},
                                       css_classes=["rt-unpaid-choice"])
        self.paid_on = pn.widgets.DatePicker(label="Paid on", value=date.today(),
                                             css_classes=["rt-paid-on"])
        self.paid_button = pn.widgets.Button(label="Record the payment", color="primary",
                                             css_classes=["rt-mark-paid"])
        self.paid_button.on_click(lambda _: self.mark_paid())
        self.reason = pn.widgets.TextInput(label="Reason for a credit note",
                                           css_classes=["rt-credit-reason"])
        self.credit_button = pn.widgets.Button(label="Credit it in full",
                                               css_classes=["rt-credit"])
        self.credit_button.on_click(lambda _: self.credit())
        self.inputs(self.which, self.paid_on, self.reason)
        self.unpaid = pn.Column(sizing_mode="stretch_width")
        self.prices = pn.Column(sizing_mode="stretch_width")
        self.reload()

    def reload(self) -> None:
        with self.ctx.session() as s:
            owed = finance.invoices(s, self.ctx.settings, unpaid_only=True)
            prices = finance.price_list(s)
        today = date.today()
        self.which.options = {f"{r.number} · {r.customer} · {r.total} {r.currency}": r.number
                              for r in owed.itertuples()}
        if len(owed):
            # amounts as exact text: Bokeh sends no Decimal, and a float would round them
            shown = owed.assign(overdue_days=[max((today - d).days, 0) for d in owed["due_on"]],
                                **{c: owed[c].map("{:.2f}".format) for c in ("net", "vat",
                                                                              "total")})
            self.unpaid.objects = [table(shown[["number", "customer", "period", "issued_on",
                                                "due_on", "overdue_days", "net", "vat",
                                                "total", "currency"]], name="unpaid",
                                         titles={"overdue_days": "days overdue"})]
        else:
            self.unpaid.objects = [note("Every issued invoice is paid or credited.")]
        prices["unit_price"] = prices["unit_price"].map("{:.2f}".format)
        self.prices.objects = [table(prices, name="prices")]

    def mark_paid(self) -> None:
        if not self.ready():
            return
        number = self.which.value
        try:
            with self.ctx.database.session(self.ctx.identity,
                                           reason="invoice payment recorded") as s:
                finance.mark_paid(s, number or "", self.paid_on.value)
        except ReprotechError as exc:
            self.say("danger", f"Not recorded. {exc}")
            return
        self.reload()
        self.say("success", f"{number} paid on {self.paid_on.value}.")

    def credit(self) -> None:
        if not self.ready():
            return
        number = self.which.value
        try:
            with self.ctx.database.session(self.ctx.identity, reason="credit note issued") as s:
                made = finance.credit_note(s, self.ctx.settings, number or "",
                                           reason=self.reason.value_input)
        except ReprotechError as exc:
            self.say("danger", f"Not credited. {exc}")
            return
        self.reason.value = self.reason.value_input = ""
        self.reload()
        self.say("success", f"Credit note {made.number} credits {number}; its "
                            f"{made.orders} order(s) can be corrected and invoiced again.")


    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## Finance"),
            note("Invoices are issued on the first of each month by the invoices job (or "
                 "`reprotech orders invoice`); an issued invoice is never changed, only paid "
                 "or credited."),
            self.outcome, heading("Unpaid invoices"), self.unpaid,
            pn.FlexBox(self.which, self.paid_on, self.paid_button, self.reason,
                       self.credit_button, sizing_mode="stretch_width"),
            heading("Price list"), self.prices, sizing_mode="stretch_width")
