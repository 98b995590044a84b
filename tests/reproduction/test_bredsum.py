"""The breeding summary (docs/reproduction.md, "Breeding summary") on hand-made cows, every
value worked out by hand below. Today is 2023-01-22; all cows are in herd H1.

- A (born 2019-08-01): calves 2021-09-01; heat AI 2021-12-10 conceives (calves 2022-09-20,
  284 days later). Lactation 2: heat AI 2022-11-25 (open: served again), timed AI 2022-12-15,
  diagnosed pregnant 2023-01-20.
- B (no birth date): calves 2022-10-15; timed AI 2023-01-10, no news yet (pending).
- C (born 2020-06-01): calves 2022-09-01, never served, sold 2022-12-20.
- D (born 2020-07-01): calves 2022-10-01; heat AI 2022-11-01 (before her waiting period ended),
  diagnosed pregnant 2022-12-05.
- E (born 2021-01-01): heifer, heat AI 2022-03-01 (open), heat AI 2022-03-22 conceives,
  calves 2022-12-28.
- F (born 2019-10-01): calves 2022-01-01; heat AIs 03-01, 03-22, 04-12, 05-03 (open: each
  followed by another), timed AI 05-24 diagnosed pregnant 2022-07-01.
- G (born 2021-02-01): heifer, embryo transfer 2022-10-01, diagnosed pregnant 2022-11-15.
- H (born 2021-05-01): no records.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from reprotech_core.reproduction.bredsum import (
    age_at_first_calving,
    breeding_summary,
    calving_intervals,
    cycle_table,
    cycle_totals,
    pregnancy_status,
)
from reprotech_core.reproduction.kpis import (
    CALVING_COLUMNS,
    DIAGNOSIS_COLUMNS,
    EXIT_COLUMNS,
    FLUSH_COLUMNS,
    IVF_COLUMNS,
    SERVICE_COLUMNS,
    ReproFrames,
    conceptions_after_calvings,
    frame,
    kpi_breakdown_from,
    numbered_services,
    service_outcomes,
)

TODAY = date(2023, 1, 22)
SERVICES = (*SERVICE_COLUMNS, "service_type")


@pytest.fixture
def herd() -> ReproFrames:
    def ai(cow: str, day: str, kind: str = "heat") -> tuple:
        return (cow, day, "ai", "S1", "T1", "H1", kind)

    services = frame([
        ai("A", "2021-12-10"), ai("A", "2022-11-25"), ai("A", "2022-12-15", "timed"),
        ai("B", "2023-01-10", "timed"), ai("D", "2022-11-01"),
        ai("E", "2022-03-01"), ai("E", "2022-03-22"),
        ai("F", "2022-03-01"), ai("F", "2022-03-22"), ai("F", "2022-04-12"),
        ai("F", "2022-05-03"), ai("F", "2022-05-24", "timed"),
        ("G", "2022-10-01", "et", "S2", "T2", "H1", None),
    ], SERVICES)
    diagnoses = frame([("A", "2023-01-20", "pregnant"), ("D", "2022-12-05", "pregnant"),
                       ("F", "2022-07-01", "pregnant"), ("G", "2022-11-15", "pregnant")],
                      DIAGNOSIS_COLUMNS)
    calvings = frame([("A", "2021-09-01", "H1"), ("A", "2022-09-20", "H1"),
                      ("B", "2022-10-15", "H1"), ("C", "2022-09-01", "H1"),
                      ("D", "2022-10-01", "H1"), ("E", "2022-12-28", "H1"),
                      ("F", "2022-01-01", "H1")], CALVING_COLUMNS)
    exits = frame([("C", "2022-12-20")], EXIT_COLUMNS)
    return ReproFrames(services, diagnoses, calvings, frame(None, FLUSH_COLUMNS),
                       frame(None, IVF_COLUMNS), exits)


@pytest.fixture
def females() -> pd.DataFrame:
    born = {"A": date(2019, 8, 1), "B": None, "C": date(2020, 6, 1), "D": date(2020, 7, 1),
            "E": date(2021, 1, 1), "F": date(2019, 10, 1), "G": date(2021, 2, 1),
            "H": date(2021, 5, 1)}
    return pd.DataFrame([(c, f"DE-{c}", b, "H1") for c, b in born.items()],
                        columns=["cow", "official_id", "birth_date", "herd"])


def _parts(herd: ReproFrames) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = service_outcomes(herd.services, herd.diagnoses, herd.calvings)
    return out, conceptions_after_calvings(out, herd.calvings, herd.exits)


def test_cycle_table(herd):
    # Cycles: 2022-11-20..12-10, 12-11..12-31, 2023-01-01..01-21.
    # 1: A (waiting period over 11-09) served 11-25, open; C (over 10-21) in the herd until
    #    12-20, not served; B's waiting period ends 12-04 (not eligible); D conceived 11-01.
    # 2: A conceives 12-15; B eligible, not served; C left 12-20, before the cycle's end.
    # 3: B served 01-10, outcome pending; A conceived before the cycle.
    table = cycle_table(*_parts(herd), as_of=TODAY, cycles=3)
    got = [(r.cycle_start.date().isoformat(), r.cycle_end.date().isoformat(), r.eligible,
            r.bred, r.pregnant, r.pending) for r in table.itertuples()]
    assert got == [("2022-11-20", "2022-12-10", 2, 1, 0, 0),
                   ("2022-12-11", "2022-12-31", 2, 1, 1, 0),
                   ("2023-01-01", "2023-01-21", 1, 1, 0, 1)]
    assert list(table["submission_rate"]) == [0.5, 0.5, 1.0]
    rates = list(table["conception_rate"])  # 0/1, 1/1, 0/(1-1): no rate (NaN in the column)
    assert rates[:2] == [0.0, 1.0] and pd.isna(rates[2])
    assert list(table["pregnancy_rate"]) == [0.0, 0.5, 0.0]
    assert list(table["heats"]) == [0, 0, 0]  # no heats given: the submission rate is bred
    assert cycle_totals(table) == {"eligible": 5, "bred": 3, "heats": 0, "pregnant": 1,
                                   "pending": 1,
                                   "submission_rate": pytest.approx(3 / 5),
                                   "conception_rate": pytest.approx(1 / 2),
                                   "pregnancy_rate": pytest.approx(1 / 5)}


def test_cycle_table_waiting_period_is_a_parameter(herd):
    # 60 days: B's waiting period ends 12-14, after cycle 2 began; A's (11-19) and C's do not.
    table = cycle_table(*_parts(herd), as_of=TODAY, cycles=3, vwp_days=60)
    assert list(table["eligible"]) == [2, 1, 1]
    assert len(cycle_table(*_parts(herd), as_of=TODAY)) == 17  # the last year: 17 x 21 days


def test_a_lactation_ended_by_a_calving_is_no_longer_eligible(herd):
    # A's first lactation has no recorded conception (her 2021-12-10 AI conceived, but drop it):
    # she calved again on 2022-09-20, so she is not eligible in that lactation any more.
    thin = ReproFrames(herd.services[herd.services["date"] > "2022-01-01"], herd.diagnoses,
                       herd.calvings, herd.flushes, herd.ivf, herd.exits)
    table = cycle_table(*_parts(thin), as_of=TODAY, cycles=3)
    assert list(table["eligible"]) == [2, 2, 1]


def test_numbered_services_and_groups(herd):
    out = numbered_services(service_outcomes(herd.services, herd.diagnoses, herd.calvings),
                            herd.calvings)
    got = {(r.cow, r.date.date().isoformat()): (r.lactation, r.service_number, r.service_group,
                                                r.lactation_group, r.service_type_group)
           for r in out.itertuples()}
    assert got[("A", "2021-12-10")] == (1, 1, "1", "1", "heat")
    assert got[("A", "2022-11-25")] == (2, 1, "1", "2", "heat")
    assert got[("A", "2022-12-15")] == (2, 2, "2", "2", "timed")
    assert got[("E", "2022-03-22")] == (0, 2, "2", "heifer", "heat")
    assert got[("F", "2022-05-03")] == (1, 4, "4+", "1", "heat")
    assert got[("F", "2022-05-24")] == (1, 5, "4+", "1", "timed")
    assert got[("G", "2022-10-01")] == (0, 1, "1", "heifer", "embryo transfer")


def _rates(table: pd.DataFrame, by: str) -> dict[str, tuple]:
    return {r[by]: (r["services"], r["conceptions"], r["conception_rate"])
            for r in table.to_dict("records")}


def test_conception_rate_by_service_number_lactation_and_service_type(herd):
    # 1st services: A 21-12-10 P, A 22-11-25 O, B pending, D P, E O, F O, G P: 3 of 6 known.
    # 2nd: A P, E P, F O. 3rd: F O. 4+: F O, F P.
    by_number = kpi_breakdown_from(herd, "service_number", as_of=TODAY)
    assert list(by_number["service_number"]) == ["1", "2", "3", "4+"]
    assert _rates(by_number, "service_number") == {
        "1": (7, 3, pytest.approx(3 / 6)), "2": (3, 2, pytest.approx(2 / 3)),
        "3": (1, 0, 0.0), "4+": (2, 1, 0.5)}
    # heifers: E O, E P, G P; 1st lactation: A P, B pending, D P, F 1 P in 5; 2nd: A O, A P.
    assert _rates(kpi_breakdown_from(herd, "lactation", as_of=TODAY), "lactation") == {
        "heifer": (3, 2, pytest.approx(2 / 3)), "1": (8, 3, pytest.approx(3 / 7)),
        "2": (2, 1, 0.5)}
    # heat: 9 services, 3 pregnant (A, D, E); timed: A P, B pending, F P; the transfer: G P.
    assert _rates(kpi_breakdown_from(herd, "service_type", as_of=TODAY), "service_type") == {
        "heat": (9, 3, pytest.approx(1 / 3)), "timed": (3, 2, 1.0),
        "embryo transfer": (1, 1, 1.0)}


def test_service_type_not_recorded_without_the_column(herd):
    bare = ReproFrames(herd.services.drop(columns=["service_type"]), herd.diagnoses,
                       herd.calvings, herd.flushes, herd.ivf, herd.exits)
    groups = kpi_breakdown_from(bare, "service_type", as_of=TODAY)["service_type"]
    assert list(groups) == ["embryo transfer", "not recorded"]


def test_pregnancy_status(herd, females):
    in_herd = females[females["cow"] != "C"]
    status = pregnancy_status(herd, in_herd, today=TODAY)
    got = {r.cow: (r.lactation, r.days_in_milk, r.status, r.services)
           for r in status.itertuples()}
    # DIM: A since 2022-09-20 = 10 + 31 + 30 + 31 + 22; B since 10-15 = 16 + 30 + 31 + 22;
    # D since 10-01 = 30 + 30 + 31 + 22; E since 12-28 = 3 + 22; F since 2022-01-01 = 365 + 21.
    assert got == {"A": (2, 124, "pregnant", 2), "B": (1, 99, "bred", 1),
                   "D": (1, 113, "pregnant", 1), "E": (1, 25, "open", 0),
                   "F": (1, 386, "pregnant", 5)}  # heifers G, H have no days in milk


def test_calving_intervals_and_age_at_first_calving(herd, females):
    _, lact = _parts(herd)
    intervals = calving_intervals(lact)
    assert [(r.cow, r.days) for r in intervals.itertuples()] == [("A", 384)]
    afc = age_at_first_calving(herd.calvings, females)
    # A 2019-08-01 -> 2021-09-01: 366 + 365 + 31; C 2020-06-01 -> 2022-09-01: 730 + 92;
    # D 2020-07-01 -> 2022-10-01: 730 + 92; E 2021-01-01 -> 2022-12-28: 365 + 361;
    # F 2019-10-01 -> 2022-01-01: 366 + 365 + 92. B has no birth date; G, H have not calved.
    assert dict(zip(afc["cow"], afc["days"], strict=True)) == {
        "A": 762, "C": 822, "D": 822, "E": 726, "F": 823}
    assert afc.loc[afc["cow"] == "E", "months"].item() == pytest.approx(726 / 30.4375)


def test_breeding_summary_puts_it_together(herd, females):
    s = breeding_summary(herd, females, today=TODAY)
    assert len(s.cycles) == 17 and s.cycles["cycle_end"].iloc[-1].date() == date(2023, 1, 21)
    assert "C" not in set(s.status["cow"])  # sold
    assert set(s.first_calving["cow"]) == {"A", "C", "D", "E", "F"}  # left cows count too
    # Breakdowns count services from the first cycle's start (2023-01-22 - 357 days =
    # 2022-01-30): every service but A's of 2021-12-10.
    assert s.by_service_number["services"].sum() == 12
    assert not s.empty
