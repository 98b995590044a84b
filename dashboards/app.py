"""The dashboard frame: navigation, the page a URL names, and "not found" for everything else.

One frame for every role. The pages come from the registries (``dashboards.staff.PAGES``,
``dashboards.entry.PAGES``, ``dashboards.customer.PAGES``); a user sees the pages whose
``roles`` hold their role and whose ``module`` their role and subscription tier open
(``reprotech_core.roles.modules_for``).

The URL carries only *what* to show (``?page=animals&animal=123``), never *whose*: every query
runs as the signed-in identity under row security, so an animal id from another customer finds
nothing and the page says "Not found." — the same words as an id that does not exist, so a
forged URL cannot even learn that the animal exists. Any exception a page raises is logged with
its traceback and the user sees a short apology, never the stack trace.

A browser tab keeps one session: the menu and the links between pages switch the main area in
place, with the URL and the back button kept in step (``dashboards/navigation.py``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from urllib.parse import urlencode

import panel as pn
from panel import theme as panel_theme

from dashboards import layout
from dashboards.navigation import Navigator, query_of
from dashboards.pages import Page, PageContext
from dashboards.text import html_text
from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.roles import Role, modules_for

log = logging.getLogger("reprotech.dashboards")

# Pages show data, not TeX: Panel's Markdown would typeset whatever a name holds between
# ``$$ … $$`` or ``\( … \)`` with MathJax. (HTML panes have it off already.)
pn.pane.Markdown.param.disable_math.default = True
# Tables inside components scroll in their box on a phone (dashboards/layout.py).
layout.install()

#: Modules that define ``PAGES: list[Page]``, in navigation order: a user lands on the first
#: page they may open (staff on "My customers" and their work, customers on their herd).
REGISTRIES = ("dashboards.staff", "dashboards.entry", "dashboards.customer")

NOT_FOUND = "**Not found.** The page or record you asked for does not exist or is not yours to see."
FAILED = "Something went wrong while building this page. It has been logged; please try again."


def registered_pages(registries: Iterable[str] = REGISTRIES) -> list[Page]:
    pages: list[Page] = []
    for name in registries:
        pages.extend(importlib.import_module(name).PAGES)
    return pages


def warm_up() -> list[Page]:
    """Import every page module before the server takes its first session.

    A page module is imported the first time a session needs it; the first sign-in after a
    start then paid for the imports of every registry (HoloViews and Bokeh's plotting, the
    domain package; ~3 s of the 4-6 s cold first paint measured in
    benchmarks/dashboards/README.md). Called by the service before it listens, so the health
    check answers only once a session costs what a warm one does; with several processes the
    imports happen once, before the fork, and their memory is shared."""
    return registered_pages()


def pages_for(ctx: PageContext, pages: Iterable[Page]) -> list[Page]:
    """The pages this identity may open, in registry order."""
    with ctx.session() as s:
        modules = modules_for(s)
    role = Role(ctx.identity.role)
    return [p for p in pages if role in p.roles and p.module in modules]


def query_param(name: str) -> str | None:
    """A URL query parameter of this browser session (``None`` outside a server session)."""
    location = pn.state.location
    if location is None:
        return None
    value = location.query_params.get(name)
    return None if value in (None, "") else str(value)


def session_query() -> dict[str, str]:
    """The query of the URL this browser session was opened with (``{}`` outside a server).

    Panel takes the session's URL from the request that created the session. With several
    serving processes (``dashboards_processes``) the page's GET and its websocket may reach
    different processes, and the second creates the session anew from the websocket's request,
    whose URL has no query: a link to ``?page=animal&animal=123`` would open the landing page.
    Bokeh carries the GET's arguments in the session token, so when the URL has no query they
    are taken from there and the session's URL is set to them (the browser's URL says the same).
    Only *what* to show comes from it; whose data is still the identity's, under row security.
    """
    location = pn.state.location
    if location is None:
        return {}
    if not location.search:
        arguments = _token_arguments()
        if arguments:
            location.search = "?" + urlencode(arguments)
    return query_of(location.search)


def _token_arguments() -> dict[str, str]:
    request = getattr(getattr(pn.state.curdoc, "session_context", None), "request", None)
    out = {}
    for name, values in (getattr(request, "arguments", None) or {}).items():
        if values:
            value = values[-1]
            out[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return out


def guarded(build, ctx: PageContext) -> pn.viewable.Viewable:
    """Build a page; a missing/foreign record reads as not found and errors never leak."""
    try:
        return build(ctx)
    except (NotFound, PermissionDenied):
        return pn.pane.Markdown(NOT_FOUND, sizing_mode="stretch_width")
    except Exception:
        log.exception("page failed for user %s", ctx.identity.username)
        return pn.pane.Alert(FAILED, alert_type="danger")


class Fast(panel_theme.Fast):
    """Panel's Fast design without its Google font: the pages load nothing from other hosts
    (the service's Content-Security-Policy would refuse it, and barns are often offline).
    Named as Panel's own, because Panel finds a design's bundled files by its class name."""

    _resources = {**panel_theme.Fast._resources, "font": {}}


def build_app(ctx: PageContext, pages: Iterable[Page] | None = None) -> pn.viewable.Viewable:
    """The whole dashboard for one browser session."""
    visible = pages_for(ctx, registered_pages() if pages is None else pages)
    template = pn.template.FastListTemplate(
        design=Fast,
        font="system-ui, sans-serif",
        title="Reprotech Analytics",
        sidebar_width=220,
        header_background="#1f4e5f",
        accent_base_color="#1f4e5f",
        meta_viewport=layout.VIEWPORT,
        raw_css=[layout.FRAME_CSS],
    )
    template.header.append(
        pn.pane.HTML(
            f'<span class="rt-user">{html_text(ctx.identity.username)} · '
            f'{html_text(ctx.identity.role)}</span>'
            # local sign-in owns its passwords (hub/passwords.py); with OIDC the provider does
            + (' · <a href="/hub/password" style="color:white">Password</a>'
               ' · <a href="/hub/totp" style="color:white">Second factor</a>'
               if ctx.settings.hub_authenticator == "local" else "")
            + ' · <a href="/services/dashboards/logout" style="color:white">Sign out</a>',
            styles={"color": "white", "margin-left": "auto"},
        )
    )
    def render(page: Page | None, asked: str | None) -> pn.viewable.Viewable:
        if page is not None:
            return guarded(page.build, ctx)
        if asked:
            return pn.pane.Markdown(NOT_FOUND, sizing_mode="stretch_width")
        return pn.pane.Markdown("There is nothing here for your account yet.")

    navigator = Navigator(ctx, visible, render)
    if visible:
        template.sidebar.append(navigator.menu)
    navigator.show(session_query())
    template.main.append(navigator.main)
    return template
