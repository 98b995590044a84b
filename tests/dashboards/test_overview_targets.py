"""The overview's reproduction KPI cards against the herd's targets (issue 21): each KPI with a
target shows the target and "✓ met" or "✗ missed" in words (rates met at or above, days open
and calving interval at or below), the same numbers as ``herd_kpis`` of the last twelve months
and ``check_against_targets``; a phone (390 x 844) shows every card whole. Targets are set
around the herd's own values so that some are met and some missed. Screenshot
``tests/artifacts/dashboards/overview-targets-phone.png``."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from dashboards.customer import common, overview
from dashboards.pages import PageContext
from reprotech_core import accounts
from reprotech_core.reproduction.queries import herd_kpis
from reprotech_core.reproduction.targets import (
    HerdTargets,
    check_against_targets,
    herd_targets,
    save_targets,
)
from tests.dashboards.conftest import ARTIFACTS, deep_text, screenshot
from tests.dashboards.herds import REFERENCE, FarmSpec, build_farm
from tests.dashboards.server import PortalServer, running_server
from tests.dashboards.test_browser_portal import LOAD_MS, open_page

ADMIN = "potg-admin"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def farm(db, system):
    farm = build_farm(db, system, FarmSpec("potg", 40, genotyped_share=0.0, evaluated=False,
                                           reproduction=True), REFERENCE, seed=31)
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(ADMIN, "Farm admin", "customer_admin",
                                                 "potg"))
    today = date.today()
    with db.session(system) as s:
        k = herd_kpis(s, farm.id, start=today - timedelta(days=365), end=today, as_of=today)
    # around the herd's own values: two met, three missed
    with db.session(db.identity(ADMIN)) as s:
        save_targets(s, farm.id, {
            "vwp_days": "50",
            "submission_rate_pct": min(100, math.ceil(k.heat_detection_rate * 100) + 5),
            "conception_rate_pct": max(1, math.floor(k.conception_rate * 100) - 5),
            "pregnancy_rate_pct": min(100, math.ceil(k.pregnancy_rate_21d * 100) + 5),
            "days_open": min(250, math.ceil(k.days_open) + 10),
            "calving_interval_days": max(330, math.floor(k.calving_interval) - 10)})
    return farm


def _cards(section) -> dict[str, str]:
    """The KPI cards' HTML by label."""
    box = next(o for o in section.objects if o.__class__.__name__ == "FlexBox")
    out = {}
    for pane in box.objects:
        label = re.search(r'font-weight:600">([^<]+)</div>', pane.object).group(1)
        out[label] = pane.object
    return out


def test_cards_show_value_target_and_met_or_missed(db, pg_settings, farm):
    ctx = PageContext(database=db, identity=db.identity(ADMIN), settings=pg_settings)
    today = date.today()
    with db.session(db.identity(ADMIN)) as s:
        k = herd_kpis(s, farm.id, start=today - timedelta(days=365), end=today, as_of=today)
        targets = herd_targets(s, farm.id)
    assert targets != HerdTargets()
    checks = check_against_targets(k.as_dict(), targets)
    assert {f: c.met for f, c in checks.items()} == {
        "heat_detection_rate": False, "conception_rate": True, "pregnancy_rate_21d": False,
        "days_open": True, "calving_interval": False}
    cards = _cards(overview.reproduction(ctx, common.resolve(ctx)))
    labels = {f: (label, pct, digits) for f, label, pct, digits in overview.KPI_CARDS}
    for field, check in checks.items():
        label, pct, digits = labels[field]
        html = cards[label]
        value = common.fmt(k.as_dict()[field], digits, percent=pct)
        goal = (f"{check.target:.0%}" if pct else f"{round(check.target)}")
        sign = "≥" if check.higher_is_better else "≤"
        assert f">{value}</div>" in html, (field, html)
        assert f"Target {sign} {goal}</span>" in html, (field, html)
        assert ("✓ met" if check.met else "✗ missed") in html, (field, html)
    for label in ("Services per conception", "Embryos per flush"):  # no target: no line
        assert "rt-target" not in cards[label]


@pytest.fixture(scope="module")
def server(pg_settings, farm) -> Iterator[PortalServer]:
    with running_server(pg_settings, (ADMIN,), ARTIFACTS / "server-overview-targets.log") as s:
        yield s


MARKS = """() => { const out = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.children || []) {
      if (c.classList && c.classList.contains('rt-card')) { const r = c.getBoundingClientRect();
        const t = c.querySelector('.rt-target');
        out.push({text: c.textContent, left: r.left, right: r.right,
                  clipped: c.scrollWidth > c.clientWidth + 1,
                  target: t ? t.textContent : null}); }
      walk(c); } };
  walk(document.body); return out; }"""


@pytest.mark.browser
@pytest.mark.slow
def test_cards_with_targets_read_on_a_phone(browser, server, farm):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    pg = context.new_page()
    try:
        open_page(pg, server, ADMIN, "page=overview", "Herd overview")
        pg.get_by_text(re.compile("^Target")).first.wait_for(timeout=LOAD_MS)
        pg.locator("#sidebar-button").click()
        pg.wait_for_timeout(700)
        cards = pg.evaluate(MARKS)
        shot = screenshot(pg, "overview-targets-phone")
        assert shot.exists()
        with_targets = [c for c in cards if c["target"]]
        assert len(with_targets) == 5, cards
        for c in cards:  # every card whole on the screen, nothing cut inside
            assert c["left"] >= 0 and c["right"] <= PHONE["width"] + 1, c
            assert not c["clipped"], c
        marks = sorted(re.search(r"[✓✗] \w+", c["target"]).group(0) for c in with_targets)
        assert marks == ["✓ met", "✓ met", "✗ missed", "✗ missed", "✗ missed"], marks
        assert "Targets are the herd's own" in deep_text(pg)
    finally:
        context.close()
