"""The "Record work" page: one breeding event by form, or a CSV/Excel file of them.

A thin view over ``reprotech_core.reproduction.forms``: the callbacks collect widget values,
call one function inside the signed-in user's transaction, and show its outcome or every
problem it names. The customer list is what row security lets the user see, and the chosen
customer is looked up again under row security when the record is written.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import panel as pn
import param

from dashboards.pages import PageContext
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import forms
from reprotech_core.reproduction.records import RecordRefused

METHODS = ["ultrasound", "palpation", "blood", "milk"]


class RecordWork(pn.viewable.Viewer):
    """Forms for inseminations, pregnancy checks, calvings, embryo transfers, flushes and OPU/IVF
    sessions, and an upload of a file of events."""

    status = param.String(default="")

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        with ctx.session() as s:
            farms = forms.farms_for_entry(s)
        self.farm = pn.widgets.Select(label="Customer", options={f"{n} ({c})": c for c, n in farms})
        self.result = pn.pane.Alert("", alert_type="light", visible=False,
                                    sizing_mode="stretch_width")
        self.report = pn.widgets.Tabulator(pd.DataFrame(), visible=False, disabled=True,
                                           show_index=False, sizing_mode="stretch_width",
                                           pagination="local", page_size=20)
        self._farms = farms
        self._tabs = pn.Tabs(
            ("Insemination", self._form("insemination", [
                ("animal", pn.widgets.TextInput(label="Cow (official ID)")),
                ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
                ("bull", pn.widgets.TextInput(label="Bull (official ID)")),
                ("service_type", pn.widgets.Select(label="Service", options=["heat", "timed"])),
                ("semen_lot", pn.widgets.TextInput(label="Semen lot (optional)")),
                ("technician", pn.widgets.TextInput(label="Technician (optional)")),
            ])),
            ("Pregnancy check", self._form("pregnancy_check", [
                ("animal", pn.widgets.TextInput(label="Cow (official ID)")),
                ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
                ("method", pn.widgets.Select(label="Method", options=METHODS)),
                ("result", pn.widgets.Select(label="Result", options=["pregnant", "open"])),
                ("days_pregnant", pn.widgets.TextInput(label="Days pregnant (optional)")),
                ("technician", pn.widgets.TextInput(label="Technician (optional)")),
            ])),
            ("Calving", self._form("calving", [
                ("animal", pn.widgets.TextInput(label="Dam (official ID)")),
                ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
                ("ease", pn.widgets.Select(label="Ease (1 unassisted … 5 caesarean)",
                                           options=["1", "2", "3", "4", "5"])),
                ("calf_sex", pn.widgets.Select(label="Calf sex", options=["F", "M"])),
                ("calf", pn.widgets.TextInput(label="Calf's new official ID (live calf)")),
                ("calf_number", pn.widgets.Select(label="Calf number", options=["1", "2", "3"])),
                ("stillborn", pn.widgets.Select(label="Stillborn", options=["no", "yes"])),
                ("sire", pn.widgets.TextInput(label="Sire (optional, checked)")),
            ])),
            ("Embryo transfer", self._form("embryo_transfer", [
                ("animal", pn.widgets.TextInput(label="Recipient (official ID)")),
                ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
                ("embryo", pn.widgets.TextInput(label="Embryo code")),
                ("preservation", pn.widgets.Select(label="Preservation",
                                                   options=["frozen", "fresh"])),
                ("technician", pn.widgets.TextInput(label="Technician (optional)")),
            ])),
            ("Flush", self._form("flush", production=True, fields=[
                ("donor", pn.widgets.TextInput(label="Donor (official ID)")),
                ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
                ("sire", pn.widgets.TextInput(label="Sire (official ID)")),
                ("embryos", pn.widgets.TextInput(
                    label="Embryos as stage/quality (IETS), e.g. 7/1, 7/2, 5/3")),
                ("preservation", pn.widgets.Select(label="Preservation",
                                                   options=["frozen", "fresh"])),
                ("tank", pn.widgets.TextInput(label="Tank (frozen)")),
                ("canister", pn.widgets.TextInput(label="Canister (frozen)")),
                ("technician", pn.widgets.TextInput(label="Technician (optional)")),
            ])),
            ("OPU/IVF", self._form("ivf", production=True, fields=[
                ("donor", pn.widgets.TextInput(label="Donor (official ID)")),
                ("date", pn.widgets.DatePicker(label="OPU date", value=date.today())),
                ("sire", pn.widgets.TextInput(label="Sire (official ID)")),
                ("oocytes_collected", pn.widgets.TextInput(label="Oocytes collected")),
                ("oocytes_cleaved", pn.widgets.TextInput(label="Cleaved")),
                ("blastocysts", pn.widgets.TextInput(label="Blastocysts")),
                ("embryos", pn.widgets.TextInput(
                    label="Blastocysts kept as stage/quality, e.g. 7/1, 7/1")),
                ("preservation", pn.widgets.Select(label="Preservation",
                                                   options=["frozen", "fresh"])),
                ("tank", pn.widgets.TextInput(label="Tank (frozen)")),
                ("canister", pn.widgets.TextInput(label="Canister (frozen)")),
                ("technician", pn.widgets.TextInput(label="Technician (optional)")),
            ])),
            ("Upload a file", self._upload()),
            dynamic=False,
        )

    # Forms ------------------------------------------------------------------------------------
    def _form(self, event: str, fields: list[tuple[str, pn.widgets.Widget]], *,
              production: bool = False) -> pn.Column:
        button = pn.widgets.Button(label="Record", color="primary")
        widgets = dict(fields)
        button.on_click(lambda _: self.submit(event, widgets, production=production))
        return pn.Column(*widgets.values(), button, name=event)

    def submit(self, event: str, widgets: dict[str, pn.widgets.Widget], *,
               production: bool = False) -> None:
        """Record one event from a form's widgets and show what happened."""
        fields = {k: w.value for k, w in widgets.items()}
        try:
            with self.ctx.session() as s:
                if production:
                    outcome = forms.record_production(s, self.farm.value or "", event, fields)
                else:
                    outcome = forms.record_event(s, self.farm.value or "",
                                                 {"event": event, **fields})
        except RecordRefused as refused:
            self._show("danger", "**Not recorded.**\n\n" + "\n".join(
                f"- {p.message} (`{p.rule}`)" for p in refused.problems))
            return
        except (RuleViolation, NotFound) as exc:
            self._show("danger", f"**Not recorded.** {exc}")
            return
        self._show("success", outcome.message)

    # Upload -----------------------------------------------------------------------------------
    def _upload(self) -> pn.Column:
        self.file = pn.widgets.FileInput(accept=",".join(forms.UPLOAD_SUFFIXES))
        self.clean_only = pn.widgets.Checkbox(
            label="Import the clean rows even if some rows have problems")
        button = pn.widgets.Button(label="Import", color="primary")
        button.on_click(lambda _: self.upload())
        columns = ", ".join(f"`{c}`" for c in forms.bulk_import.COLUMNS)
        return pn.Column(
            pn.pane.Markdown(
                "One row per event (`insemination`, `pregnancy_check`, `calving`, "
                f"`embryo_transfer`); columns: {columns}. Dates as YYYY-MM-DD. Nothing is "
                "imported while any row has a problem, unless you tick the box below; "
                "importing a file again is harmless."),
            self.file, self.clean_only, button, self.report, name="upload")

    def upload(self) -> None:
        """Import the chosen file and show the report: counts, or every problem by line."""
        if not self.file.value:
            self._show("warning", "Choose a .csv or .xlsx file first.")
            return
        try:
            with self.ctx.session() as s:
                report = forms.import_upload(s, self.farm.value or "", self.file.filename or "",
                                             self.file.value,
                                             clean_rows_only=self.clean_only.value)
        except (RuleViolation, NotFound) as exc:
            self._show("danger", f"**Not imported.** {exc}")
            return
        errors = pd.DataFrame([e.__dict__ for e in report.errors],
                              columns=["line", "column", "rule", "message"])
        self.report.value = errors
        self.report.visible = bool(len(errors))
        imported = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.imported.items())
        if report.written:
            self._show("success" if report.ok else "warning",
                       f"Imported {imported or 'nothing new'} from {report.file}; "
                       f"{report.present} row(s) were already recorded"
                       + (f"; {len(errors)} problem row(s) left out." if len(errors) else "."))
        else:
            self._show("danger", f"**Nothing imported**: {len(errors)} problem(s) in "
                                 f"{report.file}, listed below. Fix them and upload again.")

    def _show(self, kind: str, text: str) -> None:
        self.result.alert_type = kind
        self.result.object = text
        self.result.visible = True
        self.status = text

    def __panel__(self) -> pn.viewable.Viewable:
        if not self._farms:
            return pn.pane.Markdown("## Record work\nYou are not assigned to any customer yet; "
                                    "ask an administrator to assign you.")
        return pn.Column(
            pn.pane.Markdown("## Record work\nBreeding events for the customers you work for. "
                             "Every record is checked against the herd book and audited."),
            self.farm, self._tabs, self.result, sizing_mode="stretch_width")


def build(ctx: PageContext) -> pn.viewable.Viewable:
    return RecordWork(ctx)
