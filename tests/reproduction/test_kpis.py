"""KPI definitions on a hand-computed herd (docs/reproduction.md states each definition).

Cow A calves 2022-01-01; AI 03-01 (open: served again 03-22), AI 03-22 (diagnosed pregnant,
calves 2022-12-28). Cow B calves 2022-01-10; AI 03-05 (diagnosed open), AI 04-12 (pregnant on
05-20, open on 07-01: a loss), AI 07-05 (no news: unknown). Cow C gets an embryo 2022-02-01,
pregnant on 03-15, still pending. Two flushes, two OPU/IVF sessions.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from reprotech_core.reproduction.kpis import (
    CALVING_COLUMNS,
    DIAGNOSIS_COLUMNS,
    EXIT_COLUMNS,
    FLUSH_COLUMNS,
    IVF_COLUMNS,
    SERVICE_COLUMNS,
    ReproFrames,
    frame,
    herd_kpis_from,
    kpi_breakdown_from,
    service_outcomes,
)

AS_OF = date(2023, 1, 31)


@pytest.fixture
def herd() -> ReproFrames:
    services = frame([
        ("A", "2022-03-01", "ai", "S1", "T1", "H1"), ("A", "2022-03-22", "ai", "S2", "T2", "H1"),
        ("B", "2022-03-05", "ai", "S1", "T1", "H1"), ("B", "2022-04-12", "ai", "S1", "T1", "H1"),
        ("B", "2022-07-05", "ai", "S1", "T2", "H1"), ("C", "2022-02-01", "et", "S3", "T1", "H2"),
    ], SERVICE_COLUMNS)
    diagnoses = frame([("A", "2022-04-30", "pregnant"), ("B", "2022-04-10", "open"),
                       ("B", "2022-05-20", "pregnant"), ("B", "2022-07-01", "open"),
                       ("C", "2022-03-15", "pregnant")], DIAGNOSIS_COLUMNS)
    calvings = frame([("A", "2022-01-01", "H1"), ("A", "2022-12-28", "H1"),
                      ("B", "2022-01-10", "H1")], CALVING_COLUMNS)
    flushes = frame([("2022-05-01", "D1", "S1", "H1", 10, 6),
                     ("2022-06-01", "D2", "S2", "H1", 4, 2)], FLUSH_COLUMNS)
    ivf = frame([("2022-05-10", "D1", "S1", "H1", 20, 15, 6),
                 ("2022-05-20", "D2", "S1", "H2", 10, 6, 3)], IVF_COLUMNS)
    return ReproFrames(services, diagnoses, calvings, flushes, ivf)


def test_service_outcomes(herd):
    out = service_outcomes(herd.services, herd.diagnoses, herd.calvings)
    got = {(r.cow, r.date.strftime("%m-%d")): (r.outcome, r.calved, r.confirmed, r.lost)
           for r in out.itertuples()}
    assert got == {
        ("A", "03-01"): ("open", False, False, None),
        ("A", "03-22"): ("pregnant", True, True, False),
        ("B", "03-05"): ("open", False, False, None),
        ("B", "04-12"): ("pregnant", False, True, True),
        ("B", "07-05"): ("unknown", False, False, None),
        ("C", "02-01"): ("pregnant", False, True, None),
    }


@pytest.mark.parametrize(("table", "record"), [("services", "service"),
                                               ("diagnoses", "diagnosis"),
                                               ("calvings", "calving")])
def test_a_record_without_a_date_is_refused_by_name(herd, table, record):
    """The schema never stores one (``NOT NULL``); a frame built elsewhere is told, not
    counted as an open cow."""
    frames = {"services": herd.services.copy(), "diagnoses": herd.diagnoses.copy(),
              "calvings": herd.calvings.copy()}
    frames[table].loc[1, "date"] = pd.NaT
    with pytest.raises(ValueError, match=f"a {record} without a date \\(1 rows\\)"):
        service_outcomes(frames["services"], frames["diagnoses"], frames["calvings"])


def test_cows_are_grouped_whatever_the_row_order(herd):
    """Outcomes are decided per cow over her records in date order: shuffling the rows of
    every table changes nothing."""
    want = service_outcomes(herd.services, herd.diagnoses, herd.calvings)
    shuffled = [t.sample(frac=1, random_state=3) for t in
                (herd.services, herd.diagnoses, herd.calvings)]
    pd.testing.assert_frame_equal(service_outcomes(*shuffled), want)


def test_herd_kpis(herd):
    k = herd_kpis_from(herd, as_of=AS_OF)
    assert (k.services, k.conceptions) == (6, 3)
    assert k.conception_rate == pytest.approx(3 / 5)
    assert k.services_per_conception == pytest.approx(5 / 3)
    # A: cycles from 02-20 and 03-13 (conceived 03-22); B: from 03-01, 03-22, 04-12 (conceived).
    assert (k.eligible_cycles, k.pregnancy_rate_21d) == (5, pytest.approx(2 / 5))
    assert k.days_open == pytest.approx((80 + 92) / 2)
    assert k.calving_interval == pytest.approx(361)
    assert k.pregnancy_loss == pytest.approx(1 / 2)  # A calved, B lost, C pending
    assert (k.flushes, k.embryos_per_flush, k.transferable_embryos_per_flush) == (2, 7.0, 4.0)
    assert (k.ivf_sessions, k.blastocyst_rate) == (2, pytest.approx(9 / 30))
    assert (k.transfers, k.pregnancies_per_transfer) == (1, 1.0)


def test_a_cow_that_left_is_no_longer_eligible(herd):
    """B never conceives after her loss; without an exit her cycles run on to as_of."""
    open_to_as_of = herd_kpis_from(herd, as_of=date(2022, 9, 1))
    # B: cycles from 03-01 … (conceived 04-12: 3 cycles), then served again 07-05 without news
    # — her lactation's conception is 04-12 (the lost one); only that counts. Leaving before
    # the end changes nothing for a conceived cow, but cuts an open cow's time:
    assert (open_to_as_of.eligible_cycles, open_to_as_of.pregnancy_rate_21d) == (5, 0.4)
    lone = ReproFrames(
        frame([("D", "2022-03-01", "ai", "S1", "T1", "H1")], SERVICE_COLUMNS),
        frame([("D", "2022-04-05", "open")], DIAGNOSIS_COLUMNS),
        frame([("D", "2022-01-01", "H1")], CALVING_COLUMNS),
        frame(None, FLUSH_COLUMNS), frame(None, IVF_COLUMNS))
    # eligible from 02-20: cycles 02-20, 03-13, 04-03, 04-24 … to 08-31 (as_of 09-01): 9 cycles
    assert herd_kpis_from(lone, as_of=date(2022, 9, 1)).eligible_cycles == 9
    left = ReproFrames(lone.services, lone.diagnoses, lone.calvings, lone.flushes, lone.ivf,
                       frame([("D", "2022-05-10")], EXIT_COLUMNS))
    # sold 05-10: only the cycles that ended by then (02-20, 03-13, 04-03 … ends 04-24) count
    k = herd_kpis_from(left, as_of=date(2022, 9, 1))
    assert (k.eligible_cycles, k.pregnancy_rate_21d) == (3, 0.0)
    assert kpi_breakdown_from(left, "herd", as_of=date(2022, 9, 1)).set_index("herd").loc[
        "H1", "eligible_cycles"] == 3


def test_period_selects_records_by_their_own_dates(herd):
    k = herd_kpis_from(herd, start=date(2022, 3, 1), end=date(2022, 3, 31), as_of=AS_OF)
    assert (k.services, k.conception_rate) == (3, pytest.approx(1 / 3))
    assert k.days_open == 80  # A conceived 2022-03-22
    assert (k.flushes, k.embryos_per_flush, k.calving_interval) == (0, None, None)


def test_empty_herd_has_no_rates():
    k = herd_kpis_from(ReproFrames.empty(), as_of=AS_OF)
    assert k.services == 0 and k.conception_rate is None and k.pregnancy_rate_21d is None


def test_breakdown_by_sire_and_technician(herd):
    sire = kpi_breakdown_from(herd, "sire", as_of=AS_OF).set_index("sire")
    assert sire.loc["S1", "services"] == 4
    assert sire.loc["S1", "conception_rate"] == pytest.approx(1 / 3)
    assert sire.loc["S1", "services_per_conception"] == pytest.approx(3)
    assert sire.loc["S3", "pregnancies_per_transfer"] == 1.0
    tech = kpi_breakdown_from(herd, "technician", as_of=AS_OF).set_index("technician")
    assert tech["services"].to_dict() == {"T1": 4, "T2": 2}
    assert tech["conception_rate"].to_dict() == pytest.approx({"T1": 0.5, "T2": 1.0})


def test_breakdown_by_month_and_herd(herd):
    month = kpi_breakdown_from(herd, "month", as_of=AS_OF).set_index("month")
    assert month.loc["2022-03", "conception_rate"] == pytest.approx(1 / 3)
    assert month.loc["2022-04", "conception_rate"] == 1.0
    assert pd.isna(month.loc["2022-07", "conception_rate"])  # only an unknown outcome
    assert month.loc["2022-05", "blastocyst_rate"] == pytest.approx(9 / 30)
    assert month.loc["2022-12", "calving_interval"] == 361
    herds = kpi_breakdown_from(herd, "herd", as_of=AS_OF).set_index("herd")
    assert herds.loc["H1", "services"] == 5 and herds.loc["H2", "transfers"] == 1
    assert herds.loc["H2", "blastocyst_rate"] == pytest.approx(3 / 10)
    with pytest.raises(ValueError, match="one of herd, month"):
        kpi_breakdown_from(herd, "moon")
