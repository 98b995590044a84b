"""The breeding-event forms both entry pages share: the staff's "Record work" and the
farmers' "Record events" (``dashboards/customer/events.py``).

:class:`EntryForms` holds what a form does — collect its widgets' values, call one
``reprotech_core.reproduction.forms`` function inside the signed-in user's transaction, show
its outcome or every problem it names by rule — and :data:`EVENT_FIELDS` the fields of each
animal event, built fresh for every page. Which customer the record is for is the page's
answer (:meth:`EntryForms.customer_code`): a picked, assigned customer for staff, the
signed-in farmer's own farm for a customer. Row security judges both again when writing.

**The click reads what was typed.** The service runs Panel with a thread pool (``nthreads``):
the browser sends a typed value and then the Record click in order, and Panel receives them in
that order on the server's event loop, but it applies each in a pool thread, so the click's
callback could run before the value it follows was set on the widget (and record the old one).
:class:`PendingChanges` closes that gap: when a value arrives (on the event loop, in the
browser's order) its widget is marked pending, when Panel has applied it (in its pool thread)
the mark goes, and the click waits until its form has no pending widget before it reads the
values. One page (one session) holds one, and its clicks are handled one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import panel as pn
import param

from dashboards.pages import PageContext
from dashboards.pending import PendingChanges
from dashboards.text import md_text
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import forms
from reprotech_core.reproduction.records import RecordRefused

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

METHODS = ["ultrasound", "palpation", "blood", "milk"]
Record = Callable[["Session", str, dict[str, object]], forms.Outcome]
Fields = list[tuple[str, pn.widgets.Widget]]


def _heat() -> Fields:
    return [
        ("animal", pn.widgets.TextInput(label="Cow (official ID)")),
        ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
        ("technician", pn.widgets.TextInput(label="Seen by (optional)")),
    ]


def _insemination() -> Fields:
    return [
        ("animal", pn.widgets.TextInput(label="Cow (official ID)")),
        ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
        ("bull", pn.widgets.TextInput(label="Bull (official ID)")),
        ("service_type", pn.widgets.Select(label="Service", options=["heat", "timed"])),
        ("semen_lot", pn.widgets.TextInput(label="Semen lot (optional)")),
        ("technician", pn.widgets.TextInput(label="Technician (optional)")),
    ]


def _pregnancy_check() -> Fields:
    return [
        ("animal", pn.widgets.TextInput(label="Cow (official ID)")),
        ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
        ("method", pn.widgets.Select(label="Method", options=METHODS)),
        ("result", pn.widgets.Select(label="Result", options=["pregnant", "open"])),
        ("days_pregnant", pn.widgets.TextInput(label="Days pregnant (optional)")),
        ("technician", pn.widgets.TextInput(label="Technician (optional)")),
    ]


def _calving() -> Fields:
    return [
        ("animal", pn.widgets.TextInput(label="Dam (official ID)")),
        ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
        ("ease", pn.widgets.Select(label="Ease (1 unassisted … 5 caesarean)",
                                   options=["1", "2", "3", "4", "5"])),
        ("calf_sex", pn.widgets.Select(label="Calf sex", options=["F", "M"])),
        ("calf", pn.widgets.TextInput(label="Calf's new official ID (live calf)")),
        ("calf_number", pn.widgets.Select(label="Calf number", options=["1", "2", "3"])),
        ("stillborn", pn.widgets.Select(label="Stillborn", options=["no", "yes"])),
        ("sire", pn.widgets.TextInput(label="Sire (optional, checked)")),
    ]


def _exit() -> Fields:
    return [
        ("animal", pn.widgets.TextInput(label="Animal (official ID)")),
        ("date", pn.widgets.DatePicker(label="Date", value=date.today())),
        ("reason", pn.widgets.Select(label="Reason", options=["slaughter", "sold", "died"])),
        ("cause", pn.widgets.TextInput(
            label="Cause (optional: infertility, mastitis, lameness, …)")),
    ]


#: event (as ``forms.record_event`` names it) -> (the form's title, its fields, built anew)
EVENT_FIELDS: dict[str, tuple[str, Callable[[], Fields]]] = {
    "insemination": ("Insemination", _insemination),
    "pregnancy_check": ("Pregnancy check", _pregnancy_check),
    "calving": ("Calving", _calving),
    "exit": ("Left the herd", _exit),
    "heat": ("Heat seen", _heat),
}


class EntryForms(pn.viewable.Viewer):
    """What every entry form does; a page says for which customer and lays the forms out."""

    status = param.String(default="", doc="the last record's outcome, as shown")

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        self.result = pn.pane.Alert("", alert_type="light", visible=False,
                                    sizing_mode="stretch_width", css_classes=["rt-outcome"])
        self.pending = PendingChanges()
        self._submitting = threading.Lock()  # one record at a time per page (session)

    def customer_code(self) -> str:
        """The code of the customer the forms record for."""
        raise NotImplementedError

    def recorded(self) -> None:
        """Called after a record was written or found present (reload what it changed)."""

    def event_form(self, event: str, *, stretch: bool = False) -> pn.Column:
        """The form of one animal event of :data:`EVENT_FIELDS` (full-width inputs with
        ``stretch``, as a phone needs them)."""
        fields = EVENT_FIELDS[event][1]()
        for name, widget in fields:
            widget.css_classes = [*widget.css_classes, f"rt-field-{name}"]
            if stretch:
                widget.sizing_mode = "stretch_width"

        def record(s: Session, code: str, values: dict) -> forms.Outcome:
            return forms.record_event(s, code, {"event": event, **values})
        return self.record_form(event, record, fields, stretch=stretch)

    def record_form(self, name: str, record: Record, fields: Fields, *,
                    stretch: bool = False) -> pn.Column:
        button = pn.widgets.Button(label="Record", color="primary",
                                   css_classes=[f"rt-record-{name}"],
                                   sizing_mode="stretch_width" if stretch else None)
        widgets = dict(fields)
        self.pending.watch(widgets.values())
        button.on_click(lambda _: self.submit(record, widgets))
        return pn.Column(*widgets.values(), button, name=name,
                         css_classes=[f"rt-form-{name}"],
                         sizing_mode="stretch_width" if stretch else None)

    def submit(self, record: Record, widgets: dict[str, pn.widgets.Widget]) -> None:
        """Record one form's widgets' values, once what was typed before the click is on the
        widgets, and show what happened."""
        with self._submitting:
            if not self.pending.settled():
                self.show("warning", "**Not recorded yet**: your entries are still arriving. "
                                     "Press Record again.")
                return
            self._submit(record, {k: w.value for k, w in widgets.items()})

    def _submit(self, record: Record, fields: dict[str, object]) -> None:
        try:
            with self.ctx.session() as s:
                outcome = record(s, self.customer_code(), fields)
        except RecordRefused as refused:
            self.show("danger", "**Not recorded.**\n\n" + "\n".join(
                f"- {md_text(p.message)} (`{p.rule}`)" for p in refused.problems))
            return
        except (RuleViolation, NotFound) as exc:
            self.show("danger", f"**Not recorded.** {md_text(exc)}")
            return
        self.show("success", md_text(outcome.message))
        self.recorded()

    def show(self, kind: str, text: str) -> None:
        self.result.alert_type = kind
        self.result.object = text
        self.result.visible = True
        self.status = text
