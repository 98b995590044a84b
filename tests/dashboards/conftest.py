"""Portal fixtures: farms of every shape the pages must handle, built once per session.

- ``pa``: 40 animals, genotypes, released results, reproduction history (the full herd)
- ``pb``, ``pc``: other farms in the same run (the anonymised population has 3+ customers)
- ``pone``: a single animal without genotype or results
- ``pempty``: no animals at all
- ``pbasic``: the basic tier (genomics only: no rankings or mating)
"""

from __future__ import annotations


import pytest

from reprotech_core.db.session import Database, Identity
from tests.dashboards.herds import Portal, build_portal

def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/dashboards/" in str(item.fspath):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def portal(db: Database, system: Identity) -> Portal:
    return build_portal(db, system)


# ---------------------------------------------------------------------------------------------
# Browser tests: the real app in a test server (tests/dashboards/server.py), driven by
# Debian's Chromium through Playwright.

import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

from reprotech_core.settings import PROJECT_HOME, Settings  # noqa: E402
from tests.dashboards.server import PortalServer, running_server  # noqa: E402

ARTIFACTS = PROJECT_HOME / "tests" / "artifacts" / "dashboards"
CHROMIUM = "/usr/bin/chromium"
SERVED_USERS = ("pa-user", "pa-admin", "pb-user", "pone-user", "pempty-user", "pbasic-user",
                "p-vet")


@pytest.fixture(scope="session")
def portal_server(pg_settings: Settings, portal: Portal) -> Iterator[PortalServer]:
    with running_server(pg_settings, SERVED_USERS, ARTIFACTS / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: run `./run test` (installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(pg, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


DEEP_TEXT = """() => { const out = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) {
      if (c.nodeType === 3) out.push(c.textContent); else walk(c); } };
  walk(document.body); return out.join(' '); }"""


def deep_text(pg) -> str:
    """All text of the page, including Panel's shadow DOM (``inner_text`` stops at it)."""
    return pg.evaluate(DEEP_TEXT)
