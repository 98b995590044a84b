"""Audit trail (a customer admin: their own farm; administrators: every farm).

Filters by animal, user, table and date; shows who changed what and when with the old and
new values; the shown rows download as CSV. The reading rules are in
:mod:`reprotech_core.audit_trail` and row security: this page only lays them out.
"""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
import param

from dashboards.pages import PageContext
from dashboards.pending import STILL_ARRIVING, PendingChanges
from dashboards.staff.common import note, table
from dashboards.text import md_text
from reprotech_core import audit_trail as views
from reprotech_core.errors import NotFound
from reprotech_core.portal.exports import csv_bytes

SLUG = "audit"
TITLES = {"when": "When (UTC)", "who": "Who", "action": "Action", "table": "Table",
          "row": "Row", "customer": "Customer", "changes": "Changes", "reason": "Reason"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        views.require_reader(s)
    return AuditPage(ctx)


def describe(wanted: views.AuditFilter) -> str:
    """The filters in words, so the count says what it counts."""
    parts = [f" of animal {wanted.animal}" if wanted.animal else "",
             f" by {wanted.user}" if wanted.user else "",
             f" in {wanted.table}" if wanted.table else "",
             f" from {wanted.since}" if wanted.since else "",
             f" until {wanted.until}" if wanted.until else ""]
    return "".join(parts)


class AuditPage(pn.viewable.Viewer):
    """The filters, the events they select, and the CSV of exactly those events."""

    status = param.String(default="", doc="what the last search found, as shown")

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        with ctx.session() as s:
            tables = views.audited_tables(s)
        self.animal = pn.widgets.TextInput(label="Animal (official ID)", placeholder="any",
                                           css_classes=["rt-audit-animal"])
        self.user = pn.widgets.TextInput(label="User", placeholder="any",
                                         css_classes=["rt-audit-user"])
        self.table_choice = pn.widgets.Select(label="Table", options=["any", *tables],
                                              css_classes=["rt-audit-table"])
        self.since = pn.widgets.DatePicker(label="From")
        self.until = pn.widgets.DatePicker(label="To (inclusive)")
        self.search = pn.widgets.Button(label="Show", color="primary",
                                        css_classes=["rt-audit-search"])
        self.search.on_click(lambda _: self.show_clicked())
        self.pending = PendingChanges()
        self.pending.watch([self.animal, self.user, self.table_choice, self.since,
                            self.until])
        # A choice, a date, or Enter in a text field searches at once, as Show does.
        for field in (self.animal, self.user):
            field.param.watch(self._entered, "value")
        for widget in (self.table_choice, self.since, self.until):
            widget.param.watch(lambda _: self.refresh(), "value")
        self.events = pd.DataFrame(columns=views.EVENT_COLUMNS)
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width",
                                        css_classes=["rt-audit-summary"])
        self.results = pn.Column(sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(csv_bytes(self.events)), filename="audit-trail.csv",
            label="These events (CSV)", color="primary", css_classes=["rt-audit-csv"])
        self.refresh()

    def wanted(self) -> views.AuditFilter:
        # value_input: what is typed now (value waits for Enter or leaving the field)
        return views.AuditFilter(
            animal=self.animal.value_input or None, user=self.user.value_input or None,
            table=None if self.table_choice.value == "any" else self.table_choice.value,
            since=self.since.value, until=self.until.value)

    def _entered(self, event: param.parameterized.Event) -> None:
        event.obj.value_input = event.new  # what the search reads: the field as it is now
        self.refresh()

    def show_clicked(self) -> None:
        """Show: the search once what was typed before the click is on the fields."""
        if self.pending.settled():
            self.refresh()
        else:
            self._show(STILL_ARRIVING)

    def refresh(self) -> None:
        """Run the search the filters describe; a refused filter says why and shows nothing."""
        try:
            wanted = self.wanted()
            with self.ctx.session() as s:
                events = views.audit_events(s, wanted)
        except (NotFound, ValueError) as exc:
            self.events = pd.DataFrame(columns=views.EVENT_COLUMNS)
            self._show(f"Nothing shown: {exc}.")
            return
        self.events = events
        more = (f" Showing the newest {wanted.limit}; narrow the filters to see older ones."
                if events.attrs.get("more") else "")
        scope = describe(wanted)
        self._show(f"{len(events):,} event(s){scope}.{more}" if len(events) else
                   f"No events{scope}.")

    def _show(self, sentence: str) -> None:
        self.status = sentence
        self.summary.object = md_text(sentence)
        self.results.objects = [table(self.events.assign(
            when=self.events["when"].map(lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
                                         if pd.notna(t) else "")),
            titles=TITLES, page_size=25, name="audit-events")] if len(self.events) else []
        self.download.disabled = self.events.empty

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## Audit trail"),
            note("Every change to animals, records, results, users and settings, with the "
                 "values before and after. You see the changes you are allowed to see."),
            pn.FlexBox(self.animal, self.user, self.table_choice, self.since, self.until,
                       self.search, sizing_mode="stretch_width"),
            self.summary, self.download, self.results, sizing_mode="stretch_width")
