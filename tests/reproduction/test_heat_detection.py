"""Heats seen in the heat-detection (submission) rate (docs/reproduction.md, "KPIs" and
"Breeding summary"), on hand-made cows; every number is worked out below. As of 2023-06-01,
waiting period 50 days, herd H1.

- A: calves 2023-01-01, eligible from 02-20; own cycles [02-20, 03-13), [03-13, 04-03),
  [04-03, 04-24). Heat seen 02-25 (not served); heat AI 03-15, found open 04-01; heat seen and
  served 04-05, diagnosed pregnant 05-10 (conceives in her 3rd cycle). Submitted 3 of 3.
- B: calves 2023-01-20, eligible from 03-11; cycles [03-11, 04-01), [04-01, 04-22),
  [04-22, 05-13) (the 4th ends 06-03, after as-of). Heat seen 04-10, never served.
  Submitted 1 of 3.
- C: calves 2022-12-01, eligible from 01-20; heat seen 01-10 (inside the waiting period: no
  cycle). Cycles [01-20, 02-10), [02-10, 03-03), [03-03, 03-24); sold open 03-30, so the
  cycle from 03-24 does not count. Timed AI 02-15, found open 03-20; heat seen 03-05.
  Submitted 2 of 3.
- D: a heifer seen in heat 03-01: heifers have no eligible cycle.

Herd: 9 eligible cycles, 6 submitted (heat-detection rate 2/3), 1 pregnant (21-day pregnancy
rate 1/9). Services alone would give 3/9: the three heats not served are what the farmer's
records add.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from reprotech_core.reproduction.bredsum import breeding_summary, cycle_table, cycle_totals
from reprotech_core.reproduction.kpis import (
    CALVING_COLUMNS,
    DIAGNOSIS_COLUMNS,
    EXIT_COLUMNS,
    FLUSH_COLUMNS,
    HEAT_COLUMNS,
    IVF_COLUMNS,
    SERVICE_COLUMNS,
    ReproFrames,
    conceptions_after_calvings,
    frame,
    herd_kpis_from,
    pregnancy_cycles,
    service_outcomes,
    submission_days,
)

AS_OF = date(2023, 6, 1)


@pytest.fixture
def herd() -> ReproFrames:
    services = frame([("A", "2023-03-15", "ai", "S1", "T1", "H1"),
                      ("A", "2023-04-05", "ai", "S1", "T1", "H1"),
                      ("C", "2023-02-15", "ai", "S2", "T1", "H1")], SERVICE_COLUMNS)
    diagnoses = frame([("A", "2023-04-01", "open"), ("A", "2023-05-10", "pregnant"),
                       ("C", "2023-03-20", "open")], DIAGNOSIS_COLUMNS)
    calvings = frame([("A", "2023-01-01", "H1"), ("B", "2023-01-20", "H1"),
                      ("C", "2022-12-01", "H1")], CALVING_COLUMNS)
    exits = frame([("C", "2023-03-30")], EXIT_COLUMNS)
    heats = frame([("A", "2023-02-25"), ("A", "2023-04-05"), ("B", "2023-04-10"),
                   ("C", "2023-01-10"), ("C", "2023-03-05"), ("D", "2023-03-01")],
                  HEAT_COLUMNS)
    return ReproFrames(services, diagnoses, calvings, frame(None, FLUSH_COLUMNS),
                       frame(None, IVF_COLUMNS), exits, heats)


def _cycles(herd: ReproFrames, heats: bool = True):
    out = service_outcomes(herd.services, herd.diagnoses, herd.calvings)
    lact = conceptions_after_calvings(out, herd.calvings, herd.exits)
    seen = herd.heats if heats else frame(None, HEAT_COLUMNS)
    return pregnancy_cycles(lact, as_of=pd.Timestamp(AS_OF),
                            submitted=submission_days(herd.services, seen))


def test_each_cows_cycles_submitted_by_a_service_or_a_heat_seen(herd):
    c = _cycles(herd)
    got = {cow: [(r.cycle_start.date().isoformat(), r.submitted, r.pregnant)
                 for r in g.itertuples()] for cow, g in c.groupby("cow")}
    assert got == {
        "A": [("2023-02-20", True, False), ("2023-03-13", True, False),
              ("2023-04-03", True, True)],
        "B": [("2023-03-11", False, False), ("2023-04-01", True, False),
              ("2023-04-22", False, False)],
        "C": [("2023-01-20", False, False), ("2023-02-10", True, False),
              ("2023-03-03", True, False)],
    }
    assert int(_cycles(herd, heats=False)["submitted"].sum()) == 3  # services only


def test_herd_kpis_count_heats_seen(herd):
    k = herd_kpis_from(herd, as_of=AS_OF)
    assert (k.eligible_cycles, k.submitted_cycles) == (9, 6)
    assert k.heat_detection_rate == pytest.approx(2 / 3)
    assert k.pregnancy_rate_21d == pytest.approx(1 / 9)
    no_heats = ReproFrames(herd.services, herd.diagnoses, herd.calvings, herd.flushes,
                           herd.ivf, herd.exits)
    assert herd_kpis_from(no_heats, as_of=AS_OF).heat_detection_rate == pytest.approx(3 / 9)


def test_period_counts_cycles_by_their_start(herd):
    # Cycles starting 03-10..06-01: A 03-13, 04-03 (both submitted); B 03-11, 04-01 (heat),
    # 04-22; none of C's: 5 cycles, 3 submitted.
    k = herd_kpis_from(herd, start=date(2023, 3, 10), end=AS_OF, as_of=AS_OF)
    assert (k.eligible_cycles, k.submitted_cycles, k.heat_detection_rate) == (5, 3, 0.6)


def test_empty_herd_has_no_heat_detection_rate():
    k = herd_kpis_from(ReproFrames.empty(), as_of=AS_OF)
    assert (k.heat_detection_rate, k.submitted_cycles) == (None, 0)


def test_cycle_table_counts_heats_not_served(herd):
    # Herd cycles [03-30, 04-20), [04-20, 05-11), [05-11, 06-01):
    # 1: A conceives 04-05 (bred, pregnant); B seen in heat 04-10, not served; C sold 03-30.
    # 2, 3: only B eligible, nothing recorded.
    out = service_outcomes(herd.services, herd.diagnoses, herd.calvings)
    lact = conceptions_after_calvings(out, herd.calvings, herd.exits)
    table = cycle_table(out, lact, as_of=AS_OF, cycles=3, heats=herd.heats)
    got = [(r.cycle_start.date().isoformat(), r.eligible, r.bred, r.heats, r.pregnant,
            r.submission_rate) for r in table.itertuples()]
    assert got == [("2023-03-30", 2, 1, 1, 1, 1.0), ("2023-04-20", 1, 0, 0, 0, 0.0),
                   ("2023-05-11", 1, 0, 0, 0, 0.0)]
    totals = cycle_totals(table)
    assert (totals["eligible"], totals["bred"], totals["heats"]) == (4, 1, 1)
    assert totals["submission_rate"] == pytest.approx(2 / 4)
    without = cycle_table(out, lact, as_of=AS_OF, cycles=3)
    assert list(without["heats"]) == [0, 0, 0] and without["submission_rate"].iloc[0] == 0.5


def test_breeding_summary_reads_the_frames_heats(herd):
    females = pd.DataFrame([(c, f"DE-{c}", None, "H1") for c in "ABCD"],
                           columns=["cow", "official_id", "birth_date", "herd"])
    s = breeding_summary(herd, females, today=AS_OF)
    assert int(s.cycles["heats"].sum()) >= 1
    assert int(s.cycles.loc[s.cycles["cycle_start"] == "2023-03-30", "heats"].iloc[0]) == 1
