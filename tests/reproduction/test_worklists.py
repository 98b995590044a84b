"""The reproduction to-do list on hand-made cows, one per rule (see the module docstring of
``reprotech_core.reproduction.worklists``), and from the database through a farm's records."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from reprotech_core.reproduction import (
    CalvingEntry,
    ExitEntry,
    InseminationEntry,
    record_calving,
    record_exit,
    record_insemination,
)
from reprotech_core.reproduction.kpis import (
    CALVING_COLUMNS,
    DIAGNOSIS_COLUMNS,
    FLUSH_COLUMNS,
    IVF_COLUMNS,
    SERVICE_COLUMNS,
    ReproFrames,
    frame,
)
from reprotech_core.reproduction.queries import records_version, worklist
from reprotech_core.reproduction.worklists import worklist_from
from tests.reproduction.test_rules import put

TODAY = date(2025, 6, 30)


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


@pytest.fixture
def todo() -> pd.DataFrame:
    calvings = {  # cow: days since her last calving
        "FRESH": 30, "OPEN": 60, "ANOESTRUS": 95, "BRED": 70, "CHECK": 110, "REOPEN": 150,
        "REPEAT": 200, "EARLY": 160, "CONFIRMED": 200, "DRY": 300, "DUE": 380, "MID": 250}
    services = [  # cow, days ago
        ("BRED", 20), ("CHECK", 40), ("REOPEN", 80), ("REPEAT", 120), ("REPEAT", 99),
        ("REPEAT", 70), ("EARLY", 70), ("CONFIRMED", 100), ("DRY", 240), ("DUE", 270),
        ("MID", 150), ("HEIFER-BRED", 10)]
    diagnoses = [  # cow, days ago, result
        ("REOPEN", 45, "open"), ("REPEAT", 35, "open"), ("EARLY", 35, "pregnant"),
        ("CONFIRMED", 65, "pregnant"), ("CONFIRMED", 40, "pregnant"), ("DRY", 200, "pregnant"),
        ("DUE", 230, "pregnant"), ("MID", 110, "pregnant")]
    frames = ReproFrames(
        frame([(c, ago(d), "ai", "S", "T", "H") for c, d in services], SERVICE_COLUMNS),
        frame([(c, ago(d), r) for c, d, r in diagnoses], DIAGNOSIS_COLUMNS),
        frame([(c, ago(d), "H") for c, d in calvings.items()], CALVING_COLUMNS),
        frame(None, FLUSH_COLUMNS), frame(None, IVF_COLUMNS))
    cows = [*calvings, "HEIFER-OLD", "HEIFER-YOUNG", "HEIFER-BRED"]
    born = {"HEIFER-OLD": 420, "HEIFER-YOUNG": 300, "HEIFER-BRED": 450}
    females = pd.DataFrame([(c, c, TODAY - timedelta(days=born.get(c, 1500)), "H")
                            for c in cows], columns=["cow", "official_id", "birth_date", "herd"])
    return worklist_from(frames, females, today=TODAY).set_index("cow")


def test_each_cow_gets_her_most_pressing_action(todo):
    assert todo["action"].to_dict() == {
        "ANOESTRUS": "examine", "REPEAT": "examine",
        "CHECK": "pregnancy check",
        "EARLY": "confirm pregnancy",
        "OPEN": "breed", "REOPEN": "breed", "HEIFER-OLD": "breed",
        "DRY": "dry off",
        "DUE": "due to calve",
    }
    # not listed: fresh within the waiting period, bred < 32 days ago, confirmed at 60 days,
    # mid-gestation, a heifer too young, a heifer bred 10 days ago
    assert list(todo.index[:2]) == ["ANOESTRUS", "REPEAT"]  # the vet's cows first


def test_the_reasons_name_the_numbers(todo):
    assert todo.loc["ANOESTRUS", "reason"] == "95 days in milk and not served (no heat seen)"
    assert todo.loc["REPEAT", "reason"] == f"found open on {ago(35)} after 3 services in this " \
                                           "lactation"
    assert todo.loc["CHECK", "reason"] == f"served 40 days ago ({ago(40)}), not diagnosed since"
    assert todo.loc["EARLY", "reason"] == f"diagnosed pregnant 35 days after the service of " \
                                          f"{ago(70)} only"
    assert todo.loc["OPEN", "reason"] == "60 days in milk, past the 50-day waiting period"
    assert todo.loc["HEIFER-OLD", "reason"] == "heifer of 14 months, not served"
    assert todo.loc["DUE", "reason"] == "due in 13 days"  # 283 - 270
    assert todo.loc["DUE", "due"] == pd.Timestamp(ago(270)) + pd.Timedelta(days=283)
    assert todo.loc["DRY", "due"] == pd.Timestamp(ago(240)) + pd.Timedelta(days=283 - 60)
    assert (todo.loc["REPEAT", "services"], todo.loc["CHECK", "days_in_milk"]) == (3, 110)


def test_from_the_database_a_cow_that_left_is_not_listed(db, system, customer_of, farm):
    day = date.today()
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, day - timedelta(days=400)))
    put(db, system, customer_of, farm, record_calving,
        CalvingEntry(farm.cow(1), day - timedelta(days=120), 1, "M", stillborn=True))
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(2), farm.ref_bull, day - timedelta(days=40)))
    with db.session(system) as s:
        before = records_version(s, farm.id)
    put(db, system, customer_of, farm, record_exit,
        ExitEntry(farm.cow(4), day - timedelta(days=5), "sold"))
    with db.session(system) as s:
        got = worklist(s, farm.id).set_index("official_id")["action"].to_dict()
        assert records_version(s, farm.id) != before  # cached lists and KPIs are reloaded
    assert got[farm.cow(1)] == "examine"  # 120 days in milk, never served since
    assert got[farm.cow(2)] == "pregnancy check"
    assert got[farm.cow(3)] == "breed"  # a heifer of breeding age (born 2020), never served
    assert farm.cow(4) not in got
