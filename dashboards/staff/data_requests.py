"""Data requests (administrators): the farms' export and erasure requests, pending first; an
administrator carries one out (the existing export or erasure) or declines it with a reason.
The rules are :mod:`reprotech_core.data_requests`."""

from __future__ import annotations

import panel as pn

from dashboards.actions import ActionPage, require
from dashboards.pages import PageContext
from dashboards.staff.common import note, table
from reprotech_core import data_requests as views
from reprotech_core.errors import ReprotechError

SLUG = "data-requests"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    require(ctx, "customers:manage", "data requests are decided by administrators")
    return DataRequestsPage(ctx)


class DataRequestsPage(ActionPage):

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        self.which = pn.widgets.Select(label="Pending request", options={},
                                       css_classes=["rt-request-choice"])
        self.carry_button = pn.widgets.Button(label="Carry it out", color="primary",
                                              css_classes=["rt-carry-out"])
        self.carry_button.on_click(lambda _: self.carry_out())
        self.reason = pn.widgets.TextInput(label="Reason to decline",
                                           css_classes=["rt-decline-reason"])
        self.decline_button = pn.widgets.Button(label="Decline", css_classes=["rt-decline"])
        self.decline_button.on_click(lambda _: self.decline())
        self.listing = pn.Column(sizing_mode="stretch_width")
        self.inputs(self.which, self.reason)
        self.reload()

    def reload(self) -> None:
        with self.ctx.session() as s:
            requests = views.listing(s)
        pending = requests[requests["status"] == "pending"]
        self.which.options = {f"no. {r.id}: {r.kind} of {r.customer} (asked by "
                              f"{r.requested_by}: {r.reason})": int(r.id)
                              for r in pending.itertuples()}
        self.listing.objects = [table(requests, name="all-data-requests")
                                if len(requests) else note("No data request yet.")]

    def carry_out(self) -> None:
        if not self.ready():
            return
        if self.which.value is None:
            self.say("warning", "No pending request to carry out.")
            return
        try:
            done = views.carry_out(self.ctx.database, self.ctx.identity, self.ctx.settings,
                                   self.which.value)
        except ReprotechError as exc:
            self.say("danger", f"Not done. {exc}")
            return
        self.reload()
        self.say("success", f"Export of {done.customer} written ({done.file.name}); the "
                            "farm's admins download it from their My data page."
                 if done.kind == "export" else
                 f"{done.customer}'s data erased and its accounts ended.")

    def decline(self) -> None:
        if not self.ready():
            return
        if self.which.value is None:
            self.say("warning", "No pending request to decline.")
            return
        try:
            with self.ctx.database.session(self.ctx.identity,
                                           reason="data request declined") as s:
                views.decline(s, self.ctx.identity, self.which.value,
                              reason=self.reason.value_input)
        except ReprotechError as exc:
            self.say("danger", f"Not declined. {exc}")
            return
        self.reason.value = self.reason.value_input = ""
        self.reload()
        self.say("success", "Declined; the farm's admins see the reason.")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## Data requests"),
            note("Export and erasure requests from the farms' admins. Carrying out an export "
                 "writes the farm's zip for them to download; an erasure deletes the farm's "
                 "records and ends its accounts, and cannot be undone."),
            self.outcome,
            pn.FlexBox(self.which, self.carry_button, self.reason, self.decline_button,
                       sizing_mode="stretch_width"),
            self.listing, sizing_mode="stretch_width")
