"""Record events in Chromium at a phone's size (390 x 844): a farmer records an insemination of
their own cow; the page fits the screen (nothing of it sideways past the edge, inputs the
screen's width), and the audit trail names the farmer.
Screenshots under ``tests/artifacts/dashboards/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import re
import pytest
from sqlalchemy import text

from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from tests.dashboards.conftest import ARTIFACTS, deep_text, screenshot
from tests.dashboards.server import PortalServer, running_server
from tests.dashboards.test_browser_portal import LOAD_MS, open_page
from tests.reproduction.conftest import Farm, make_farm

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FARMER = "feb-farmer"
HEAT_COWS = (2, 3, 4, 5, 6)
PHONE = {"width": 390, "height": 844}
# The page's own area (``#main``): its width, what it would scroll sideways, and anything in it
# reaching past the screen's right edge (shadow roots included). The frame's header is the
# frame's: its phone layout comes with the frame's (dashboards/app.py) phone rules.
MEASURE = """(limit) => { const main = document.getElementById('main'), wide = [];
  const scan = (n) => { if (n.shadowRoot) scan(n.shadowRoot);
    for (const c of n.children || []) { const r = c.getBoundingClientRect();
      const style = getComputedStyle(c);
      if (style.display === 'none') continue;
      if (r.right > limit + 2 && r.width > 0 && wide.length < 12) wide.push(
        `${c.tagName.toLowerCase()}.${[...c.classList].join('.')} ${Math.round(r.left)}-${Math.round(r.right)}`);
      if (!['auto', 'scroll'].includes(style.overflowX)) scan(c); } };
  scan(main);
  return {main: main.getBoundingClientRect().width, scroll: main.scrollWidth,
          client: main.clientWidth, wide}; }"""


def fits(pg) -> dict:
    m = pg.evaluate(MEASURE, PHONE["width"])
    assert not m["wide"] and m["scroll"] <= m["client"] + 2, m  # no sideways scrolling
    assert m["main"] >= PHONE["width"] - 4, m  # the page has the screen's width
    return m


@pytest.fixture(scope="module")
def farm(db, system) -> Farm:
    with db.session(system) as s:
        ref = accounts.create_customer(s, code="feb-sires", name="Browser sires",
                                       tier="reference", kind="reference")
        register_animals(s, ref, [AnimalRecord("FEB-AIBULL", "Holstein", "M", date(2012, 1, 1))])
    farm = make_farm(db, system, "FEB-AIBULL", cows=6)
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(FARMER, "Farmer in the barn", "customer_user",
                                                 farm.code))
    return farm


@pytest.fixture(scope="module")
def server(pg_settings, farm) -> Iterator[PortalServer]:
    with running_server(pg_settings, (FARMER,), ARTIFACTS / "server-farm-events.log") as s:
        yield s


def test_a_farmer_records_an_insemination_on_a_phone(browser, server, farm, db, system):
    context = browser.new_context(viewport=PHONE)
    pg = context.new_page()
    try:
        open_page(pg, server, FARMER, "page=events", "Record events · Repro farm")
        pg.locator(".rt-field-animal input").first.wait_for(timeout=LOAD_MS)
        # The frame does not fold its menu on a phone by itself: the farmer closes it with
        # the menu button, as on the other pages (tests/dashboards/test_reproduction_browser).
        pg.locator("#sidebar-button").click()
        pg.wait_for_timeout(500)
        fits(pg)
        cow = pg.locator(".rt-field-animal input").first
        # inputs and buttons as wide as the page's text (the screen less the frame's margins)
        text_width = pg.locator(".rt-heading").first.bounding_box()["width"]
        for field in (".rt-event-choice select", ".rt-field-animal input",
                      ".rt-field-bull input", ".rt-record-insemination button"):
            box = pg.locator(field).first.bounding_box()
            assert box["width"] >= text_width - 24 and box["width"] >= 0.7 * PHONE["width"], (
                field, box, text_width)
        cow.fill(farm.cow(1))
        pg.locator(".rt-field-bull input").first.fill(farm.ref_bull)
        # no pause before the click: the typed values and the click reach the server in that
        # order, and the click waits until the values are on the widgets (Panel applies each
        # in its own thread: event_forms.PendingChanges)
        pg.locator(".rt-record-insemination button").click()
        try:
            pg.get_by_text("The insemination is recorded").wait_for(timeout=LOAD_MS)
        except Exception:
            pytest.fail("not recorded: " + deep_text(pg)[-1500:])
        finally:
            screenshot(pg, "farm-events-phone")
        fits(pg)  # the outcome too
        assert "Not recorded" not in deep_text(pg)
        # heats of five cows, each typed and recorded at once: every record is of the cow
        # typed just before its click, never the one before (which would read "already
        # recorded" or write the wrong cow)
        pg.locator(".rt-event-choice select").select_option(label="Heat seen")
        heat_cow = pg.locator(".rt-form-heat .rt-field-animal input").first
        heat_cow.wait_for(timeout=LOAD_MS)
        last = None
        for n in HEAT_COWS:
            heat_cow.fill(farm.cow(n))
            pg.locator(".rt-record-heat button").click()
            last = _next_record(pg, "heat", last)
    finally:
        context.close()
    with db.session(system) as s:
        row = s.execute(text(
            "SELECT a.official_id, l.actor_user_id FROM core.inseminations i "
            "JOIN core.animals a ON a.id = i.cow_id JOIN audit.log l ON "
            "l.table_name = 'core.inseminations' AND l.action = 'INSERT' "
            "AND (l.new_values->>'id')::bigint = i.id WHERE i.customer_id = :c"),
            {"c": farm.id}).one()
    assert row.official_id == farm.cow(1)
    assert row.actor_user_id == db.identity(FARMER).user_id
    with db.session(system) as s:
        heats = s.execute(text(
            "SELECT a.official_id FROM core.heat_observations h "
            "JOIN core.animals a ON a.id = h.cow_id WHERE h.customer_id = :c ORDER BY h.id"),
            {"c": farm.id}).scalars().all()
    assert heats == [farm.cow(n) for n in HEAT_COWS]


def _next_record(pg, event: str, last: str | None) -> str:
    """Wait for the outcome of the click just made: "The <event> is recorded (record N)" with
    an N other than ``last``; anything else (a refusal, "already recorded") fails."""
    pattern = re.compile(rf"The {event} is recorded \(record (\d+)\)")
    for _ in range(LOAD_MS // 100):
        text_now = deep_text(pg)
        found = pattern.search(text_now)
        if found and found.group(1) != last:
            return found.group(1)
        if "Not recorded" in text_now or "already recorded" in text_now:
            break
        pg.wait_for_timeout(100)
    pytest.fail(f"no new {event} recorded: " + deep_text(pg)[-1500:])
