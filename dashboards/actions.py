"""What every page whose buttons act shares: the last action's outcome, shown in one alert and
kept in ``status`` (what a person reads, and what the tests read), the permission a page
asks of its user before it builds (a user without it gets "Not found.", like a forged URL),
and inputs whose values a click reads only once the browser's changes before it are applied
(:mod:`dashboards.pending`)."""

from __future__ import annotations

import panel as pn
import param

from dashboards.pages import PageContext
from dashboards.pending import STILL_ARRIVING, PendingChanges
from dashboards.text import md_text
from reprotech_core.errors import PermissionDenied
from reprotech_core.roles import has_permission


def require(ctx: PageContext, permission: str, why: str) -> None:
    """Refuse the page unless the signed-in user holds ``permission`` (asked of the database,
    as row security will)."""
    with ctx.session() as s:
        if not has_permission(s, permission):
            raise PermissionDenied(why)


class ActionPage(pn.viewable.Viewer):
    """A page with actions; ``say`` shows what the last one did."""

    status = param.String(default="", doc="the last action's outcome, as shown")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.outcome = pn.pane.Alert("", alert_type="light", visible=False,
                                     sizing_mode="stretch_width", css_classes=["rt-outcome"])
        self.pending = PendingChanges()

    def inputs(self, *widgets: pn.widgets.Widget) -> None:
        """Widgets a click reads: watched from now on (call it when they are made)."""
        self.pending.watch(widgets)

    def ready(self) -> bool:
        """True once every value sent before the click is on its widget; otherwise says
        so and nothing is done (the person presses again)."""
        if self.pending.settled():
            return True
        self.say("warning", STILL_ARRIVING)
        return False

    def say(self, kind: str, message: str) -> None:
        """``kind`` is an alert type (success, warning, danger); the message is plain text."""
        self.outcome.alert_type, self.outcome.visible = kind, True
        self.outcome.object = md_text(message)
        self.status = message
