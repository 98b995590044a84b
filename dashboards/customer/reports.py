"""Reports (``?page=reports``): the herd's scheduled reports, newest first, each downloadable
as the PDF the job made, and the signed-in user's own choice of emails. The rules are
:mod:`reprotech_core.report_delivery` and :mod:`reprotech_core.notifications`; row security
decides whose reports these are."""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
from sqlalchemy import text

from dashboards.actions import ActionPage
from dashboards.customer import common
from dashboards.pages import PageContext
from dashboards.staff.common import note, table
from dashboards.text import md_text
from reprotech_core import notifications, report_delivery
from reprotech_core.errors import ReprotechError

SLUG = "reports"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    return ReportsPage(ctx, common.resolve(ctx))


class ReportsPage(ActionPage):

    def __init__(self, ctx: PageContext, herd: common.Herd, **params) -> None:
        super().__init__(**params)
        self.ctx, self.herd = ctx, herd
        with ctx.session() as s:
            self.reports = report_delivery.listing(s, herd.customer.id)
            self.emails = notifications.my_settings(s, ctx.identity)
            self.address = s.scalar(text("SELECT email FROM core.users WHERE id = :u"),
                                    {"u": ctx.identity.user_id})
        options = {f"{r.created_at:%Y-%m-%d %H:%M} · {r.title} (no. {r.id})": int(r.id)
                   for r in self.reports.itertuples()}
        self.choice = pn.widgets.Select(label="Report", options=options,
                                        css_classes=["rt-report-choice"])
        self.download = pn.widgets.FileDownload(
            callback=self._pdf, label="Download the PDF", color="primary",
            filename=self._filename(), css_classes=["rt-report-download"])
        self.choice.param.watch(lambda _: setattr(self.download, "filename", self._filename()),
                                "value")
        self.boxes = {code: pn.widgets.Checkbox(label=topic.label, value=self.emails[code],
                                                css_classes=[f"rt-email-{code}"])
                      for code, topic in notifications.TOPICS.items()}
        for code, box in self.boxes.items():
            box.param.watch(lambda e, c=code: self.set_email(c, e.new), "value")

    def _filename(self) -> str:
        chosen = self.reports[self.reports["id"] == self.choice.value]
        if chosen.empty:
            return "herd-report.pdf"
        return report_delivery.filename(self.herd.customer.code,
                                        chosen["created_at"].iloc[0].date())

    def _pdf(self) -> io.BytesIO:
        # Fetched again as the user (row security), by the id the server offered.
        with self.ctx.session() as s:
            _, pdf = report_delivery.fetch(s, self.herd.customer.id, self.choice.value)
        return io.BytesIO(pdf)

    def set_email(self, topic: str, on: bool) -> None:
        try:
            with self.ctx.database.session(self.ctx.identity,
                                           reason="email choice changed by its user") as s:
                notifications.set_mine(s, self.ctx.identity, topic, on)
        except ReprotechError as exc:
            self.say("danger", f"Not changed. {exc}")
            return
        self.emails[topic] = on
        label = notifications.TOPICS[topic].label
        self.say("success", f"Saved: {label[0].lower()}{label[1:]}: {'yes' if on else 'no'}.")


    def _listing(self) -> pn.viewable.Viewable:
        if self.reports.empty:
            return common.notice("No herd report has been delivered yet: the reports job "
                                 "writes one every night.")
        shown = pd.DataFrame({
            "no.": self.reports["id"],
            "delivered": self.reports["created_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "report": self.reports["title"],
            "evaluation run": self.reports["evaluation_run_id"].astype("Int64"),
            "size (KB)": (self.reports["size_bytes"] / 1024).round(1)})
        return pn.Column(table(shown, name="reports", page_size=10),
                         pn.FlexBox(self.choice, self.download, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    def _email_section(self) -> pn.viewable.Viewable:
        where = (f"They go to **{md_text(self.address)}**." if self.address else
                 "You have no email address on record, so none is sent; your farm's admin "
                 "can add one.")
        return pn.Column(pn.pane.Markdown("#### Your emails"), note(where),
                         *self.boxes.values(), sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            common.heading("Reports", self.herd, SLUG),
            note("The herd report made for you every night: herd figures, index weights, the "
                 "best animals and, with the reproduction module, the KPIs of the last twelve "
                 "months. The evaluation run is the released breeding values it shows."),
            self.outcome, self._listing(), self._email_section(),
            sizing_mode="stretch_width")
