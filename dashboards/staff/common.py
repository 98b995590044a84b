"""What every staff page shares: tables, plots, figures and plain sentences for missing data.

Sections load after the page is on screen (``dashboards.deferred``); data the same for every
reader who may see it is shared across sessions (``dashboards.cache.SHARED``).
"""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh backend for plot options)
import pandas as pd
import panel as pn

hv.Store.set_current_backend("bokeh")

ACCENT = "#1f4e5f"
PALETTE = ["#1f4e5f", "#e07a1f", "#3b9c6d", "#b23a48", "#7d5ba6", "#8c8c8c", "#c9a227",
           "#2c7fb8"]


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
