"""Test fixtures: a real PostgreSQL cluster for the session, started and stopped by the suite.

The cluster is the same embedded one the product runs (pgserver's binaries, an unprivileged
OS account when the suite runs as root), on a free loopback port in a temporary folder, with
the real migrations applied. Nothing here depends on a server installed by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from reprotech_core.db.migrate import admin_url, app_url
from reprotech_core.db.scratch import scratch_platform, scratch_settings
from reprotech_core.db.session import Database, Identity
from reprotech_core.settings import Settings


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a throwaway platform under ``root``, with a small demo."""
    return scratch_settings(root, **{"demo_customers": 2, "demo_animals_per_customer": 30,
                                     **overrides})


@pytest.fixture(scope="session")
def pg_settings() -> Iterator[Settings]:
    with scratch_platform(demo_customers=2, demo_animals_per_customer=30) as settings:
        yield settings


@pytest.fixture(scope="session")
def db(pg_settings: Settings) -> Iterator[Database]:
    database = Database(app_url(pg_settings))
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def system(db: Database) -> Identity:
    return db.identity("system")


def psycopg_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def admin_conninfo(pg_settings: Settings) -> str:
    return psycopg_url(admin_url(pg_settings))


@dataclass(frozen=True)
class World:
    """Two farms, the reference catalogue, and a user of every role (see ``world``)."""

    farm_a: int
    farm_b: int
    reference: int
    users: dict[str, Identity]
    animals: dict[str, int]  # official id -> id
    logins: dict[str, str]  # username -> psycopg conninfo of their notebook login


@pytest.fixture(scope="session")
def world(pg_settings: Settings, db: Database, system: Identity) -> World:
    """Tenants and users the isolation tests attack; created once, read by many tests."""
    from reprotech_core import accounts
    from reprotech_core.animals import AnimalRecord, register_animals

    with db.session(system) as s:
        ref = accounts.create_customer(s, code="w-ref", name="World sires", tier="reference",
                                       kind="reference")
        a = accounts.create_customer(s, code="w-a", name="Farm A", tier="professional")
        b = accounts.create_customer(s, code="w-b", name="Farm B", tier="professional")
        for c in (a, b):
            accounts.create_herd(s, customer=c, code=f"{c.code}-h", name="Main")
        ids = register_animals(s, ref, [AnimalRecord("W-BULL", "Holstein", "M", date(2015, 1, 1))])
        ids |= register_animals(s, a, [
            AnimalRecord("WA-COW", "Holstein", "F", date(2018, 3, 1), herd_code="w-a-h"),
            AnimalRecord("WA-CALF", "Holstein", "F", date(2021, 4, 1), herd_code="w-a-h",
                         sire="W-BULL", dam="WA-COW"),
        ])
        ids |= register_animals(s, b, [
            AnimalRecord("WB-COW", "Jersey", "F", date(2018, 5, 1), herd_code="w-b-h"),
            AnimalRecord("WB-SECRET", "Jersey", "F", date(2020, 6, 1), herd_code="w-b-h",
                         sire="W-BULL", dam="WB-COW"),
        ])
        roles = {
            "w-admin": ("admin", None), "w-vet": ("veterinarian", None),
            "w-tech": ("technician", None), "w-res": ("researcher", None),
            "w-lab": ("lab_ops", None), "w-a-admin": ("customer_admin", "w-a"),
            "w-a-user": ("customer_user", "w-a"), "w-b-user": ("customer_user", "w-b"),
        }
        for name, (role, cust) in roles.items():
            accounts.create_user(s, accounts.NewUser(name, name, role, cust))
        accounts.assign(s, "w-vet", "w-a")
        accounts.assign(s, "w-tech", "w-a")
    users = {name: db.identity(name) for name in roles}
    conninfos = {}
    for name in ("w-vet", "w-res", "w-lab", "w-admin"):
        creds = accounts.provision_db_login(db, admin_url(pg_settings), system, name)
        conninfos[name] = (
            f"host={pg_settings.db_host} port={pg_settings.db_port} dbname={pg_settings.db_name} "
            f"user={creds.login} password={creds.password}"
        )
    return World(a.id, b.id, ref.id, users, ids, conninfos)


@pytest.fixture
def notebook(world: World):
    """Open a notebook login's connection: ``notebook('w-vet')``; closed after the test."""
    opened: list[psycopg.Connection] = []

    def connect(username: str, *, autocommit: bool = True) -> psycopg.Connection:
        conn = psycopg.connect(world.logins[username], autocommit=autocommit)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test of the session (Playwright's sync API
    allows one running instance per thread, so the test folders share it)."""
    import os

    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM, CHROMIUM_ARGS

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: run `./run test` (installs Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
