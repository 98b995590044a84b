"""Fixtures for the reproduction tests: a fresh farm per test, on the suite's PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from data_models.tenancy import Customer
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals

_serial = itertools.count(1)


@dataclass(frozen=True)
class Farm:
    code: str
    id: int
    herds: tuple[str, str]
    ref_bull: str  # a bull of the reference catalogue
    own_bull: str

    def cow(self, n: int) -> str:
        return f"{self.code}-C{n}"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/reproduction/" in str(item.fspath) and "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def reference_bull(db, system) -> str:
    with db.session(system) as s:
        ref = accounts.create_customer(s, code="r-sires", name="Repro sires", tier="reference",
                                       kind="reference")
        register_animals(s, ref, [AnimalRecord("R-AIBULL", "Holstein", "M", date(2012, 1, 1)),
                                  AnimalRecord("R-AIBULL2", "Jersey", "M", date(2013, 1, 1))])
    return "R-AIBULL"


def make_farm(db, system, reference_bull, *, tier: str = "professional", cows: int = 6) -> Farm:
    code = f"rf{next(_serial):03d}"
    with db.session(system) as s:
        c = accounts.create_customer(s, code=code, name=f"Repro farm {code}", tier=tier)
        herds = (f"{code}-h1", f"{code}-h2")
        for h in herds:
            accounts.create_herd(s, customer=c, code=h, name=h)
        register_animals(s, c, [
            *(AnimalRecord(f"{code}-C{n}", "Holstein", "F", date(2020, 1, 1), herd_code=herds[0])
              for n in range(1, cows + 1)),
            AnimalRecord(f"{code}-BULL", "Holstein", "M", date(2019, 1, 1), herd_code=herds[0]),
        ])
        cid = c.id
    return Farm(code, cid, herds, reference_bull, f"{code}-BULL")


@pytest.fixture
def farm(db, system, reference_bull) -> Farm:
    return make_farm(db, system, reference_bull)


@pytest.fixture
def customer_of(db, system):
    """``customer_of(session, farm)``: the Customer row in that session."""
    def get(session, farm: Farm) -> Customer:
        return session.scalar(select(Customer).where(Customer.id == farm.id))
    return get
