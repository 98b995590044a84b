"""Downloads: the whole herd table as CSV or Excel, and the PDF herd report."""

from __future__ import annotations

import io

import panel as pn

from dashboards.customer import common
from dashboards.customer.animals import EXPORT_TITLES, display_frame
from dashboards.layout import widget_row
from dashboards.pages import PageContext
from reprotech_core.portal.exports import csv_bytes, excel_bytes, herd_report_of


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h = common.resolve(ctx)
    table, run = common.herd_table(ctx, h)
    layout = pn.Column(common.heading("Downloads", h, "downloads"), sizing_mode="stretch_width")
    frame = display_frame(table).drop(columns=["id"]).rename(columns=EXPORT_TITLES)
    code = h.customer.code

    def report() -> io.BytesIO:
        k = common.kpis(ctx, h, days=365) if "reproduction" in h.modules and len(table) else None
        return io.BytesIO(herd_report_of(customer=h.customer.name, table=table, run=run,
                                         kpis=k, weights=common.weights(ctx)))

    if table.empty:
        layout.append(common.notice(common.NO_HERD + " The herd report below says so too."))
    layout.extend([
        pn.pane.Markdown("#### Herd table\nEvery animal with GEBVs, reliabilities, index and "
                         "inbreeding. To download a filtered or sorted view, use the buttons on "
                         "the Animals page."),
        widget_row(
            pn.widgets.FileDownload(callback=lambda: io.BytesIO(csv_bytes(frame)),
                                    filename=f"{code}-animals.csv", label="Herd table (CSV)",
                                    button_type="primary"),
            pn.widgets.FileDownload(callback=lambda: io.BytesIO(excel_bytes(frame)),
                                    filename=f"{code}-animals.xlsx", label="Herd table (Excel)",
                                    button_type="primary")),
        pn.pane.Markdown("#### Herd report (PDF)\nHerd figures, index weights, the best animals "
                         "and the reproduction KPIs of the last twelve months."),
        pn.widgets.FileDownload(callback=report, filename=f"{code}-herd-report.pdf",
                                label="Herd report (PDF)", button_type="primary"),
    ])
    return layout
