"""Layout that works on a phone (390 x 844) as well as on a desktop: the frame's narrow-screen
rules and the one way pages put things side by side.

At ``PHONE_WIDTH`` px or less the frame's menu moves above the page as wrapping links (the
menu button still folds it away), the page scrolls as a whole, and tables too wide for the
screen scroll inside their own box, so the page itself never scrolls sideways. Panel draws
each component in its own shadow DOM, which a document style sheet cannot reach: the rules for
inside components go to ``COMPONENT_CSS`` (Panel adds ``pn.config.raw_css`` to every
component's style sheets), the frame's to ``FRAME_CSS`` (the template's document).
"""

from __future__ import annotations

import panel as pn

PHONE_WIDTH = 700
VIEWPORT = "width=device-width, initial-scale=1"

#: The document's rules: the template's sidebar, header and content boxes.
FRAME_CSS = f"""
@media screen and (max-width: {PHONE_WIDTH}px) {{
  #content {{ flex-direction: column; height: auto; width: 100%; }}
  #sidebar {{ min-width: 100%; max-width: 100%; height: auto; padding: 4px 8px;
             box-sizing: border-box;
             border-right: 0; border-bottom: 2px solid var(--neutral-fill-rest); }}
  #sidebar.hidden {{ display: none; }}
  #main {{ height: auto; overflow: visible; padding: 0 6px; }}
  #header {{ flex-wrap: wrap; height: auto; min-height: 56px; }}
  #header .title {{ font-size: 1.1em; }}
  #header-items {{ min-width: 0; flex-wrap: wrap; }}
  .card-margin {{ margin-left: 0; margin-right: 0; }}
}}
"""

#: Rules inside every component: HTML tables (Markdown's and HTML panes') scroll in their box
#: on a narrow screen. (Tabulator and Bokeh tables are not ``<table>``s: they scroll by
#: themselves once their box is no wider than the screen.)
COMPONENT_CSS = f"""
@media screen and (max-width: {PHONE_WIDTH}px) {{
  table {{ display: block; max-width: 100%; overflow-x: auto; }}
}}
"""

#: The menu's own rules (its links live in the menu component's shadow DOM): a wrapping row
#: of links on a phone, a list on a desktop; the page shown in bold.
NAV_CSS = f"""
a[aria-current="page"] {{ font-weight: 600; }}
@media screen and (max-width: {PHONE_WIDTH}px) {{
  ul {{ display: flex; flex-wrap: wrap; gap: 2px 14px; padding: 0; margin: 4px 0; }}
  li {{ list-style: none; margin: 0; line-height: 2em; }}
}}
"""


def install() -> None:
    """Add ``COMPONENT_CSS`` to every component's style sheets (once per process)."""
    if COMPONENT_CSS not in pn.config.raw_css:
        pn.config.raw_css = [*pn.config.raw_css, COMPONENT_CSS]


def wrapping_row(*objects: pn.viewable.Viewable, min_width: int = 300) -> pn.FlexBox:
    """Objects side by side that wrap below each other when the screen is narrow.

    Each one gets a flex basis of ``min_width`` px and grows from there: a HoloViews plot or a
    table that stretches to its box would otherwise give the flex layout no width to start
    from and be drawn zero pixels wide when the row wraps.
    """
    for obj in objects:
        obj.styles = {"flex": f"1 1 {min_width}px", **(obj.styles or {})}
        if getattr(obj, "min_width", None) is None:
            obj.min_width = min(min_width, 280)
        if obj.sizing_mode is None:
            obj.sizing_mode = "stretch_width"
    return pn.FlexBox(*objects, flex_wrap="wrap", gap="12px", sizing_mode="stretch_width")


def widget_row(*widgets: pn.viewable.Viewable, **params: object) -> pn.FlexBox:
    """Widgets (inputs, buttons, downloads) side by side, wrapping onto the next line on a
    narrow screen instead of running off it (a ``pn.Row`` clips what does not fit)."""
    return pn.FlexBox(*widgets, flex_wrap="wrap", align_items="end",
                      **{"sizing_mode": "stretch_width", **params})
