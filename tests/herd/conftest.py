"""Fixtures for the herd register tests: a fresh farm per test and the shared catalogue's
bull, on the suite's PostgreSQL; a snapshot that proves a refused import wrote nothing."""

from __future__ import annotations

import csv
import itertools
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import pytest

from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from tests import support

CATALOGUE_BULL = "HOLUSAM000000000777"
HEADER = ("official_id", "name", "sex", "birth_date", "breed", "sire", "dam", "herd")
WATCHED = ("customers", "herds", "animals")
_serial = itertools.count(1)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/herd/" in str(item.fspath) and "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def catalogue_bull(db, system) -> str:
    with db.session(system) as s:
        ref = accounts.create_customer(s, code="h-sires", name="Register sires",
                                       tier="reference", kind="reference")
        register_animals(s, ref, [AnimalRecord(CATALOGUE_BULL, "Holstein", "M", date(2012, 1, 1))])
    return CATALOGUE_BULL


@pytest.fixture
def farm(db, system, catalogue_bull) -> str:
    """A new farm with one herd ``main``; its code."""
    code = f"hr{next(_serial):03d}"
    with db.session(system) as s:
        c = accounts.create_customer(s, code=code, name=f"Register farm {code}",
                                     tier="enterprise")
        accounts.create_herd(s, customer=c, code="main", name="Main")
    return code


def write_csv(path: Path, rows: list[tuple], header: tuple[str, ...] = HEADER,
              encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def unchanged(admin_conninfo: str) -> AbstractContextManager[None]:
    """Assert the block changes none of the watched tables nor the audit log."""
    return support.unchanged(admin_conninfo, WATCHED)
