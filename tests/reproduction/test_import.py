"""Bulk import: all or nothing with a row-by-row report, clean rows on request, idempotent."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select

from data_models.animals import Animal
from data_models.reproduction import Calving, Insemination, PregnancyDiagnosis
from reprotech_core.reproduction import import_events

HEADER = ["event", "animal", "date", "bull", "service_type", "technician", "method", "result",
          "days_pregnant", "ease", "calf", "calf_sex"]


def write_csv(path: Path, rows: list[dict], header=HEADER) -> Path:
    with open(path, "w", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def clean_rows(farm) -> list[dict]:
    return [
        # The diagnosis comes first in the file: rows are judged in date order.
        {"event": "pregnancy_check", "animal": farm.cow(1), "date": "2023-02-20",
         "method": "ultrasound", "result": "pregnant", "days_pregnant": "41"},
        {"event": "insemination", "animal": farm.cow(1), "date": "2023-01-10",
         "bull": "R-AIBULL", "service_type": "heat", "technician": "T1"},
        {"event": "insemination", "animal": farm.cow(2), "date": "2023-01-12",
         "bull": farm.own_bull, "service_type": "timed", "technician": "T2"},
        {"event": "calving", "animal": farm.cow(1), "date": "2023-10-19", "ease": "2",
         "calf": f"{farm.code}-K1", "calf_sex": "F"},
    ]


def counts(db, system, farm):
    with db.session(system) as s:
        return tuple(s.scalar(select(func.count()).select_from(m).where(m.customer_id == farm.id))
                     for m in (Insemination, PregnancyDiagnosis, Calving))


def run(db, system, customer_of, farm, path, **kw):
    with db.session(system) as s:
        return import_events(s, customer_of(s, farm), path, today=date(2024, 1, 1), **kw)


def test_clean_file_imports_whole_and_reimport_changes_nothing(db, system, customer_of, farm,
                                                               tmp_path):
    path = write_csv(tmp_path / "events.csv", clean_rows(farm))
    report = run(db, system, customer_of, farm, path)
    assert report.ok and report.written and report.rows == 4
    assert report.imported == {"insemination": 2, "pregnancy_check": 1, "calving": 1}
    assert counts(db, system, farm) == (2, 1, 1)
    again = run(db, system, customer_of, farm, path)
    assert again.ok and again.imported == {} and again.present == 4
    assert counts(db, system, farm) == (2, 1, 1)
    with db.session(system) as s:
        calf = s.scalar(select(Animal).where(Animal.official_id == f"{farm.code}-K1"))
        assert calf.birth_date == date(2023, 10, 19)


def test_bad_file_is_reported_row_by_row_and_nothing_is_imported(db, system, customer_of, farm,
                                                                  tmp_path):
    rows = clean_rows(farm) + [
        {"event": "insemination", "animal": farm.cow(3), "date": "12/01/2023", "bull": "R-AIBULL"},
        {"event": "insemination", "animal": "GHOST-1", "date": "2023-01-15", "bull": "R-AIBULL"},
        {"event": "insemination", "animal": farm.cow(2), "date": "2023-01-12",
         "bull": farm.own_bull},
        {"event": "pregnancy_check", "animal": farm.cow(4), "date": "2023-03-01",
         "method": "ultrasound", "result": "open"},
        {"event": "weaning", "animal": farm.cow(4), "date": "2023-03-01"},
        {"event": "calving", "animal": farm.cow(5), "date": "2023-03-01", "ease": "7",
         "calf": "X", "calf_sex": "F"},
    ]
    report = run(db, system, customer_of, farm, write_csv(tmp_path / "bad.csv", rows))
    assert not report.ok and not report.written and report.imported == {}
    got = {(e.line, e.column, e.rule) for e in report.errors}
    assert {(6, "date", "import.value"), (7, "animal", "repro.animal_unknown"),
            (8, "animal", "import.duplicate_row"), (9, "date", "pregnancy.before_service"),
            (10, "event", "import.value"), (11, "ease", "repro.calving_ease"),
            (11, "date", "calving.before_conception")} == got
    messages = " | ".join(e.message for e in report.errors)
    assert ("line 6, column date: '12/01/2023' is written day-first or month-first (DD/MM/YYYY or "
            "MM/DD/YYYY)") in messages
    assert "line 8: the same service of" in messages and "is on line 4" in messages
    assert counts(db, system, farm) == (0, 0, 0)


def test_clean_rows_only_on_request(db, system, customer_of, farm, tmp_path):
    rows = clean_rows(farm) + [
        {"event": "insemination", "animal": "GHOST-2", "date": "2023-01-15", "bull": "R-AIBULL"}]
    report = run(db, system, customer_of, farm, write_csv(tmp_path / "mixed.csv", rows),
                 clean_rows_only=True)
    assert [e.line for e in report.errors] == [6] and report.written
    assert counts(db, system, farm) == (2, 1, 1)


def test_a_row_contradicting_a_stored_record_is_an_error(db, system, customer_of, farm, tmp_path):
    run(db, system, customer_of, farm, write_csv(tmp_path / "a.csv", clean_rows(farm)))
    rows = [{"event": "insemination", "animal": farm.cow(2), "date": "2023-01-12",
             "bull": "R-AIBULL"}]
    report = run(db, system, customer_of, farm, write_csv(tmp_path / "b.csv", rows))
    assert [e.rule for e in report.errors] == ["insemination.duplicate"]


def test_wrong_columns_are_refused_before_any_row(db, system, customer_of, farm, tmp_path):
    path = write_csv(tmp_path / "cols.csv", [{"event": "insemination", "animal": farm.cow(1),
                                              "colour": "red"}],
                     header=["event", "animal", "colour"])
    report = run(db, system, customer_of, farm, path)
    assert [(e.line, e.rule) for e in report.errors] == [(1, "import.columns")]
    assert "unknown column(s) colour; missing column(s) date" in report.errors[0].message


def test_excel_file(db, system, customer_of, farm, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["event", "animal", "date", "bull", "days_pregnant", "method", "result"])
    ws.append(["insemination", farm.cow(1), date(2023, 1, 10), "R-AIBULL", None, None, None])
    ws.append(["pregnancy_check", farm.cow(1), date(2023, 2, 20), None, 41, "Ultrasound",
               "Pregnant"])
    ws.append(["insemination", farm.cow(2), "2023-02-30", "R-AIBULL", None, None, None])
    wb.save(tmp_path / "events.xlsx")
    report = run(db, system, customer_of, farm, tmp_path / "events.xlsx")
    assert [(e.line, e.column) for e in report.errors] == [(4, "date")]
    assert "'2023-02-30' is not a calendar date" in report.errors[0].message
    report = run(db, system, customer_of, farm, tmp_path / "events.xlsx", clean_rows_only=True)
    assert report.imported == {"insemination": 1, "pregnancy_check": 1}
