"""My farm's data (a customer admin): ask for an export of everything the platform holds about
the farm, or for its erasure; both go to a Reprotech administrator, and a finished export is
downloaded here. The rules are :mod:`reprotech_core.data_requests` and row security."""

from __future__ import annotations

import panel as pn

from dashboards.actions import ActionPage, require
from dashboards.pages import PageContext
from dashboards.staff.common import note, table
from reprotech_core import data_requests as views
from reprotech_core.errors import ReprotechError

SLUG = "my-data"
STATUS_LABELS = {"pending": "waiting for Reprotech", "done": "done", "declined": "declined"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    require(ctx, "data_requests:create", "this page is for the farm's admins")
    return MyDataPage(ctx)


class MyDataPage(ActionPage):

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        self.export_reason = pn.widgets.TextInput(label="Why (for example: moving to another "
                                                        "provider)",
                                                  css_classes=["rt-export-reason"])
        self.export_button = pn.widgets.Button(label="Ask for an export", color="primary",
                                               css_classes=["rt-ask-export"])
        self.export_button.on_click(lambda _: self.ask("export"))
        self.erase_reason = pn.widgets.TextInput(label="Why", css_classes=["rt-erase-reason"])
        self.erase_code = pn.widgets.TextInput(label="Type your farm's code to confirm",
                                               css_classes=["rt-erase-code"])
        self.erase_button = pn.widgets.Button(label="Ask for erasure", color="danger",
                                              css_classes=["rt-ask-erasure"])
        self.erase_button.on_click(lambda _: self.ask("erasure"))
        self.exports = pn.widgets.Select(label="Finished export", options={},
                                         css_classes=["rt-export-choice"])
        self.download = pn.widgets.FileDownload(file=None, label="Download the export (zip)",
                                                color="primary", css_classes=["rt-export-file"])
        self.exports.param.watch(lambda _: self._offer(), "value")
        self.listing = pn.Column(sizing_mode="stretch_width")
        self.inputs(self.export_reason, self.erase_reason, self.erase_code)
        self.reload()

    def reload(self) -> None:
        with self.ctx.session() as s:
            requests = views.listing(s, self.ctx.identity.customer_id)
        done = requests[(requests["kind"] == "export") & (requests["status"] == "done")]
        self.exports.options = {f"{r.decided_at or r.requested_at:%Y-%m-%d %H:%M} "
                                f"(no. {r.id})": int(r.id) for r in done.itertuples()}
        if self.exports.value not in self.exports.options.values():  # the newest first
            self.exports.value = next(iter(self.exports.options.values()), None)
        self._offer()
        shown = requests.assign(status=requests["status"].map(STATUS_LABELS)).drop(
            columns=["customer"])
        self.listing.objects = [table(shown, name="data-requests",
                                      titles={"requested_by": "asked by",
                                              "requested_at": "asked at",
                                              "decided_by": "decided by",
                                              "decided_at": "decided at",
                                              "outcome": "file or reason declined"})
                                if len(shown) else note("No request yet.")]

    def _offer(self) -> None:
        self.download.visible = self.exports.value is not None
        if self.exports.value is None:
            return
        try:
            with self.ctx.session() as s:
                path = views.export_file(s, self.ctx.settings, self.ctx.identity.customer_id,
                                         self.exports.value)
        except ReprotechError as exc:
            self.download.visible = False
            self.say("warning", str(exc))
            return
        self.download.file, self.download.filename = str(path), path.name

    def ask(self, kind: str) -> None:
        if not self.ready():
            return
        reason = (self.export_reason if kind == "export" else self.erase_reason).value_input
        try:
            with self.ctx.database.session(self.ctx.identity,
                                           reason=f"{kind} asked for by the farm's admin") as s:
                rid = views.ask(s, self.ctx.identity, kind, reason=reason,
                                confirm_code=self.erase_code.value_input or "")
        except ReprotechError as exc:
            self.say("danger", f"Not asked. {exc}")
            return
        for field in (self.export_reason, self.erase_reason, self.erase_code):
            field.value = field.value_input = ""
        self.reload()
        self.say("success", f"Request no. {rid} ({kind}) went to Reprotech: an administrator "
                            "carries it out or tells you why not.")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## My farm's data"),
            note("Everything Reprotech holds about your farm can be exported (records as CSV, "
                 "genotypes as PLINK files, the audit trail) or erased. A Reprotech "
                 "administrator carries out each request."),
            self.outcome, self.listing,
            pn.pane.Markdown("#### Export"),
            pn.FlexBox(self.export_reason, self.export_button, sizing_mode="stretch_width"),
            pn.FlexBox(self.exports, self.download, sizing_mode="stretch_width"),
            pn.pane.Markdown("#### Erasure"),
            note("Erasure deletes your farm's animals, records, genotypes and results, and "
                 "ends every account of the farm, yours too. Invoices stay, as the law "
                 "requires, without the animals."),
            pn.FlexBox(self.erase_reason, self.erase_code, self.erase_button,
                       sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
