"""Fertility and longevity phenotypes derived from reproduction records, on hand-made cows.

Cow A calves 2021-01-01; AI 03-01 (served again 03-22: open), AI 03-22 (diagnosed pregnant
05-01, calves 2021-12-28, 281 days later: it conceived); no service after the second calving;
leaves 2023-06-30.
  days_open (lactation of 2021-01-01) = 2021-01-01 -> 03-22 = 31 + 28 + 21 = 80
  first_service_conception (2021-01-01) = the 03-01 service, open = 0
  (lactation of 2021-12-28: no service, so neither trait)
  productive_life = 2021-01-01 -> 2023-06-30 = 365 + 365 + 180 = 910, on 2023-06-30
Cow B calves 2022-02-01; AI 04-01, diagnosed pregnant 05-15 (no calving yet); still in the herd.
  days_open (2022-02-01) = 28 + 31 = 59; first_service_conception = 1; productive life censored
Cow C calves 2022-03-01; AI 05-01 with no news (outcome unknown); leaves 2022-09-01.
  no days_open, no first_service_conception (unknown is not 0)
  productive_life = 2022-03-01 -> 09-01 = 31 + 30 + 31 + 30 + 31 + 31 = 184, on 2022-09-01
Heifer D is served 2022-01-10 and leaves 2022-06-01 without calving: no phenotype at all.
"""

from __future__ import annotations

from datetime import date

from reprotech_core.records.derived import derive_phenotypes
from reprotech_core.reproduction.kpis import (
    CALVING_COLUMNS,
    DIAGNOSIS_COLUMNS,
    EXIT_COLUMNS,
    FLUSH_COLUMNS,
    IVF_COLUMNS,
    SERVICE_COLUMNS,
    ReproFrames,
    frame,
)


def herd() -> ReproFrames:
    services = frame([("A", "2021-03-01", "ai", "S1", "T1", "H1"),
                      ("A", "2021-03-22", "ai", "S1", "T1", "H1"),
                      ("B", "2022-04-01", "ai", "S2", "T1", "H1"),
                      ("C", "2022-05-01", "ai", "S2", "T2", "H1"),
                      ("D", "2022-01-10", "ai", "S1", "T2", "H1")], SERVICE_COLUMNS)
    diagnoses = frame([("A", "2021-05-01", "pregnant"), ("B", "2022-05-15", "pregnant")],
                      DIAGNOSIS_COLUMNS)
    calvings = frame([("A", "2021-01-01", "H1"), ("A", "2021-12-28", "H1"),
                      ("B", "2022-02-01", "H1"), ("C", "2022-03-01", "H1")], CALVING_COLUMNS)
    exits = frame([("A", "2023-06-30"), ("C", "2022-09-01"), ("D", "2022-06-01")], EXIT_COLUMNS)
    return ReproFrames(services, diagnoses, calvings, frame(None, FLUSH_COLUMNS),
                       frame(None, IVF_COLUMNS), exits)


def test_derived_phenotypes_of_hand_made_cows():
    got = {(r.cow, r.trait, r.recorded_on): r.value
           for r in derive_phenotypes(herd()).itertuples()}
    assert got == {
        ("A", "days_open", date(2021, 1, 1)): 80.0,
        ("A", "first_service_conception", date(2021, 1, 1)): 0.0,
        ("A", "productive_life", date(2023, 6, 30)): 910.0,
        ("B", "days_open", date(2022, 2, 1)): 59.0,
        ("B", "first_service_conception", date(2022, 2, 1)): 1.0,
        ("C", "productive_life", date(2022, 9, 1)): 184.0,
    }


def test_no_records_no_phenotypes():
    assert derive_phenotypes(ReproFrames.empty()).empty
