"""In-page navigation (dashboards/navigation.py): the menu and the links between pages switch
the main area inside one browser session, the URL follows and the back button returns; a
foreign or unknown animal reached that way reads "Not found." as on a full load, and nothing is
written. The frame's bookkeeping (which page is kept, which is built again) without a browser."""

from __future__ import annotations

import re
from types import SimpleNamespace

import panel as pn
import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from dashboards.navigation import Navigator, menu_html, parse_request, query_of
from dashboards.pages import Page
from reprotech_core.roles import Role
from tests.dashboards.conftest import screenshot
from tests.dashboards.test_browser_portal import LOAD_MS

MARK = "() => window.__rtSameSession"
VISIBLE_TEXT = """() => { const out = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) {
      if (c.nodeType === 3) out.push(c.textContent);
      else if (c.nodeType === 1 && !['STYLE', 'SCRIPT'].includes(c.tagName)
               && c.checkVisibility()) walk(c); } };
  walk(document.body); return out.join(' '); }"""
SET_MARK = "() => { window.__rtSameSession = 'yes'; }"


def shows(pg, text: str):
    """The first *visible* element with ``text`` (kept pages are in the document, hidden)."""
    return pg.locator(f"text={text} >> visible=true").first


def nav_link(pg, slug: str):
    return pg.locator(f".rt-nav a[href^='?page={slug}']").first


def follow(pg, href: str) -> None:
    """Click a link to ``href`` put into the document (as a page's own links are)."""
    pg.evaluate("""(href) => { const a = document.createElement('a'); a.href = href;
        a.textContent = 'go'; a.id = 'rt-test-link'; document.body.prepend(a); }""", href)
    pg.locator("#rt-test-link").click()
    pg.evaluate("() => document.getElementById('rt-test-link').remove()")


@pytest.mark.browser
@pytest.mark.slow
def test_menu_and_page_links_switch_in_place_and_back_returns(page, portal_server, portal):
    every = len(portal.farms["pa"].every_animal)
    cow = max(portal.farms["pa"].genotyped)
    page.goto(portal_server.of("pa-user", "page=overview"))
    shows(page, "Herd overview · Farm pa").wait_for(timeout=LOAD_MS)
    page.evaluate(SET_MARK)

    nav_link(page, "animals").click()
    shows(page, f"{every} animals (").wait_for(timeout=LOAD_MS)
    assert page.evaluate(MARK) == "yes"  # no reload: the same document, the same session
    assert page.url.endswith("/pa-user?page=animals")
    expect(nav_link(page, "animals")).to_have_attribute("aria-current", "page")

    # a link inside a page (the animals table's) opens the animal in place too
    page.locator(f".rt-animals a[href*='animal={cow}']").first.click()
    shows(page, "Sire's sire's dam").wait_for(timeout=LOAD_MS)
    assert page.evaluate(MARK) == "yes"
    assert re.search(rf"\?page=animal&animal={cow}$", page.url), page.url

    page.go_back()
    shows(page, f"{every} animals (").wait_for(timeout=LOAD_MS)
    page.locator(".rt-animals .tabulator-row").first.wait_for(timeout=LOAD_MS)  # drawn again
    assert page.url.endswith("?page=animals")
    page.go_back()
    shows(page, "Herd overview · Farm pa").wait_for(timeout=LOAD_MS)
    assert page.url.endswith("?page=overview")
    page.go_forward()
    shows(page, f"{every} animals (").wait_for(timeout=LOAD_MS)
    assert page.url.endswith("?page=animals") and page.evaluate(MARK) == "yes"
    screenshot(page, "navigation-in-place")

    # a URL opened directly is served as before
    page.goto(portal_server.of("pa-user", f"page=animal&animal={cow}"))
    shows(page, "Sire's sire's dam").wait_for(timeout=LOAD_MS)
    assert page.evaluate(MARK) is None


@pytest.mark.browser
@pytest.mark.slow
def test_foreign_or_unknown_animal_after_in_page_navigation_is_not_found(
        page, portal_server, portal, db, system):
    pb = portal.farms["pb"]
    secret = pb.evaluated[0]
    with db.session(system) as s:
        written = s.execute(text("SELECT count(*) FROM audit.log")).scalar_one()
    page.goto(portal_server.of("pa-user", "page=overview"))
    shows(page, "Herd overview · Farm pa").wait_for(timeout=LOAD_MS)
    page.evaluate(SET_MARK)
    nav_link(page, "animals").click()
    shows(page, "Animals · Farm pa").wait_for(timeout=LOAD_MS)
    for animal in (str(secret), "999999999", "1%20OR%201=1"):
        follow(page, f"?page=animal&animal={animal}")
        shows(page, "Not found.").wait_for(timeout=LOAD_MS)
        shown = page.evaluate(VISIBLE_TEXT)  # kept pages of the user's own are hidden
        assert not any(oid in shown for oid in pb.animals), animal
        assert "Farm pb" not in shown and "Pedigree" not in shown
        assert f"animal={animal}" in page.url and page.evaluate(MARK) == "yes"
        nav_link(page, "animals").click()
        shows(page, "Animals · Farm pa").wait_for(timeout=LOAD_MS)
    # back to the foreign animal through the history: still not found
    page.go_back()
    shows(page, "Not found.").wait_for(timeout=LOAD_MS)
    assert "Pedigree" not in page.evaluate(VISIBLE_TEXT)
    screenshot(page, "navigation-foreign-animal")
    with db.session(system) as s:
        assert s.execute(text("SELECT count(*) FROM audit.log")).scalar_one() == written


@pytest.mark.browser
@pytest.mark.slow
def test_vet_keeps_the_customer_and_cannot_switch_in_place_to_a_foreign_one(
        page, portal_server, portal):
    pa, pb = portal.farms["pa"].id, portal.farms["pb"].id
    page.goto(portal_server.of("p-vet", f"page=overview&customer={pa}"))
    shows(page, "Herd overview · Farm pa").wait_for(timeout=LOAD_MS)
    page.evaluate(SET_MARK)
    nav_link(page, "animals").click()
    shows(page, "Animals · Farm pa").wait_for(timeout=LOAD_MS)
    assert page.url.endswith(f"?page=animals&customer={pa}")
    follow(page, f"?page=animals&customer={pb}")
    shows(page, "Not found.").wait_for(timeout=LOAD_MS)
    assert "Farm pb" not in page.evaluate(VISIBLE_TEXT) and page.evaluate(MARK) == "yes"


@pytest.mark.browser
@pytest.mark.slow
def test_menu_switches_pages_on_a_phone(browser, portal_server, portal):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    pg = context.new_page()
    try:
        pg.goto(portal_server.of("pa-admin", "page=overview"))
        shows(pg, "Herd overview · Farm pa").wait_for(timeout=LOAD_MS)
        pg.evaluate(SET_MARK)
        nav_link(pg, "reproduction").click()
        shows(pg, "Reproduction · Farm pa").wait_for(timeout=LOAD_MS)
        assert pg.evaluate(MARK) == "yes" and pg.url.endswith("?page=reproduction")
        nav_link(pg, "animals").click()
        shows(pg, "Animals · Farm pa").wait_for(timeout=LOAD_MS)
        m = pg.evaluate("""() => { const s = document.getElementById('sidebar').getBoundingClientRect(),
            m = document.getElementById('main').getBoundingClientRect();
            return {side: [s.y, s.height, s.width], main: m.y,
                    scroll: document.scrollingElement.scrollWidth}; }""")
        assert m["side"][2] >= 386 and m["main"] >= m["side"][0] + m["side"][1] - 2, m
        assert m["scroll"] <= 390, m  # never sideways
        screenshot(pg, "navigation-phone")
    finally:
        context.close()


# --- the frame's bookkeeping, without a browser ----------------------------------------------

def _pages(built: list[str]) -> list[Page]:
    def build(slug):  # noqa: ANN001, ANN202
        def page(_ctx):  # noqa: ANN001, ANN202
            built.append(slug)
            return pn.pane.Markdown(f"page {slug} #{len(built)}")
        return page

    return [Page(s, s.title(), frozenset({Role.CUSTOMER_USER}), "genomics", build(s))
            for s in ("overview", "animal")]


def _navigator(built: list[str]) -> Navigator:
    ctx = SimpleNamespace(identity=SimpleNamespace(username="someone"))
    pages = _pages(built)

    def render(page, asked):  # noqa: ANN001, ANN202
        return page.build(ctx) if page else pn.pane.Markdown("Not found.")

    return Navigator(ctx, pages, render)


def _shown(nav: Navigator) -> str:
    (holder,) = [o for o in nav.main.objects if o.visible]
    return holder.objects[0].object


def test_pages_are_kept_until_their_query_differs_or_their_entry_is_clicked():
    built: list[str] = []
    nav = _navigator(built)
    nav.show({})  # no page asked: the first
    nav.menu.request = "1 push ?page=animal&animal=5"
    nav.menu.request = "2 pop ?page=overview"  # back: kept
    assert built == ["overview", "animal"]
    nav.menu.request = "3 push ?page=animal&animal=6"  # another animal: built
    nav.menu.request = "4 push ?page=animal&animal=6"  # its entry clicked again: built again
    assert built == ["overview", "animal", "animal", "animal"]
    nav.menu.request = "5 push ?page=nope"
    assert _shown(nav) == "Not found."
    nav.menu.request = "garbage"  # not a request: ignored
    assert _shown(nav) == "Not found." and len(built) == 4
    nav.menu.request = "6 pop ?page=overview"  # kept, hidden meanwhile, shown again
    assert _shown(nav).startswith("page overview #1") and len(built) == 4
    assert len(nav.main.objects) == 3  # overview, animals 5 and 6 (not found is not kept)


def test_menu_links_carry_only_a_numeric_customer_and_escape_titles():
    pages = [Page("overview", "<b>Herd</b>", frozenset({Role.CUSTOMER_USER}), "genomics",
                  lambda ctx: None)]
    assert 'href="?page=overview&amp;customer=7"' in menu_html(pages, "7")
    assert "customer" not in menu_html(pages, "7 OR 1=1")
    assert "&lt;b&gt;Herd" in menu_html(pages, None)
    assert parse_request("3 pop ?page=a") == ("pop", "?page=a")
    assert query_of("?page=a&animal=&customer=2&customer=3") == {"page": "a", "customer": "3"}
