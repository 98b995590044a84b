"""Exits from the herd (sold, slaughter, died): accepted once, refused when they contradict the
records (before birth, before a recorded event), and no event of the animal after its exit —
through reprotech_core, a bulk file, and raw SQL (the database's rule triggers)."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import func, select, text

from data_models.reproduction import AnimalExit
from reprotech_core.errors import RuleViolation
from reprotech_core.reproduction import (
    CalvingEntry,
    DiagnosisEntry,
    ExitEntry,
    FlushEntry,
    InseminationEntry,
    RecordRefused,
    import_events,
    record_calving,
    record_diagnosis,
    record_exit,
    record_flush,
    record_insemination,
)
from tests.reproduction.test_rules import put, refused

D0 = date(2023, 3, 1)


def exits(db, system, farm) -> int:
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(AnimalExit)
                        .where(AnimalExit.customer_id == farm.id))


def test_an_exit_is_recorded_once(db, system, customer_of, farm):
    e = ExitEntry(farm.cow(1), D0, "slaughter", "infertility")
    assert isinstance(put(db, system, customer_of, farm, record_exit, e), int)
    assert put(db, system, customer_of, farm, record_exit, e) is None
    assert exits(db, system, farm) == 1
    refused(db, system, customer_of, farm, record_exit,
            ExitEntry(farm.cow(1), date(2023, 4, 1), "sold"), "exit.duplicate",
            f"exit of {farm.cow(1)} on 2023-04-01: the animal already left the herd on "
            "2023-03-01 (slaughter)")


@pytest.mark.parametrize(("entry", "rule", "words"), [
    (lambda f: ExitEntry(f.cow(1), D0, "stolen"), "repro.exit_reason",
     "exit reason 'stolen' is not one of sold, slaughter, died"),
    (lambda f: ExitEntry(f.cow(1), date(2019, 1, 1), "died"), "repro.before_birth",
     "the animal was born 2020-01-01"),
    (lambda f: ExitEntry("NOBODY", D0, "sold"), "repro.animal_unknown",
     "'NOBODY' is not an animal of this customer"),
    (lambda f: ExitEntry(f.ref_bull, D0, "sold"), "repro.animal_unknown",
     "'R-AIBULL' is not an animal of this customer"),
])
def test_a_bad_exit_is_refused(db, system, customer_of, farm, entry, rule, words):
    refused(db, system, customer_of, farm, record_exit, entry(farm), rule, words)
    assert exits(db, system, farm) == 0


def test_no_event_after_an_exit_and_no_exit_before_an_event(db, system, customer_of, farm):
    cow = farm.cow(1)
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(cow, farm.ref_bull, date(2023, 1, 10)))
    refused(db, system, customer_of, farm, record_exit, ExitEntry(cow, date(2023, 1, 5), "sold"),
            "exit.events_after", f"exit of {cow} on 2023-01-05: the animal has a insemination "
            "recorded on 2023-01-10, after it left")
    # the same day is fine: checked open, then sold
    put(db, system, customer_of, farm, record_diagnosis,
        DiagnosisEntry(cow, date(2023, 2, 15), "ultrasound", "open"))
    put(db, system, customer_of, farm, record_exit, ExitEntry(cow, date(2023, 2, 15), "sold"))
    for fn, entry in (
            (record_insemination, InseminationEntry(cow, farm.ref_bull, date(2023, 3, 1))),
            (record_diagnosis, DiagnosisEntry(cow, date(2023, 3, 1), "ultrasound", "open")),
            (record_calving, CalvingEntry(cow, date(2023, 10, 20), 1, "F", stillborn=True)),
            (record_flush, FlushEntry(cow, farm.ref_bull, date(2023, 3, 1)))):
        err = refused(db, system, customer_of, farm, fn, entry, "repro.after_exit",
                      f"{cow} left the herd on 2023-02-15 (sold)")
        assert err.problems[0].column in ("animal", "donor")
    # a bull's semen outlives him: an own bull that left may still be used
    put(db, system, customer_of, farm, record_exit, ExitEntry(farm.own_bull, D0, "slaughter"))
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(2), farm.own_bull, date(2023, 6, 1)))


def test_a_calf_registered_by_a_calving_can_leave_in_the_same_file(db, system, customer_of,
                                                                   farm, tmp_path):
    calf = f"{farm.code}-K9"
    rows = [
        {"event": "insemination", "animal": farm.cow(1), "date": "2023-01-10",
         "bull": "R-AIBULL"},
        {"event": "calving", "animal": farm.cow(1), "date": "2023-10-19", "ease": "1",
         "calf": calf, "calf_sex": "M"},
        {"event": "exit", "animal": calf, "date": "2023-11-02", "reason": "sold",
         "cause": "bull calf"},
    ]
    path = tmp_path / "exits.csv"
    with open(path, "w", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=["event", "animal", "date", "bull", "ease", "calf",
                                               "calf_sex", "reason", "cause"])
        w.writeheader()
        w.writerows(rows)
    with db.session(system) as s:
        report = import_events(s, customer_of(s, farm), path, today=date(2024, 1, 1))
    assert report.ok and report.imported == {"insemination": 1, "calving": 1, "exit": 1}
    with db.session(system) as s:
        row = s.execute(text("SELECT x.exit_date, x.reason, x.cause FROM core.animal_exits x "
                             "JOIN core.animals a ON a.id = x.animal_id "
                             "WHERE a.official_id = :c"), {"c": calf}).one()
    assert tuple(row) == (date(2023, 11, 2), "sold", "bull calf")
    with db.session(system) as s:  # re-import: nothing new
        again = import_events(s, customer_of(s, farm), path, today=date(2024, 1, 1))
    assert again.ok and again.present == 3 and exits(db, system, farm) == 1


def test_the_database_keeps_exits_and_events_in_order(db, system, farm):
    def raw(sql, **params):
        with db.session(system) as s:
            s.execute(text(sql), {"c": farm.id, **params})

    exit_sql = ("INSERT INTO core.animal_exits (customer_id, animal_id, exit_date, reason) "
                "SELECT :c, id, :d, 'died' FROM core.animals WHERE official_id = :a")
    ai_sql = ("INSERT INTO core.inseminations (customer_id, cow_id, bull_id, service_date) "
              "SELECT :c, cow.id, bull.id, :d FROM core.animals cow, core.animals bull "
              "WHERE cow.official_id = :a AND bull.official_id = 'R-AIBULL'")
    raw(ai_sql, a=farm.cow(1), d=date(2023, 1, 10))
    with pytest.raises(RuleViolation) as err:
        raw(exit_sql, a=farm.cow(1), d=date(2023, 1, 9))
    assert err.value.rule == "exit.events_after"
    assert "insemination recorded on 2023-01-10" in str(err.value)
    with pytest.raises(RuleViolation) as err:
        raw(exit_sql, a=farm.cow(1), d=date(2019, 1, 9))
    assert err.value.rule == "repro.before_birth"
    raw(exit_sql, a=farm.cow(1), d=date(2023, 2, 1))
    with pytest.raises(RuleViolation) as err:
        raw(ai_sql, a=farm.cow(1), d=date(2023, 3, 1))
    assert err.value.rule == "repro.after_exit"
    assert f"insemination of {farm.cow(1)} on 2023-03-01: {farm.cow(1)} left the herd on " \
           "2023-02-01 (died)" in str(err.value)
    with pytest.raises(RuleViolation) as err:
        raw("UPDATE core.animal_exits SET exit_date = '2023-01-01' WHERE customer_id = :c")
    assert err.value.rule == "exit.events_after"


def test_exits_are_audited_and_private(db, system, farm, reference_bull):
    from tests.reproduction.conftest import make_farm
    with db.session(system) as s:
        from data_models.tenancy import Customer
        customer = s.scalar(select(Customer).where(Customer.id == farm.id))
        record_exit(s, customer, ExitEntry(farm.cow(3), D0, "sold"))
    with db.session(system) as s:
        audited = s.scalar(text("SELECT count(*) FROM audit.log WHERE table_name = "
                                "'core.animal_exits' AND customer_id = :c"), {"c": farm.id})
    assert audited == 1
    other = make_farm(db, system, reference_bull)
    from reprotech_core import accounts
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(f"{other.code}-u", "Other", "customer_user",
                                                 other.code))
    with db.session(db.identity(f"{other.code}-u")) as s:
        assert s.scalar(select(func.count()).select_from(AnimalExit)) == 0


def test_a_refused_exit_writes_nothing(db, system, customer_of, farm):
    with pytest.raises(RecordRefused):
        put(db, system, customer_of, farm, record_exit, ExitEntry(farm.cow(1), D0, "gone"))
    assert exits(db, system, farm) == 0


def test_a_calf_of_the_same_file_gets_its_own_records_in_a_later_file(db, system, customer_of,
                                                                      farm, tmp_path):
    """Her calving registers her when the file is written; her own insemination in the same
    file is named as such instead of failing at the write (or being dropped)."""
    calf = f"{farm.code}-K7"
    header = ["event", "animal", "date", "bull", "ease", "calf", "calf_sex"]
    rows = [
        {"event": "insemination", "animal": farm.cow(1), "date": "2021-01-10",
         "bull": "R-AIBULL"},
        {"event": "calving", "animal": farm.cow(1), "date": "2021-10-19", "ease": "1",
         "calf": calf, "calf_sex": "F"},
        {"event": "insemination", "animal": calf, "date": "2023-01-10", "bull": "R-AIBULL"},
    ]
    path = tmp_path / "calf.csv"
    with open(path, "w", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    with db.session(system) as s:
        report = import_events(s, customer_of(s, farm), path, today=date(2024, 1, 1))
    assert not report.written
    assert [(e.line, e.rule) for e in report.errors] == [(4, "repro.animal_pending")]
    assert f"cow {calf} is registered by a calving in the same batch" in report.errors[0].message
    with db.session(system) as s:  # the clean rows first, then the rest: all stored
        first = import_events(s, customer_of(s, farm), path, today=date(2024, 1, 1),
                              clean_rows_only=True)
    assert first.imported == {"insemination": 1, "calving": 1}
    with db.session(system) as s:
        second = import_events(s, customer_of(s, farm), path, today=date(2024, 1, 1))
    assert second.ok and second.imported == {"insemination": 1} and second.present == 2
