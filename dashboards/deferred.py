"""Page sections that load after the page is on screen: the one way every page defers slow work.

The browser shows the frame and a loading indicator at once, and the section's query runs in
the service's thread pool (``pn.config.nthreads``), so one user's slow query never holds
another's session. A section that fails says so in its own place, in the frame's words (not
found, or a logged apology, never a stack trace); the rest of the page stays.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from dashboards.app import guarded
from dashboards.pages import PageContext


def deferred(build: Callable[[], pn.viewable.Viewable], ctx: PageContext, *,
             refresh: pn.widgets.Button | None = None,
             watch: tuple[param.Parameter, ...] = ()) -> pn.viewable.Viewable:
    """A page section built after the page is on screen, with a loading indicator meanwhile;
    built again (same indicator) when ``refresh`` is clicked or a ``watch``ed parameter (a
    page's ``self.param.x``, a widget's ``w.param.value``) changes.

    The first build runs as an on-load callback in the service's thread pool; outside a
    server (tests) it runs at once. (Panel's own ``defer_load`` left a section spinning now
    and then when several loaded in threads at once; a plain holder has no such race.)
    """
    holder = pn.Column(sizing_mode="stretch_width", min_height=60, loading=True)

    def load(*_events: object) -> None:
        holder.loading = True
        try:
            holder.objects = [guarded(lambda _ctx: build(), ctx)]
        finally:
            holder.loading = False

    pn.state.onload(load, threaded=True)
    if refresh is not None:
        refresh.on_click(load)
    for parameter in watch:
        parameter.owner.param.watch(load, parameter.name)
    return holder
