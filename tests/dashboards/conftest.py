"""Portal fixtures: farms of every shape the pages must handle, built once per session.

- ``pa``: 40 animals, genotypes, released results, reproduction history (the full herd)
- ``pb``, ``pc``: other farms in the same run (the anonymised population has 3+ customers)
- ``pone``: a single animal without genotype or results
- ``pempty``: no animals at all
- ``pbasic``: the basic tier (genomics only: no rankings or mating)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reprotech_core.db.session import Database, Identity
from reprotech_core.settings import PROJECT_HOME, Settings
from tests.dashboards.herds import Portal, build_portal
from tests.dashboards.server import PortalServer, running_server


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/dashboards/" in str(item.fspath):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def portal(db: Database, system: Identity) -> Portal:
    return build_portal(db, system)


# ---------------------------------------------------------------------------------------------
# Browser tests: the real app in a test server (tests/dashboards/server.py), driven by
# Debian's Chromium through Playwright (the session's one browser, tests/conftest.py).

ARTIFACTS = PROJECT_HOME / "tests" / "artifacts" / "dashboards"
SERVED_USERS = ("pa-user", "pa-admin", "pb-user", "pone-user", "pempty-user", "pbasic-user",
                "p-vet")


@pytest.fixture(scope="session")
def portal_server(pg_settings: Settings, portal: Portal) -> Iterator[PortalServer]:
    with running_server(pg_settings, SERVED_USERS, ARTIFACTS / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def browser(chromium):
    return chromium


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
