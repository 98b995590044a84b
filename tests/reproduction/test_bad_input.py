"""Issue #17's bad input through the real imports on PostgreSQL: every rule named with file,
line and column, and a refused file leaves the tenant exactly as it was (row counts and
checksums of the tables an import writes, and the audit log: tests/support.unchanged).

The rules themselves are tested without a database in tests/unit/test_cell_dates.py and
tests/unit/test_table_bad_input.py; here each reaches the report of the performance-records
and breeding-event imports and writes nothing."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from reprotech_core.records import performance_import
from reprotech_core.records.performance_import import import_records
from reprotech_core.reproduction import import_events
from reprotech_core.table_files import TableError
from reprotech_core.uploads import UploadRefused
from tests.support import unchanged

TODAY = date(2024, 6, 1)
WRITTEN = ("phenotypes", "inseminations", "pregnancy_diagnoses", "calvings", "animals")
LACT = ["animal", "lactation", "calving_date", "milk_kg", "fat_kg", "protein_kg"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def write_xlsx(path: Path, rows: list[list], merge: str | None = None) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    if merge:
        book.active.merge_cells(merge)
    book.save(path)
    return path


def records(db, system, customer_of, farm, path, **kw):
    with db.session(system) as s:
        return import_records(s, customer_of(s, farm), path, today=TODAY, **kw)


def events(db, system, customer_of, farm, path):
    with db.session(system) as s:
        return import_events(s, customer_of(s, farm), path, today=TODAY)


def problems(report) -> list[tuple]:
    return [(e.line, e.column, e.rule) for e in report.errors]


# -- dates ---------------------------------------------------------------------------------------
def test_a_records_file_dated_wholly_day_first_or_month_first_is_refused_once(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    path = write_csv(tmp_path / "lact.csv", LACT, [
        [farm.cow(1), 1, "01/03/2022", 8200, 330, 280],
        [farm.cow(2), 1, "20/05/2022", 7600, 300, 250],
        [farm.cow(3), 1, "04/06/2022", 7900, 310, 260]])
    with unchanged(admin_conninfo, WRITTEN):
        report = records(db, system, customer_of, farm, path)
    assert not report.written and problems(report) == [(2, "calving_date", "records.date_format")]
    assert report.errors[0].message.startswith(
        "line 2, column calving_date: every date of this column is written in a local form "
        "(the first, '01/03/2022', day-first or month-first (DD/MM/YYYY or MM/DD/YYYY))")
    assert "write dates as YYYY-MM-DD" in report.errors[0].message


def test_one_local_date_among_iso_dates_is_refused_at_its_row_with_its_form(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    path = write_csv(tmp_path / "health.csv", ["animal", "date", "event"], [
        [farm.cow(1), "2023-01-05", "lameness"], [farm.cow(2), "14.03.2023", "lameness"]])
    with unchanged(admin_conninfo, WRITTEN):
        report = records(db, system, customer_of, farm, path)
    assert problems(report) == [(3, "date", "records.date_format")]
    assert "'14.03.2023' is written day-first (DD.MM.YYYY)" in report.errors[0].message


def test_excel_date_cells_are_dates_and_a_serial_number_is_not(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    serial = write_xlsx(tmp_path / "serial.xlsx", [LACT, [farm.cow(1), 1, 44621, 8200, 330,
                                                          280]])
    with unchanged(admin_conninfo, WRITTEN):
        report = records(db, system, customer_of, farm, serial)
    assert problems(report) == [(2, "calving_date", "records.date_format")]
    assert "44621 is a number, not a date (an Excel date serial?" in report.errors[0].message
    cells = write_xlsx(tmp_path / "cells.xlsx", [LACT, [farm.cow(1), 1, datetime(2022, 3, 1),
                                                        8200, 330, 280]])
    report = records(db, system, customer_of, farm, cells)
    assert report.ok and report.written
    assert {j.record.recorded_on for j in report.judged} == {date(2022, 3, 1)}


def test_a_breeding_events_file_dated_wholly_in_a_local_form_is_refused_once(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    path = write_csv(tmp_path / "events.csv", ["event", "animal", "date", "bull"], [
        ["insemination", farm.cow(1), "3.1.2024", farm.own_bull],
        ["insemination", farm.cow(2), "4.1.2024", farm.own_bull]])
    with unchanged(admin_conninfo, WRITTEN):
        report = events(db, system, customer_of, farm, path)
    assert problems(report) == [(2, "date", "import.value")]
    assert "every date of this column" in report.errors[0].message


# -- the table reader's rules, through the records import ----------------------------------------
def semicolon(path: Path, farm) -> Path:
    path.write_text(f"animal;date;event\n{farm.cow(1)};2023-01-05;lameness\n")
    return path


def title_row(path: Path, farm) -> Path:
    return write_xlsx(path, [["Health events 2023"], ["animal", "date", "event"],
                             [farm.cow(1), "2023-01-05", "lameness"]], merge="A1:C1")


def two_row_header(path: Path, farm) -> Path:
    return write_xlsx(path, [["Cow", None, "Health"], ["animal", "date", "event"],
                             [farm.cow(1), "2023-01-05", "lameness"]], merge="A1:B1")


def uncalculated(path: Path, farm) -> Path:
    return write_xlsx(path, [["animal", "trait", "value", "date"],
                             [farm.cow(1), "body_condition", 3.5, "2023-01-05"],
                             [farm.cow(2), "body_condition", "=C2-0.5", "2023-01-05"]])


@pytest.mark.parametrize(("make", "name", "where"), [
    (semicolon, "semi.csv", ("table.delimiter", 1, None)),
    (title_row, "title.xlsx", ("table.title_row", 1, 1)),
    (two_row_header, "two.xlsx", ("table.header_rows", 1, 2)),
    (uncalculated, "formula.xlsx", ("table.formula", 3, "value")),
], ids=["semicolons", "title-row", "two-row-header", "uncalculated-formula"])
def test_a_file_the_table_reader_refuses_writes_nothing(db, system, customer_of, farm, tmp_path,
                                                        admin_conninfo, make, name, where):
    path = make(tmp_path / name, farm)
    with unchanged(admin_conninfo, WRITTEN), pytest.raises(TableError) as info:
        records(db, system, customer_of, farm, path)
    assert (info.value.rule, info.value.line, info.value.column) == where
    assert info.value.file == name


def test_unicode_text_from_excel_is_read_and_a_decimal_comma_never_misread(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    """Excel's "Unicode text" (UTF-16, tab-separated) is read; '9350,5' from a decimal-comma
    locale is refused by the number rule, not read as 9350 or 93505."""
    comma = tmp_path / "comma.txt"
    comma.write_bytes(("\t".join(LACT) + f"\r\n{farm.cow(1)}\t1\t2022-03-01\t9350,5\t330\t280\r\n"
                       ).encode("utf-16"))
    with unchanged(admin_conninfo, WRITTEN):
        report = records(db, system, customer_of, farm, comma)
    assert problems(report) == [(2, "milk_kg", "records.number")]
    assert "'9350,5' is not a number" in report.errors[0].message
    point = tmp_path / "point.txt"
    point.write_bytes(("\t".join(LACT) + f"\r\n{farm.cow(1)}\t1\t2022-03-01\t9350.5\t330\t280\r\n"
                       ).encode("utf-16"))
    report = records(db, system, customer_of, farm, point)
    assert report.ok and report.written and report.summary()["new"] == 3


# -- size ----------------------------------------------------------------------------------------
def test_a_200_mb_file_is_refused_by_its_size_and_nothing_is_written(
        db, system, customer_of, farm, tmp_path, admin_conninfo, pg_settings, monkeypatch):
    """A sparse 200 MB file (nothing of it on disk) against the import limit upload_max_mb and
    the page's limit upload_web_max_mb (default 20 MiB)."""
    path = write_csv(tmp_path / "big.csv", LACT, [[farm.cow(1), 1, "2022-03-01", 8200, 330,
                                                    280]])
    os.truncate(path, 200 * 2**20)
    monkeypatch.setattr(performance_import, "get_settings",
                        lambda: pg_settings.model_copy(update={"upload_max_mb": 100}))
    with unchanged(admin_conninfo, WRITTEN):
        with pytest.raises(UploadRefused) as by_setting:
            records(db, system, customer_of, farm, path)
        with pytest.raises(UploadRefused) as by_page:
            records(db, system, customer_of, farm, path,
                    max_bytes=pg_settings.web_upload_max_bytes)
    assert by_setting.value.rule == by_page.value.rule == "upload.too_large"
    assert str(by_setting.value) == ("big.csv: 200.0 MiB is larger than the upload limit of "
                                     "100 MiB (setting upload_max_mb)")
    assert "larger than the upload limit of 20 MiB" in str(by_page.value)
