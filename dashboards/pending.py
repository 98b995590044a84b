"""Values a browser sent before a click, applied before the click reads them.

Panel (``nthreads`` > 0) applies each browser change in a pool thread of its own, so a value
typed or chosen just before a button's click may reach its widget *after* the click's handler
has read it: a payment recorded for the invoice chosen before, a heat for the cow typed
before. A page watches its input widgets here: each change is marked pending as it arrives
(in the browser's order) and unmarked once applied, and a click waits until nothing is
pending before it reads a value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import panel as pn

STILL_ARRIVING = "Not done yet: your entries are still arriving. Press again."
"""What a click says when the values sent before it did not arrive in time (nothing done)."""


class PendingChanges:
    """The widgets whose value the browser sent and Panel has not applied yet (see the module's
    docstring). Hooks Panel's two steps of a browser change on each watched widget:
    ``_server_change`` (the event loop receives it, in the browser's order) and
    ``_process_events`` (a pool thread applies it); tested against Panel's threaded server in
    tests/dashboards/test_farm_events_browser.py, so a Panel that renames them fails there."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: set[int] = set()
        self._watched: set[int] = set()

    def watch(self, widgets: Iterable[pn.widgets.Widget]) -> None:
        for widget in widgets:
            if id(widget) not in self._watched:
                self._watched.add(id(widget))
                self._hook(widget)

    def _hook(self, widget: pn.widgets.Widget) -> None:
        received, apply = widget._server_change, widget._process_events

        # the event loop, in the browser's order (Bokeh checks the (attr, old, new) signature)
        def server_change(doc: object, ref: str, subpath: str | None, attr: str, old: object,
                          new: object) -> None:
            with self._changed:  # Panel queues the value under the same lock as the check
                received(doc, ref, subpath, attr, old, new)
                if widget._events:
                    self._pending.add(id(widget))

        def process_events(events: dict) -> None:  # a pool thread
            try:
                apply(events)
            finally:
                with self._changed:
                    if not widget._events:  # nothing newer queued meanwhile
                        self._pending.discard(id(widget))
                        self._changed.notify_all()

        widget._server_change = server_change
        widget._process_events = process_events

    def settled(self, timeout: float = 10.0) -> bool:
        """Wait until every value sent before now is on its widget; False if ``timeout``
        seconds passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending, timeout)
