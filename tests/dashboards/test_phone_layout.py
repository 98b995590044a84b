"""Every customer and vet page in Chromium at a phone's size (390 x 844): the page never
scrolls sideways (wide tables scroll inside their box), the menu sits above the page as
wrapping links and folds away with the menu button, the main content is on screen at the
screen's width, and no plot is drawn zero pixels wide. Screenshots:
tests/artifacts/dashboards/phone-<page>.png (customer admin) and phone-vet-<page>.png."""

from __future__ import annotations

import re

import pytest

from dashboards import customer, entry, staff
from dashboards.layout import VIEWPORT
from reprotech_core.roles import Role
from tests.dashboards.conftest import screenshot
from tests.dashboards.test_browser_portal import LOAD_MS, nav_slugs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
TOLERANCE = 2  # px of rounding
TITLES = {p.slug: p.title for p in (*customer.PAGES, *staff.PAGES, *entry.PAGES)}

MEASURE = """() => {
  const main = document.getElementById('main'), side = document.getElementById('sidebar');
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height,
            shown: getComputedStyle(el).display !== 'none' && r.width > 0}; };
  const canvases = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.children || []) {  // a plot's layers, not its legend's swatches
      if (c.tagName === 'CANVAS' && !c.classList.contains('bk-glyph')) {
      const r = c.getBoundingClientRect(); canvases.push([r.width, r.height]); } walk(c); } };
  walk(document.body);
  // Anything reaching past the phone's right edge, even where a box clips it (a row that
  // does not wrap hides its last widgets): only a scrolling box's content is its own.
  const wide = [], vw = screen.width;
  const scan = (n) => { if (n.shadowRoot) scan(n.shadowRoot);
    for (const c of n.children || []) { const r = c.getBoundingClientRect();
      const style = getComputedStyle(c);
      if (style.position === 'fixed' || style.display === 'none') continue;
      if (r.right > vw + 2 && r.width > 0 && wide.length < 12)
        wide.push(`${c.tagName.toLowerCase()}.${[...c.classList].join('.')} ` +
                  `${Math.round(r.left)}-${Math.round(r.right)}`);
      const scrolls = ['auto', 'scroll'].includes(style.overflowX);
      if (!scrolls) scan(c); } };
  scan(document.body);
  const meta = document.querySelector('meta[name=viewport]');
  return {viewport: window.innerWidth, doc: document.documentElement.scrollWidth,
          body: document.body.scrollWidth, main: box(main), mainScroll: main.scrollWidth,
          mainClient: main.clientWidth, sidebar: box(side), canvases,
          wide, meta: meta && meta.getAttribute('content')};
}"""


# Every tab label (Bokeh's ``.bk-tab``), wherever it is: inside a tab header that scrolls
# sideways a label past the edge is cut ("Lef…" of "Left the herd" on Record work), which the
# scan above cannot see (a scrolling box's content is its own).
TAB_LABELS = """() => { const out = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.children || []) {
      if (c.classList && c.classList.contains('bk-tab')) { const r = c.getBoundingClientRect();
        out.push({text: c.textContent.trim(), left: r.left, right: r.right, width: r.width,
                  clipped: c.scrollWidth > c.clientWidth + 1}); }
      walk(c); } };
  walk(document.body); return out; }"""


# The page's layout as the checks read it: every plot's size, the main area's and the
# document's extent. Bokeh sizes a plot after its section lands (a frame or a round trip
# later), so the checks wait until this has not changed for STABLE_POLLS polls in a row.
LAYOUT = """() => { const out = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.children || []) { if (c.tagName === 'CANVAS') {
      const r = c.getBoundingClientRect(); out.push(Math.round(r.width), Math.round(r.height)); }
      walk(c); } };
  walk(document.body);
  const main = document.getElementById('main');
  out.push(document.documentElement.scrollWidth, main ? main.scrollWidth : -1,
           main ? main.scrollHeight : -1);
  return out.join(','); }"""
STABLE_POLLS, POLL_MS = 4, 100
STABLE = f"""() => {{ const sig = ({LAYOUT})();
  const s = window.__rtLayout || (window.__rtLayout = {{sig: null, n: 0}});
  if (s.sig === sig) s.n += 1; else {{ s.sig = sig; s.n = 0; }}
  return s.n >= {STABLE_POLLS}; }}"""
NOT_LOADING = """() => { let busy = false;
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.children || []) { if (c.classList &&
        c.classList.contains('pn-loading')) busy = true; walk(c); } };
  walk(document.body); return !busy; }"""


def _settle(pg) -> None:
    """Wait until the deferred sections stopped loading (Panel marks them ``pn-loading``; they
    carry the mark from the page's first paint) and the layout stopped moving (``STABLE``)."""
    pg.wait_for_function(NOT_LOADING, timeout=LOAD_MS)
    pg.evaluate("() => { window.__rtLayout = null; }")
    pg.wait_for_function(STABLE, timeout=LOAD_MS, polling=POLL_MS)


def _check_page(pg, name: str) -> dict:
    _settle(pg)
    m = pg.evaluate(MEASURE)
    screenshot(pg, name)
    vw = m["viewport"]
    assert vw == PHONE["width"] and m["meta"] == VIEWPORT, (name, m["wide"], m)
    assert not m["wide"], (name, m["wide"])  # nothing past the edge, not even clipped
    assert m["doc"] <= vw + TOLERANCE and m["body"] <= vw + TOLERANCE, (name, m)
    assert m["mainScroll"] <= m["mainClient"] + TOLERANCE, (name, m)  # nothing clipped sideways
    main = m["main"]
    assert main["shown"] and main["width"] >= vw - 2 * TOLERANCE, (name, m)  # full width
    for width, height in m["canvases"]:  # every plot drawn, none zero-wide
        assert width > 100 and height > 50, (name, m["canvases"])
    tabs = [t for t in pg.evaluate(TAB_LABELS) if t["width"] > 0]  # shown ones
    for tab in tabs:  # every tab label whole on the screen
        assert tab["left"] >= -TOLERANCE and tab["right"] <= vw + TOLERANCE, (name, tab)
        assert not tab["clipped"], (name, tab)
    m["tabs"] = [t["text"] for t in tabs]
    return m


def _visit_all(browser, server, user: str, extra: str, prefix: str) -> list[str]:
    context = browser.new_context(viewport=PHONE, accept_downloads=True, is_mobile=True,
                                  has_touch=True)
    pg = context.new_page()
    seen = []
    try:
        pg.goto(server.of(user, extra.lstrip("&")))
        pg.locator(".rt-nav a").first.wait_for(timeout=LOAD_MS)
        slugs = nav_slugs(pg)
        for slug in slugs:
            query = f"page={slug}{extra}"
            if slug == "animal":
                query += "&animal=" + _an_animal(pg, server, user, extra)
            pg.goto(server.of(user, query))
            title = TITLES[slug]
            pg.get_by_text(re.compile("^" + re.escape(title))).first.wait_for(timeout=LOAD_MS)
            assert pg.get_by_text(re.compile("^" + re.escape(title))).first.is_visible()
            m = _check_page(pg, f"{prefix}{slug}")
            if slug == "record":  # the label once cut at "Lef"
                assert "Left the herd" in m["tabs"], m["tabs"]
            side, main = m["sidebar"], m["main"]
            # the menu is above the page, not beside it
            assert side["shown"] and side["width"] >= PHONE["width"] - 2 * TOLERANCE, m
            assert main["y"] >= side["y"] + side["height"] - TOLERANCE, m
            seen.append(slug)
        # the menu button folds the menu away: the page starts at the top
        pg.locator("#sidebar-button").click()
        pg.locator("#sidebar").wait_for(state="hidden", timeout=LOAD_MS)
        _settle(pg)
        folded = pg.evaluate(MEASURE)
        assert not folded["sidebar"]["shown"], folded
        assert folded["main"]["y"] <= m["sidebar"]["y"] + TOLERANCE, (folded, m)
        screenshot(pg, f"{prefix}{seen[-1]}-menu-folded")
    finally:
        context.close()
    return seen


def _an_animal(pg, server, user: str, extra: str) -> str:
    """An animal id of the herd, from the animals page's first link."""
    pg.goto(server.of(user, f"page=animals{extra}"))
    link = pg.locator("a[href*='animal=']").first
    link.wait_for(timeout=LOAD_MS)
    return re.search(r"animal=(\d+)", link.get_attribute("href")).group(1)


def test_customer_pages_fit_a_phone(browser, portal_server, portal):
    seen = _visit_all(browser, portal_server, "pa-admin", "", "phone-")
    admin_pages = {p.slug for p in customer.PAGES if Role.CUSTOMER_ADMIN in p.roles}
    assert set(seen) == admin_pages


def test_vet_pages_fit_a_phone(browser, portal_server, portal):
    pa = portal.farms["pa"].id
    seen = _visit_all(browser, portal_server, "p-vet", f"&customer={pa}", "phone-vet-")
    vet_pages = {p.slug for p in (*customer.PAGES, *staff.PAGES, *entry.PAGES)
                 if Role.VETERINARIAN in p.roles}
    assert {staff.customers.SLUG, "record", "overview", "reproduction", "animal"} <= set(seen)
    assert set(seen) <= vet_pages
