"""What every staff page shares: deferred sections with a loading indicator, tables, plots.

A section's data is loaded *after* the page is on screen (``defer_load``): the browser shows
the frame and a spinner at once, and the query runs in the service's thread pool
(``pn.config.nthreads``), so one user's slow query never holds another's session. A section
that fails says so in its own place; the rest of the page stays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh backend for plot options)
import pandas as pd
import panel as pn

from dashboards.app import guarded
from dashboards.pages import PageContext

hv.Store.set_current_backend("bokeh")

T = TypeVar("T")
_shared: dict[Hashable, tuple[float, object]] = {}
_locks: dict[Hashable, threading.Lock] = {}
_locks_guard = threading.Lock()
MAX_SHARED = 32

ACCENT = "#1f4e5f"
PALETTE = ["#1f4e5f", "#e07a1f", "#3b9c6d", "#b23a48", "#7d5ba6", "#8c8c8c", "#c9a227",
           "#2c7fb8"]


def shared(key: Hashable, compute: Callable[[], T], *, ttl: float) -> T:
    """A value computed once and shared by every session of this process for ``ttl``
    seconds.

    For data that is the same for every reader who may see it (pseudonymised research data,
    checked by the caller *before* asking): the first session computes it, sessions asking
    meanwhile for the same key wait for that one computation instead of repeating it, and
    sessions asking for other keys are not held up at all (one lock per key).
    """
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        hit = _shared.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]  # type: ignore[return-value]
        value = compute()
        with _locks_guard:
            if len(_shared) >= MAX_SHARED:
                _shared.pop(min(_shared, key=lambda k: _shared[k][0]))
            _shared[key] = (time.monotonic(), value)
        return value


def deferred(build: Callable[[], pn.viewable.Viewable], ctx: PageContext, *,
             refresh: pn.widgets.Button | None = None,
             watch: tuple[pn.widgets.Widget, ...] = ()) -> pn.viewable.Viewable:
    """A page section built after the page is on screen, with a loading indicator meanwhile;
    built again (same indicator) when ``refresh`` is clicked or a ``watch``ed widget changes.

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
    for widget in watch:
        widget.param.watch(load, "value")
    return holder


def refresh_button() -> pn.widgets.Button:
    return pn.widgets.Button(label="Refresh", width=110, css_classes=["rt-refresh"])


def table(frame: pd.DataFrame, *, page_size: int = 15, formatters: dict | None = None,
          titles: dict | None = None, hidden: list[str] | None = None,
          name: str = "") -> pn.widgets.Tabulator:
    """A read-only, sortable table paged in the browser (staff tables hold hundreds of rows,
    not tens of thousands; the query limits what arrives)."""
    return pn.widgets.Tabulator(
        frame, disabled=True, show_index=False, pagination="local", page_size=page_size,
        layout="fit_data_table", formatters=formatters or {}, titles=titles or {},
        hidden_columns=hidden or [], sizing_mode="stretch_width",
        css_classes=[f"rt-table-{name}"] if name else [])


def rounded(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Float columns rounded for reading (dates and text untouched)."""
    return frame.round({c: digits for c in frame.select_dtypes("float").columns})


def link_formatter(label_field: str) -> dict:
    """Tabulator link cells whose URL is the cell value and whose text is ``label_field``."""
    return {"type": "link", "labelField": label_field, "target": "_self"}


def note(text: str) -> pn.pane.Markdown:
    """A plain sentence where data is missing: pages say what is absent, never fail."""
    return pn.pane.Markdown(text, sizing_mode="stretch_width", css_classes=["rt-note"])


def heading(text: str) -> pn.pane.Markdown:
    return pn.pane.Markdown(f"### {text}", sizing_mode="stretch_width", margin=(10, 5, 0, 5))


def figure(plot: hv.core.Dimensioned, *, height: int = 320) -> pn.pane.HoloViews:
    return pn.pane.HoloViews(plot.opts(responsive=True, height=height, toolbar="above"),
                             sizing_mode="stretch_width", height=height, linked_axes=False)


def number(name: str, value: object, fmt: str = "{value:,.0f}") -> pn.indicators.Number:
    return pn.indicators.Number(label=name, value=value, format=fmt, font_size="28pt",
                                title_size="11pt", default_color=ACCENT, margin=(5, 20))


def int_param(value: str | None, name: str) -> int | None:
    """A URL parameter that must be a positive integer id; anything else is not found."""
    from reprotech_core.errors import NotFound

    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise NotFound(f"{name} {value[:20]!r} is not a record id")
    return int(value)
