"""Record events (issue 21, item 3): a farmer records the heats seen, inseminations (at a heat,
or timed), calvings and exits of their own herd from the portal, on a phone in the barn.

The forms are the staff page's ("Record work"): :class:`~dashboards.entry.event_forms.EntryForms`
over ``reprotech_core.reproduction.forms.record_event``, so an event is judged by the same
herd-book rules, refused by the same named rules and audited the same way (the audit row
names the farmer). The customer is always the signed-in user's own farm
(``identity.customer_id``, read under row security by ``forms.own_farm``); no URL parameter or
form field chooses it, and row security confines the write to that farm again. A cow of
another farm reads as unknown (``repro.animal_unknown``), one that left the herd is refused by
``repro.after_exit``; nothing is written for either.

Who: both customer roles, when their farm's tier has the ``reproduction`` module — the module
of breeding events (inseminations, pregnancies, calvings), which the staff page and the
Reproduction page use; the issue's "breeding module" means these breeding events, not the
``breeding`` module of rankings and mating advice. Their right to write is
``reproduction:write`` (migration 0028). Registering a live calf writes the herd register
(``animals:write``): a customer admin has it, a customer user does not, so a customer user's
calving with a calf ID is refused by name (``calving.calf_not_allowed``) and left to the admin
or the vet. Staff record on "Record work" and do not get this page (the registry test keeps
customer roles off staff pages, and this one is the customer portal's).

Phone first: one form at a time chosen from a list, every input and button the screen's
width (usable at 390 x 844 with no sideways scrolling).
"""

from __future__ import annotations

import panel as pn

from dashboards.entry.event_forms import EntryForms
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core.errors import NotFound
from reprotech_core.reproduction import forms
from reprotech_core.roles import has_permission, modules_for

SLUG = "events"
MODULE = "reproduction"
#: the forms a farmer gets, in the order offered: the choice's label -> the event
CHOICES = {"Heat seen": "heat", "Insemination (heat or timed AI)": "insemination",
           "Calving": "calving", "Left the herd (sold, slaughter, died)": "exit"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        if MODULE not in modules_for(s):
            raise NotFound(f"the {MODULE} module is not in your subscription")
        code, name = forms.own_farm(s, ctx.identity.customer_id)
        registers_calves = has_permission(s, "animals:write")
    return FarmEvents(ctx, code, name, registers_calves=registers_calves)


class FarmEvents(EntryForms):
    """The farmer's event forms, one shown at a time; the farm is fixed when the page opens."""

    def __init__(self, ctx: PageContext, farm_code: str, farm_name: str, *,
                 registers_calves: bool = True, **params) -> None:
        super().__init__(ctx, **params)
        self.farm_code, self.farm_name = farm_code, farm_name
        self.forms = {event: self.event_form(event, stretch=True) for event in CHOICES.values()}
        if not registers_calves:  # said before the farmer types, not only when refused
            self.forms["calving"].insert(0, pn.pane.Markdown(
                "A live calf is registered in the herd book by your farm's administrator or "
                "your vet; here you can record a stillbirth.", sizing_mode="stretch_width",
                css_classes=["rt-calf-note"]))
        self.what = pn.widgets.Select(label="What happened", options=CHOICES,
                                      value="insemination", sizing_mode="stretch_width",
                                      css_classes=["rt-event-choice"])
        self.shown = pn.Column(self.forms[self.what.value], sizing_mode="stretch_width")
        self.what.param.watch(self._choose, "value")

    def _choose(self, event) -> None:
        self.shown.objects = [self.forms[event.new]]
        self.result.visible = False

    def choose(self, event: str) -> pn.Column:
        """Show one event's form (as picking it from the list does); the form."""
        self.what.value = event
        return self.forms[event]

    def customer_code(self) -> str:
        return self.farm_code

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown(f"## Record events · {md_text(self.farm_name)}\n"
                             "Heats seen, inseminations (at a heat, or timed), calvings and "
                             "animals that left your herd. Every record is checked against the herd "
                             "book and kept in the audit trail under your name.",
                             sizing_mode="stretch_width", css_classes=["rt-heading"]),
            self.what, self.shown, self.result, sizing_mode="stretch_width",
            css_classes=["rt-farm-events"])
