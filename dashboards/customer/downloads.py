"""Downloads: the whole herd table as CSV or Excel, and the PDF herd report.

The Excel file and the PDF report take seconds for a big herd (the report computes the
reproduction KPIs first): while one is built a progress bar and a status line say which step is
running, and say when the file is ready or what went wrong. The build runs in the click's
callback, which the service runs in its thread pool (``pn.config.nthreads``), so the session's
other interactions — and everyone else's — go on meanwhile; one export of the page runs at a
time, so the status always speaks of one file.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

import panel as pn

from dashboards.customer import common
from dashboards.customer.animals import EXPORT_TITLES, display_frame
from dashboards.layout import widget_row
from dashboards.pages import PageContext
from reprotech_core.portal.exports import csv_bytes, excel_bytes, herd_report_of

log = logging.getLogger(__name__)

Step = tuple[str, Callable[[object], object]]  # what the status says, the work (previous result in)


class ExportProgress:
    """A page's progress bar and status line for its slow exports."""

    def __init__(self) -> None:
        self.bar = pn.indicators.Progress(value=0, max=1, visible=False, bar_color="primary",
                                          sizing_mode="stretch_width",
                                          css_classes=["rt-export-progress"])
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width",
                                       css_classes=["rt-export-status"])
        self._one_at_a_time = threading.Lock()

    def run(self, what: str, steps: list[Step]) -> io.BytesIO:
        """Run ``steps`` in order (each gets the previous one's result; the last returns the
        file's bytes), showing "<what>: step k of n — <step>" and the bar meanwhile."""
        with self._one_at_a_time:
            self.bar.max, self.bar.value, self.bar.visible = len(steps), 0, True
            result: object = None
            try:
                for k, (label, work) in enumerate(steps, start=1):
                    self.status.object = f"**{what}**: step {k} of {len(steps)} — {label}…"
                    result = work(result)
                    self.bar.value = k
            except Exception:
                log.exception("export %s failed", what)
                self.status.object = (f"**{what}** could not be built; we have been told. "
                                      "Please try again later.")
                raise
            finally:
                self.bar.visible = False
            assert isinstance(result, bytes)
            self.status.object = f"**{what}** is ready ({len(result) / 1024:,.0f} KB)."
            return io.BytesIO(result)


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    table, run = common.herd_table(ctx, h)
    layout = pn.Column(common.heading("Downloads", h, "downloads"), sizing_mode="stretch_width")
    frame = display_frame(table).drop(columns=["id"]).rename(columns=EXPORT_TITLES)
    code = h.customer.code
    progress = ExportProgress()
    with_kpis = "reproduction" in h.modules and len(table)

    def report() -> io.BytesIO:
        return progress.run("Herd report (PDF)", [
            ("reproduction KPIs of the last twelve months",
             lambda _: common.kpis(ctx, h, days=365) if with_kpis else None),
            ("writing the PDF", lambda k: herd_report_of(
                customer=h.customer.name, table=table, run=run, kpis=k,
                weights=common.weights(ctx)))])

    def excel() -> io.BytesIO:
        return progress.run("Herd table (Excel)",
                            [("writing the workbook", lambda _: excel_bytes(frame))])

    if table.empty:
        layout.append(common.notice(common.NO_HERD + " The herd report below says so too."))
    layout.extend([
        pn.pane.Markdown("#### Herd table\nEvery animal with GEBVs, reliabilities, index and "
                         "inbreeding. To download a filtered or sorted view, use the buttons on "
                         "the Animals page."),
        widget_row(
            pn.widgets.FileDownload(callback=lambda: io.BytesIO(csv_bytes(frame)),
                                    filename=f"{code}-animals.csv", label="Herd table (CSV)",
                                    color="primary"),
            pn.widgets.FileDownload(callback=excel, filename=f"{code}-animals.xlsx",
                                    label="Herd table (Excel)", color="primary")),
        pn.pane.Markdown("#### Herd report (PDF)\nHerd figures, index weights, the best animals "
                         "and the reproduction KPIs of the last twelve months."),
        pn.widgets.FileDownload(callback=report, filename=f"{code}-herd-report.pdf",
                                label="Herd report (PDF)", color="primary"),
        progress.bar, progress.status,
    ])
    return layout
