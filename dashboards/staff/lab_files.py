"""The "Lab files" page: received samples (a scanner's sheet or typed rows) and FinalReport
exports, without the shell.

A thin view over :mod:`reprotech_core.staffviews.lab_files`, which calls what ``reprotech lab
samples`` and ``reprotech lab ingest`` call: the same rules, all or nothing, a file ingested
twice changes nothing. Button callbacks run in the service's thread pool
(``pn.config.nthreads``), so an ingest of a large export runs off the event loop and the
progress bar and step text it updates reach the browser while it runs; other users' sessions
are not held. Each upload adds a row to the result table (samples, SNPs, mean call rate, or the
refusal with its rule and place).
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import panel as pn
import param

from dashboards.pages import PageContext
from dashboards.pending import STILL_ARRIVING, PendingChanges
from dashboards.staff.common import heading, note
from dashboards.text import md_text
from reprotech_core.errors import ReprotechError
from reprotech_core.reproduction.forms import upload_name
from reprotech_core.staffviews import lab_files as views

SLUG = "lab-files"
FROM_MAP = "(the map file above)"
RESULT_COLUMNS = ["batch", "files", "samples", "snps", "mean_call_rate", "outcome", "reason"]


class LabFiles(pn.viewable.Viewer):
    """Register received samples for a customer; ingest a FinalReport export into a batch."""

    status = param.String(default="")

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        with ctx.session() as s:
            farms = views.sample_customers(s)
            self._may_ingest = views.may_ingest(s)
            panels = views.stored_panels(s)
        self._farms = farms
        self.farm = pn.widgets.Select(label="Customer",
                                      options={f"{n} ({c})": c for c, n in farms})
        self.sheet = pn.widgets.FileInput(accept=",".join(views.SHEET_SUFFIXES),
                                          css_classes=["rt-sample-sheet"])
        self.typed = pn.widgets.TextAreaInput(
            label="Samples, one per line: barcode, animal[, tissue]", height=140,
            placeholder="BC000123, DE0123456789\nBC000124, DE0123456790, hair")
        self.samples_result = pn.pane.Alert("", alert_type="light", visible=False,
                                            sizing_mode="stretch_width")
        self.reports = pn.widgets.FileInput(multiple=True, css_classes=["rt-finalreport"])
        self.map_file = pn.widgets.FileInput(css_classes=["rt-map"])
        self.panel = pn.widgets.Select(label="Chip", options=[FROM_MAP, *panels])
        self.batch = pn.widgets.TextInput(label="Batch (plate) name")
        self.allow_unknown = pn.widgets.Checkbox(
            label="Store the known samples even if some sample IDs are not registered")
        self.progress = pn.indicators.Progress(active=False, visible=False, width=300)
        self.step = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.results = pn.widgets.Tabulator(
            pd.DataFrame(columns=RESULT_COLUMNS), disabled=True, show_index=False,
            visible=False, layout="fit_data_table", sizing_mode="stretch_width",
            css_classes=["rt-table-ingest-results"])
        self.pending = PendingChanges()
        self.pending.watch([self.farm, self.sheet, self.typed, self.reports, self.map_file,
                            self.panel, self.batch, self.allow_unknown])

    # Samples -------------------------------------------------------------------------------
    def register_sheet(self) -> None:
        """Register the chosen sheet's samples (all or none)."""
        if not self.pending.settled():
            self._samples("warning", STILL_ARRIVING)
            return
        if not self.sheet.value:
            self._samples("warning", "Choose a sample sheet (.csv, .txt or .xlsx) first.")
            return
        upload = views.Upload(self.sheet.filename or "", self.sheet.value)
        self._register(lambda s: views.register_sample_upload(s, self.farm.value or "", upload),
                       md_text(upload_name(upload.name)))

    def register_typed(self) -> None:
        """Register the typed (or scanned) rows (all or none)."""
        if not self.pending.settled():
            self._samples("warning", STILL_ARRIVING)
            return
        self._register(lambda s: views.register_typed_samples(s, self.farm.value or "",
                                                              self.typed.value or ""),
                       "the typed rows")

    def _register(self, register, source: str) -> None:
        try:
            with self.ctx.session() as s:
                done = register(s)
        except ReprotechError as exc:
            self._samples("danger", f"**Nothing registered.** {md_text(exc)}")
            return
        before = f" ({done.unchanged} registered before)" if done.unchanged else ""
        self._samples("success", f"Registered {len(done.new)} sample(s) from {source}{before}.")

    def _samples(self, kind: str, text: str) -> None:
        self.samples_result.alert_type = kind
        self.samples_result.object = text
        self.samples_result.visible = True
        self.status = text

    # FinalReports --------------------------------------------------------------------------
    def ingest(self) -> None:
        """Ingest the chosen export into the named batch; add its result row."""
        if not self.pending.settled():
            self._step(STILL_ARRIVING)
            return
        reports = [views.Upload(n, c) for n, c in zip(
            _as_list(self.reports.filename), _as_list(self.reports.value), strict=True)]
        map_file = (views.Upload(self.map_file.filename or "", self.map_file.value)
                    if self.panel.value == FROM_MAP and self.map_file.value else None)
        panel = None if self.panel.value == FROM_MAP else self.panel.value
        batch = (self.batch.value or "").strip()
        self.progress.visible, self.progress.active = True, True
        try:
            result = views.ingest_uploads(
                self.ctx.database, self.ctx.identity, reports, batch=batch, map_file=map_file,
                panel=panel, allow_unknown=self.allow_unknown.value,
                progress=lambda step: self._step(md_text(step)))
        except (ReprotechError, ValueError) as exc:
            result = views.refused(batch, reports, exc)
        finally:
            self.progress.active, self.progress.visible = False, False
        self._step(f"{md_text(result.batch)}: {result.outcome}"
                   + (f" — {md_text(result.reason)}" if result.reason else ""))
        row = pd.DataFrame([asdict(result)], columns=RESULT_COLUMNS)
        self.results.value = pd.concat([row, self.results.value], ignore_index=True)
        self.results.visible = True

    def _step(self, text: str) -> None:
        self.step.object = text
        self.status = text

    # Layout --------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        if not self._farms:
            return pn.pane.Markdown("## Lab files\nYou are not assigned to any customer yet; "
                                    "ask an administrator to assign you.")
        sheet_button = pn.widgets.Button(label="Register sheet", color="primary")
        sheet_button.on_click(lambda _: self.register_sheet())
        typed_button = pn.widgets.Button(label="Register typed rows", color="primary")
        typed_button.on_click(lambda _: self.register_typed())
        return pn.Column(
            pn.pane.Markdown("## Lab files\nSamples received and genotyping files, checked by "
                             "the same rules as `reprotech lab`: a file with any problem "
                             "stores nothing, and a file sent again changes nothing."),
            heading("Received samples"), self.farm,
            pn.Tabs(("Sample sheet", pn.Column(
                        pn.pane.Markdown("A scanner's CSV or an Excel sheet with columns "
                                         "`barcode`, `animal` (official ID), `tissue` "
                                         "(optional)."), self.sheet, sheet_button)),
                    ("Type or scan", pn.Column(self.typed, typed_button))),
            self.samples_result,
            heading("FinalReport export"), self._ingest_section(),
            sizing_mode="stretch_width")

    def _ingest_section(self) -> pn.viewable.Viewable:
        if not self._may_ingest:
            return note("Storing genotypes is for lab operations (permission "
                        "`genotypes:write`): register the samples here and they ingest the "
                        "FinalReport.")
        button = pn.widgets.Button(label="Ingest", color="primary")
        button.on_click(lambda _: self.ingest())
        return pn.Column(
            pn.pane.Markdown("The FinalReport file(s) of one export (plain or gzip). The chip: "
                             "its manifest (CSV) or GenomeStudio's `SNP_Map.txt`, or a chip "
                             "stored before. The sample IDs must be registered barcodes."),
            pn.pane.Markdown("FinalReport file(s)"), self.reports,
            pn.pane.Markdown("Map: manifest or SNP_Map.txt"), self.map_file, self.panel,
            self.batch, self.allow_unknown, button, pn.Row(self.progress, self.step),
            self.results, sizing_mode="stretch_width")


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def build(ctx: PageContext) -> pn.viewable.Viewable:
    return pn.panel(LabFiles(ctx))
