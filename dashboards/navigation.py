"""In-page navigation: one browser session per tab, the page in the main area switched in place.

A full page load costs the browser its whole start (Bokeh, Panel and Tabulator scripts, a new
websocket, a new session) before the page's first figure; switching the main area inside the
open session keeps the session, its widgets' state and the scripts. (Measured, it is not yet
faster for a page built anew: benchmarks/dashboards/README.md.) So the menu, and every link inside a page that
names another page of this app (``?page=animal&animal=123``), open the page in place: the
browser reports the link's query (:class:`Menu`), the frame sets it as the session's URL
(``pn.state.location.search``, which adds a history entry) and shows the page it names. The
back and forward buttons come back the same way: Panel's ``Location`` (1.9) follows only
``hashchange``, not ``popstate``, so :class:`Menu` listens for ``popstate``, brings the
browser-side ``Location`` model to the new query without adding a history entry, and reports
the query like a click.

Nothing about *whose* data changes: a query chooses a page and its parameters, the page is
built by the same ``guarded(page.build, ctx)`` as on a full load, every query runs as the
session's identity, and a foreign or unknown record reads "Not found." alike. Links with a
modifier key, another target or another path (sign-out, password) load as before, and a URL
opened directly is served as before.

A built page is kept, hidden in the browser, for ``KEEP_SECONDS`` (``MAX_KEPT`` pages at most)
so that going back to it draws nothing anew; it is built again when its query differs (another animal,
another customer), when it is older than that (new data shows as on a reload), or when its menu
entry is clicked while it is shown.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from urllib.parse import parse_qsl, urlencode

import panel as pn
import param
from panel.io.document import hold
from panel.reactive import ReactiveHTML

from dashboards import layout
from dashboards.pages import Page, PageContext

log = logging.getLogger("reprotech.dashboards")

#: How long a built page is shown again as it is when the user comes back to it, and how
#: many are kept at most (hidden in the browser meanwhile).
KEEP_SECONDS = 120.0
MAX_KEPT = 8


class Menu(ReactiveHTML):
    """The frame's menu (links to ``?page=<slug>``), and the browser's half of in-page
    navigation: clicks on this app's page links and the history's back/forward, reported in
    ``request`` as ``"<n> <push|pop> <query>"`` (``n`` counts, so the same query twice is two
    requests)."""

    object = param.String(default="", doc="The menu's HTML: a list of links.")
    current = param.String(default="", doc="The slug of the page shown (its link is marked).")
    request = param.String(default="", doc="The browser's latest navigation request.")

    _template = '<nav id="nav" class="rt-nav"></nav>'

    _scripts = {
        "render": """
state.mark = () => {
  for (const a of nav.querySelectorAll('a')) {
    if (new URL(a.href, window.location.href).searchParams.get('page') === data.current)
      a.setAttribute('aria-current', 'page');
    else
      a.removeAttribute('aria-current');
  }
};
nav.innerHTML = data.object;
state.mark();
state.n = 0;
state.send = (kind, search) => { state.n += 1; data.request = `${state.n} ${kind} ${search}`; };
state.click = (event) => {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  const a = event.composedPath().find((n) => n.tagName === 'A');
  if (!a || !a.href || (a.target && a.target !== '_self') || a.hasAttribute('download'))
    return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || url.pathname !== window.location.pathname
      || !url.searchParams.has('page'))
    return;
  event.preventDefault();
  state.send('push', url.search);
  window.scrollTo(0, 0);
  const main = document.getElementById('main');
  if (main) main.scrollTop = 0;
};
state.pop = () => {
  // Panel's Location would push the query it is sent as a new history entry: bring its
  // browser-side model to the URL quietly first, so the server's update is no change here.
  const location = view.model.document.get_model_by_name('location');
  if (location) location.setv({search: window.location.search}, {silent: true});
  state.send('pop', window.location.search);
};
document.addEventListener('click', state.click, true);
window.addEventListener('popstate', state.pop);
""",
        "object": "nav.innerHTML = data.object; state.mark();",
        "current": "state.mark();",
        "remove": """
document.removeEventListener('click', state.click, true);
window.removeEventListener('popstate', state.pop);
""",
    }


def parse_request(request: str) -> tuple[str, str] | None:
    """``(kind, query)`` of a :class:`Menu` request, ``None`` for anything else."""
    parts = request.split(" ", 2)
    if len(parts) != 3 or parts[1] not in ("push", "pop"):
        return None
    return parts[1], parts[2]


def query_of(search: str) -> dict[str, str]:
    """A URL query as a dict (last value wins, blanks dropped), as the pages read it."""
    return {k: v for k, v in parse_qsl(search.lstrip("?")) if v != ""}


def menu_html(pages: Sequence[Page], customer: str | None) -> str:
    """The menu's links; a staff user's chosen customer (``customer``) follows them from page
    to page (for a customer user the pages ignore it, and row security decides either way)."""
    keep = {"customer": customer} if customer and customer.isdigit() else {}
    items = []
    for p in pages:
        href = html.escape("?" + urlencode({"page": p.slug, **keep}))
        items.append(f'<li><a href="{href}">{html.escape(p.title)}</a></li>')
    return "<ul>" + "".join(items) + "</ul>"


def page_key(page: Page, query: dict[str, str]) -> tuple:
    """What a built page depends on: the page and every other parameter of its URL."""
    return page.slug, tuple(sorted((k, v) for k, v in query.items() if k != "page"))


class Navigator:
    """One browser session's main area: the page its URL names, switched in place."""

    def __init__(self, ctx: PageContext, pages: Sequence[Page],
                 render: Callable[[Page | None, str | None], pn.viewable.Viewable]) -> None:
        self.ctx = ctx
        self.pages = list(pages)
        self.render = render  # (page or None, asked slug) -> the main area's content
        self.main = pn.Column(sizing_mode="stretch_width")
        self.menu = Menu(css_classes=["rt-nav"], stylesheets=[layout.NAV_CSS],
                         sizing_mode="stretch_width")
        self.menu.param.watch(self._requested, "request")
        self._kept: dict[tuple, tuple[float, pn.Column]] = {}
        self._shown: tuple | None = None
        self._lock = threading.Lock()

    def show(self, query: dict[str, str], *, rebuild: bool = False) -> None:
        """Show the page ``query`` names (the session's URL already says it)."""
        self._swap(*self._prepare(query, rebuild))

    def _prepare(self, query: dict[str, str], rebuild: bool
                 ) -> tuple[list[pn.Column], pn.Column, str, str]:
        """Build the page if it is not kept (queries run here, in the caller's thread); what
        the main area and the menu become."""
        asked = query.get("page")
        page = self._page(asked)
        key = page_key(page, query) if page is not None else None
        now = time.monotonic()
        kept = self._kept.get(key) if key is not None else None
        if kept is None or rebuild or now - kept[0] >= KEEP_SECONDS:
            kept = (now, pn.Column(self.render(page, asked), sizing_mode="stretch_width"))
        fresh = [(k, v) for k, v in self._kept.items()
                 if k != key and now - v[0] < KEEP_SECONDS]
        fresh = fresh[max(0, len(fresh) - (MAX_KEPT - 1)):]
        if key is not None:  # in place: the order of kept pages in the browser stays
            self._kept = {k: v for k, v in self._kept.items() if k == key or (k, v) in fresh}
            self._kept[key] = kept
        else:
            self._kept = dict(fresh)
        self._shown = key
        objects = [v for _, v in self._kept.values()]
        if key is None:
            objects.append(kept[1])
        return (objects, kept[1], menu_html(self.pages, query.get("customer")),
                page.slug if page else "")

    def _swap(self, objects: list[pn.Column], shown: pn.Column, menu: str, current: str
              ) -> None:
        """Show ``shown`` among ``objects`` (kept pages stay, hidden) and mark the menu.

        One held batch: the browser gets one message, and Bokeh walks the document's model
        graph once at the end (``freeze``) rather than after each change; the new page's
        models would otherwise be re-walked with every kept page's visibility."""
        with hold(freeze=True):
            self.menu.param.update(object=menu, current=current)
            if [id(o) for o in self.main.objects] != [id(o) for o in objects]:
                self.main.objects = objects
            for holder in objects:
                holder.visible = holder is shown

    def _page(self, asked: str | None) -> Page | None:
        if not asked:
            return self.pages[0] if self.pages else None
        return next((p for p in self.pages if p.slug == asked), None)

    def _requested(self, event: param.parameterized.Event) -> None:
        parsed = parse_request(event.new)
        if parsed is None:
            return
        kind, search = parsed
        query = query_of(search)
        with self._lock:
            location = pn.state.location
            if location is not None:
                # First, as the page reads its parameters from it when built. A click adds a
                # history entry here; after back/forward the browser's URL already says it
                # (Menu set the model quietly), so this changes nothing there.
                location.search = search if search.startswith("?") else "?" + urlencode(query)
            page = self._page(query.get("page"))
            same = kind == "push" and page is not None and page_key(page, query) == self._shown
            try:
                prepared = self._prepare(query, rebuild=same)
            except Exception:  # the page's own errors are guarded; this is the frame's
                log.exception("navigation failed for user %s", self.ctx.identity.username)
                return
        # The page is built here (a thread of the pool: one user's queries never hold up
        # another's); the switch itself runs on the server's event loop with the document's
        # lock (from the thread, each change waited for the loop in turn: a kept page took
        # 1.85 s to show again against 0.72 s so, benchmarks/dashboards/README.md).
        pn.state.execute(partial(self._swap, *prepared))
