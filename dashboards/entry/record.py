"""The "Record work" page: one breeding event by form, a CSV/Excel file of them, semen and
embryo receipts and moves between herds, and the customer's stock.

A thin view over ``reprotech_core.reproduction.forms``: the callbacks collect widget values,
call one function inside the signed-in user's transaction, and show its outcome or every
problem it names (:class:`~dashboards.entry.event_forms.EntryForms`, whose animal-event forms
the farmers' own page shares). The customer list is what row security lets the user see, and the chosen
customer is looked up again under row security when the record is written. The herd and stock
pickers and the stock tables are reloaded when the customer changes and after each record.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import panel as pn

from dashboards.entry.event_forms import EVENT_FIELDS, METHODS, EntryForms
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import forms

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["METHODS", "RecordWork", "build"]
PRESERVATIONS = ["frozen", "fresh"]
# Bokeh puts tab labels on one line that scrolls sideways: on a phone (390 px) the fourth,
# "Left the herd", was cut at "Lef". The labels wrap onto more rows instead, and the tabs are
# never wider than the page (Bokeh's grid column is ``1fr``, as wide as the widest tab's
# content, e.g. the stock tables: ``minmax(0, 1fr)`` lets those scroll inside their box).
TABS_WRAP = """
:host(.bk-above) { grid-template-columns: minmax(0, 1fr); }
:host(.bk-above) .bk-header { overflow: visible; min-width: 0; }
:host(.bk-above) .bk-headers-wrapper { flex-wrap: wrap; overflow-x: visible; flex: 1 1 auto;
                                       min-width: 0; }
"""


class RecordWork(EntryForms):
    """Forms for inseminations, pregnancy checks, calvings, exits from the herd, embryo
    transfers, flushes and OPU/IVF sessions, semen and embryo receipts and moves, an upload of a
    file of events, and the stock."""

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(ctx, **params)
        with ctx.session() as s:
            farms = forms.farms_for_entry(s)
        self.farm = pn.widgets.Select(label="Customer", options={f"{n} ({c})": c for c, n in farms})
        self.report = pn.widgets.Tabulator(pd.DataFrame(), visible=False, disabled=True,
                                           show_index=False, sizing_mode="stretch_width",
                                           pagination="local", page_size=20)
        self._farms = farms
        self._stock_widgets()
        self._tabs = pn.Tabs(
            *((title, self.event_form(event)) for event, (title, _) in EVENT_FIELDS.items()),
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
            ("Semen receipt", self.record_form("semen_receipt", forms.receive_semen, [
                ("herd", self._herd_picker("Herd")),
                ("bull", pn.widgets.TextInput(label="Bull (official ID, own or catalogue)")),
                ("lot", pn.widgets.TextInput(label="Lot code")),
                ("tank", pn.widgets.TextInput(label="Tank")),
                ("canister", pn.widgets.TextInput(label="Canister")),
                ("straws", pn.widgets.TextInput(label="Straws")),
                ("date", pn.widgets.DatePicker(label="Received on", value=date.today())),
                ("supplier", pn.widgets.TextInput(label="Supplier (optional)")),
                ("reference", pn.widgets.TextInput(
                    label="Delivery note (reference)",
                    placeholder="e.g. DN-2024-0117: a receipt entered twice counts once")),
            ])),
            ("Embryo receipt", self.record_form("embryo_receipt", forms.receive_embryo, [
                ("code", pn.widgets.TextInput(label="Embryo code")),
                ("sire", pn.widgets.TextInput(label="Sire (official ID, own or catalogue)")),
                ("donor", pn.widgets.TextInput(label="Donor (official ID, optional)")),
                ("grade", pn.widgets.TextInput(label="Grade as stage/quality (IETS), e.g. 7/1")),
                ("preservation", pn.widgets.Select(label="Preservation", options=PRESERVATIONS)),
                ("produced", pn.widgets.DatePicker(label="Produced on", value=date.today())),
                ("herd", self._herd_picker("Herd")),
                ("tank", pn.widgets.TextInput(label="Tank (frozen)")),
                ("canister", pn.widgets.TextInput(label="Canister (frozen)")),
                ("date", pn.widgets.DatePicker(label="Received on", value=date.today())),
                ("supplier", pn.widgets.TextInput(label="Supplier (optional)")),
            ])),
            ("Move straws", self.record_form("straw_move", forms.move_straws, [
                ("lot", self.lot_picker),
                ("straws", pn.widgets.TextInput(label="Straws")),
                ("herd", self._herd_picker("To herd")),
                ("tank", pn.widgets.TextInput(label="Tank")),
                ("canister", pn.widgets.TextInput(label="Canister")),
                ("date", pn.widgets.DatePicker(label="Moved on", value=date.today())),
            ])),
            ("Move an embryo", self.record_form("embryo_move", forms.move_embryo, [
                ("embryo", self.embryo_picker),
                ("herd", self._herd_picker("To herd")),
                ("tank", pn.widgets.TextInput(label="Tank (frozen)")),
                ("canister", pn.widgets.TextInput(label="Canister (frozen)")),
                ("date", pn.widgets.DatePicker(label="Moved on", value=date.today())),
            ])),
            ("Stock", pn.Column(pn.pane.Markdown("**Semen in stock**"), self.semen_stock,
                                pn.pane.Markdown("**Embryos in stock**"), self.embryo_stock,
                                name="stock")),
            ("Upload a file", self._upload()),
            dynamic=False, stylesheets=[TABS_WRAP], sizing_mode="stretch_width",
            css_classes=["rt-record-tabs"],
        )
        self.farm.param.watch(lambda _: self.refresh_stock(), "value")
        self.pending.watch([self.farm, self.file, self.clean_only])  # read by the clicks too
        self.refresh_stock()

    # Forms ------------------------------------------------------------------------------------
    def customer_code(self) -> str:
        return self.farm.value or ""

    def recorded(self) -> None:
        """Reload the stock, which a receipt, a move, an insemination naming its lot or a
        transfer changes."""
        self.refresh_stock()

    def _form(self, event: str, fields: list[tuple[str, pn.widgets.Widget]], *,
              production: bool = False) -> pn.Column:
        if production:
            def record(s: Session, code: str, values: dict) -> forms.Outcome:
                return forms.record_production(s, code, event, values)
        else:
            def record(s: Session, code: str, values: dict) -> forms.Outcome:
                return forms.record_event(s, code, {"event": event, **values})
        return self.record_form(event, record, fields)

    # Stock ------------------------------------------------------------------------------------
    def _stock_widgets(self) -> None:
        table = {"disabled": True, "show_index": False, "sizing_mode": "stretch_width",
                 "pagination": "local", "page_size": 10}
        self.semen_stock = pn.widgets.Tabulator(pd.DataFrame(), hidden_columns=["lot_id"],
                                                **table)
        self.embryo_stock = pn.widgets.Tabulator(pd.DataFrame(), **table)
        self.lot_picker = pn.widgets.Select(label="Lot in stock", options={})
        self.embryo_picker = pn.widgets.Select(label="Embryo in stock", options={})
        self._herd_pickers: list[pn.widgets.Select] = []

    def _herd_picker(self, label: str) -> pn.widgets.Select:
        picker = pn.widgets.Select(label=label, options=[])
        self._herd_pickers.append(picker)
        return picker

    def refresh_stock(self) -> None:
        """Reload the chosen customer's herds and stock into the pickers and tables."""
        if not self.farm.value:
            return
        with self.ctx.session() as s:
            stock = forms.inventory(s, self.farm.value)
        for picker in self._herd_pickers:
            _offer(picker, stock.herds)
        _offer(self.lot_picker, stock.lot_choices())
        _offer(self.embryo_picker, stock.embryo_choices())
        self.semen_stock.value = stock.semen
        self.embryo_stock.value = stock.embryos

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
                "One row per event (`heat`, `insemination`, `pregnancy_check`, `calving`, "
                f"`embryo_transfer`, `exit`); columns: {columns}. Dates as YYYY-MM-DD. Nothing is "
                "imported while any row has a problem, unless you tick the box below; "
                "importing a file again is harmless."),
            self.file, self.clean_only, button, self.report, name="upload")

    def upload(self) -> None:
        """Import the chosen file and show the report: counts, or every problem by line."""
        with self._submitting:
            if not self.pending.settled():
                self.show("warning", "**Not imported yet**: the file is still arriving. "
                                     "Press Import again.")
                return
            self._upload_file()

    def _upload_file(self) -> None:
        if not self.file.value:
            self.show("warning", "Choose a .csv or .xlsx file first.")
            return
        try:
            with self.ctx.session() as s:
                report = forms.import_upload(s, self.farm.value or "", self.file.filename or "",
                                             self.file.value,
                                             clean_rows_only=self.clean_only.value)
        except (RuleViolation, NotFound) as exc:
            self.show("danger", f"**Not imported.** {md_text(exc)}")
            return
        errors = pd.DataFrame([e.__dict__ for e in report.errors],
                              columns=["line", "column", "rule", "message"])
        self.report.value = errors
        self.report.visible = bool(len(errors))
        imported = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.imported.items())
        file = md_text(report.file)  # the uploaded file's name, as the browser sent it
        if report.written:
            self.refresh_stock()  # inseminations naming a lot and transfers use stock
            self.show("success" if report.ok else "warning",
                       f"Imported {imported or 'nothing new'} from {file}; "
                       f"{report.present} row(s) were already recorded"
                       + (f"; {len(errors)} problem row(s) left out." if len(errors) else "."))
        else:
            self.show("danger", f"**Nothing imported**: {len(errors)} problem(s) in "
                                 f"{file}, listed below. Fix them and upload again.")

    def __panel__(self) -> pn.viewable.Viewable:
        if not self._farms:
            return pn.pane.Markdown("## Record work\nYou are not assigned to any customer yet; "
                                    "ask an administrator to assign you.")
        return pn.Column(
            pn.pane.Markdown("## Record work\nBreeding events for the customers you work for. "
                             "Every record is checked against the herd book and audited."),
            self.farm, self._tabs, self.result, sizing_mode="stretch_width")


def _offer(picker: pn.widgets.Select, options: list | dict) -> None:
    """New options for a picker, keeping its choice if still offered, else the first one."""
    values = list(options.values()) if isinstance(options, dict) else list(options)
    keep = picker.value in values
    picker.options = options
    picker.value = picker.value if keep else (values[0] if values else None)


def build(ctx: PageContext) -> pn.viewable.Viewable:
    return pn.panel(RecordWork(ctx))
