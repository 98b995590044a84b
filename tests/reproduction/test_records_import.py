"""Performance records import (lactations, health events, traits): all or nothing, every rule
named with file, line and column, idempotent re-import, corrections through the audited path,
and a refused file leaves the tenant exactly as it was."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from openpyxl import Workbook
from sqlalchemy import select, text

from data_models.evaluation import Phenotype
from reprotech_core.records.derived import write_derived
from reprotech_core.records.performance_import import import_records, kind_of, write_template
from reprotech_core.records.traits import RECORD_TRAITS
from reprotech_core.reproduction import import_events
from reprotech_core.table_files import TableError
from reprotech_core.uploads import UploadRefused

TODAY = date(2024, 6, 1)
LACT = ["animal", "lactation", "calving_date", "milk_kg", "fat_kg", "protein_kg", "herd"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def lactations(farm) -> list[list]:
    h = farm.herds[0]
    return [[farm.cow(1), 1, "2022-03-01", 8200, 330, 280, h],
            [farm.cow(1), 2, "2023-04-10", 9400.5, 380, 320, h],
            [farm.cow(2), 1, "2022-05-20", 7600, "", "", ""]]


def run(db, who, customer_of, farm, path, **kw):
    with db.session(who) as s:
        return import_records(s, customer_of(s, farm), path, today=TODAY, **kw)


def stored(db, system, farm) -> dict:
    with db.session(system) as s:
        return {(t, d): v for t, d, v in s.execute(
            select(Phenotype.trait, Phenotype.recorded_on, Phenotype.value)
            .where(Phenotype.customer_id == farm.id))}


def snapshot(admin_conninfo: str, farm) -> tuple:
    """The farm's phenotypes (count and digest) and the audit log's length, read as the
    administrative login, which sees every row."""
    with psycopg.connect(admin_conninfo) as conn:
        return (conn.execute("SELECT count(*), md5(coalesce(string_agg(p::text, '|' ORDER BY "
                             "p.id), '')) FROM core.phenotypes p WHERE customer_id = %s",
                             (farm.id,)).fetchone(),
                conn.execute("SELECT count(*) FROM audit.log").fetchone())


def test_trait_codes_are_in_the_schema(db, system):
    with db.session(system) as s:
        codes = set(s.scalars(text("SELECT code FROM core.traits")))
    assert set(RECORD_TRAITS) <= codes


def test_lactations_import_reimport_and_correction(db, system, customer_of, farm, tmp_path,
                                                   admin_conninfo):
    path = write_csv(tmp_path / "lact.csv", LACT, lactations(farm))
    dry = run(db, system, customer_of, farm, path, dry_run=True)
    assert dry.ok and not dry.written and dry.summary()["new"] == 7 and stored(db, system,
                                                                                farm) == {}
    report = run(db, system, customer_of, farm, path)
    assert report.ok and report.written and report.kind == "lactations" and report.rows == 3
    assert report.summary() == {"new": 7, "changed": 0, "unchanged": 0, "refused": 0}
    got = stored(db, system, farm)
    assert got[("milk_305d", date(2023, 4, 10))] == 9400.5
    assert got[("protein_305d", date(2022, 3, 1))] == 280
    assert ("fat_305d", date(2022, 5, 20)) not in got  # left blank: not recorded
    before = snapshot(admin_conninfo, farm)
    again = run(db, system, customer_of, farm, path)
    assert again.summary() == {"new": 0, "changed": 0, "unchanged": 7, "refused": 0}
    assert again.ok and not again.written
    assert snapshot(admin_conninfo, farm) == before  # nothing written, nothing audited
    rows = lactations(farm)
    rows[1][3] = 9450
    fixed = run(db, system, customer_of, farm, write_csv(tmp_path / "fixed.csv", LACT, rows))
    assert fixed.summary() == {"new": 0, "changed": 1, "unchanged": 6, "refused": 0}
    frame = fixed.to_frame()
    change = frame[frame["status"] == "changed"].iloc[0]
    assert (change["line"], change["trait"], change["previous"], change["value"]) == (
        3, "milk_305d", 9400.5, 9450)
    assert stored(db, system, farm)[("milk_305d", date(2023, 4, 10))] == 9450
    with psycopg.connect(admin_conninfo) as conn:
        audited = conn.execute("SELECT count(*) FROM audit.log WHERE action = 'UPDATE' "
                               "AND table_name = 'core.phenotypes'").fetchone()[0]
    assert audited >= 1


def test_excel_health_and_traits(db, system, customer_of, farm, tmp_path):
    wb = Workbook()
    wb.active.append(["animal", "date", "event"])
    wb.active.append([farm.cow(3), datetime(2023, 5, 2), "clinical_mastitis"])
    wb.active.append([farm.cow(3), "2023-07-01", "Lameness"])
    wb.save(tmp_path / "health.xlsx")
    report = run(db, system, customer_of, farm, tmp_path / "health.xlsx")
    assert report.ok and report.kind == "health" and report.summary()["new"] == 2
    traits = write_csv(tmp_path / "traits.csv", ["animal", "trait", "value", "date"],
                       [[farm.cow(4), "milk_production", 9100, "2023-09-01"]])
    assert run(db, system, customer_of, farm, traits).summary()["new"] == 1
    got = stored(db, system, farm)
    assert got[("clinical_mastitis", date(2023, 5, 2))] == 1.0
    assert got[("lameness", date(2023, 7, 1))] == 1.0
    assert got[("milk_production", date(2023, 9, 1))] == 9100


def test_every_rule_is_named_with_line_and_column_and_nothing_is_written(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    h = farm.herds[0]
    rows = lactations(farm) + [
        ["GHOST-1", 1, "2022-03-01", 8000, 300, 250, ""],             # 5 unknown_animal
        [farm.cow(3), 1, "2019-05-01", 8000, 300, 250, ""],           # 6 date_order
        [farm.cow(4), 1, "2022-03-01", 90000, 300, 250, ""],          # 7 value_range
        [farm.cow(1), 1, "2022-03-01", 8200, 330, 280, h],             # 8 duplicate of line 2
        [farm.cow(5), 1, "14/03/2022", 8000, 300, 250, ""],           # 9 date_format
        [farm.cow(5), 2, "2023-03-01", "9.350,5", 300, 250, ""],      # 10 number
        [farm.own_bull, 1, "2022-03-01", 8000, 300, 250, ""],         # 11 sex
        [farm.cow(6), 1, "2025-01-01", 8000, 300, 250, ""],           # 12 future_date
        [farm.cow(6), 2, "2023-01-01", 8000, 300, 250, farm.herds[1]],  # 13 herd
        ["", 1, "2023-01-01", 8000, 300, 250, ""],                    # 14 empty
        [farm.cow(6), 0, "2023-02-01", 8000, 300, 250, ""],           # 15 value_range (lact.)
        [f" {farm.cow(6).lower()} ", 3, "2023-09-01", 8000, 300, 250, ""],  # 16 lower case
    ]
    path = write_csv(tmp_path / "bad.csv", LACT, rows)
    before = snapshot(admin_conninfo, farm)
    report = run(db, system, customer_of, farm, path)
    assert not report.ok and not report.written
    got = {(e.line, e.column, e.rule) for e in report.errors}
    assert got == {
        (5, "animal", "records.unknown_animal"), (6, "calving_date", "records.date_order"),
        (7, "milk_kg", "records.value_range"), (8, "animal", "records.duplicate"),
        (9, "calving_date", "records.date_format"), (10, "milk_kg", "records.number"),
        (11, "animal", "records.sex"), (12, "calving_date", "records.future_date"),
        (13, "herd", "records.herd"), (14, "animal", "records.empty"),
        (15, "lactation", "records.value_range"), (16, "animal", "records.unknown_animal"),
    }
    assert all(f"line {e.line}" in e.message for e in report.errors)
    assert "already on line 2" in next(e.message for e in report.errors if e.line == 8)
    assert f"did you mean {farm.cow(6)}?" in next(e.message for e in report.errors
                                                   if e.line == 16)
    assert report.summary()["refused"] == 12
    assert snapshot(admin_conninfo, farm) == before


@pytest.mark.parametrize(("header", "rows", "rule", "line", "column"), [
    (["animal", "date", "event"], [["X", "2023-01-01", "broken_leg"]], "records.unknown_event",
     2, "event"),
    (["animal", "trait", "value", "date"], [["{cow}", "shoe_size", 3, "2023-01-01"]],
     "records.unknown_trait", 2, "trait"),
    (["animal", "date", "event", "remark"], [["X", "2023-01-01", "lameness", ""]],
     "records.columns", 1, "remark"),
    (["animal", "weight"], [["X", 3]], "records.kind", 1, "animal, weight"),
])
def test_header_event_and_trait_rules(db, system, customer_of, farm, tmp_path, admin_conninfo,
                                      header, rows, rule, line, column):
    rows = [[v.format(cow=farm.cow(1)) if isinstance(v, str) else v for v in r] for r in rows]
    before = snapshot(admin_conninfo, farm)
    report = run(db, system, customer_of, farm, write_csv(tmp_path / "f.csv", header, rows))
    assert [(e.line, e.column, e.rule) for e in report.errors] == [(line, column, rule)]
    assert snapshot(admin_conninfo, farm) == before


def test_latin1_and_semicolon_files_are_refused_whole(db, system, customer_of, farm, tmp_path,
                                                      admin_conninfo):
    before = snapshot(admin_conninfo, farm)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(f"animal,date,event\n{farm.cow(1)},2023-01-01,lameness\nM\xfcller,"
                      "2023-01-01,lameness\n".encode("latin-1"))
    with pytest.raises(TableError) as info:
        run(db, system, customer_of, farm, latin)
    assert (info.value.rule, info.value.line) == ("table.encoding", 3)
    semi = tmp_path / "semi.csv"
    semi.write_text(f"animal;date;event\n{farm.cow(1)};2023-01-01;lameness\n")
    with pytest.raises(TableError) as info:
        run(db, system, customer_of, farm, semi)
    assert (info.value.rule, info.value.line) == ("table.delimiter", 1)
    assert "separated by semicolons (European Excel)" in str(info.value)
    assert snapshot(admin_conninfo, farm) == before


def test_row_security_decides_which_animals_a_vet_can_name(db, world, tmp_path, admin_conninfo):
    """w-vet is assigned to farm A, not farm B: farm B's cow is unknown to them."""
    path = write_csv(tmp_path / "h.csv", ["animal", "date", "event"],
                     [["WB-COW", "2023-01-01", "lameness"]])
    with db.session(world.users["w-vet"]) as s:
        report = import_records(s, SimpleNamespace(id=world.farm_b), path, today=TODAY)
    assert [e.rule for e in report.errors] == ["records.unknown_animal"]
    ok = write_csv(tmp_path / "a.csv", ["animal", "date", "event"],
                   [["WA-COW", "2023-01-02", "metritis"]])
    with db.session(world.users["w-vet"]) as s:
        report = import_records(s, SimpleNamespace(id=world.farm_a), ok, today=TODAY)
    assert report.written and report.summary()["new"] == 1


def test_templates_are_read_as_their_kind(tmp_path):
    for kind in ("lactations", "health", "traits"):
        path = write_template(kind, tmp_path / f"{kind}.csv")
        header, example = path.read_text().splitlines()
        assert kind_of(header.split(",")) == kind and example.startswith("DE0123456789,")


def test_derive_writes_idempotently(db, system, customer_of, farm, tmp_path):
    """Cow 1 (born 2020-01-01, served as a heifer 2021-05-25) calves 2022-03-01, is served
    2022-05-10, diagnosed pregnant 2022-06-20 and sold 2023-01-10: days open 31 + 30 + 9 = 70,
    conception at first service 1, productive life 2022-03-01 -> 2023-01-10 = 315 days."""
    events = tmp_path / "events.csv"
    with open(events, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["event", "animal", "date", "bull", "method", "result", "ease", "calf",
                    "calf_sex", "reason"])
        w.writerow(["insemination", farm.cow(1), "2021-05-25", farm.ref_bull, "", "", "", "",
                    "", ""])
        w.writerow(["calving", farm.cow(1), "2022-03-01", "", "", "", 1, f"{farm.code}-K9", "F",
                    ""])
        w.writerow(["insemination", farm.cow(1), "2022-05-10", farm.ref_bull, "", "", "", "",
                    "", ""])
        w.writerow(["pregnancy_check", farm.cow(1), "2022-06-20", "", "ultrasound", "pregnant",
                    "", "", "", ""])
        w.writerow(["exit", farm.cow(1), "2023-01-10", "", "", "", "", "", "", "sold"])
    with db.session(system) as s:
        assert import_events(s, customer_of(s, farm), events, today=TODAY).written
    with db.session(system) as s:
        first = write_derived(s, farm.id)
    assert first.as_dict() == {"new": 3, "changed": 0, "unchanged": 0, "removed": 0}
    assert stored(db, system, farm) == {("days_open", date(2022, 3, 1)): 70.0,
                                        ("first_service_conception", date(2022, 3, 1)): 1.0,
                                        ("productive_life", date(2023, 1, 10)): 315.0}
    with db.session(system) as s:
        again = write_derived(s, farm.id)
    assert again.as_dict() == {"new": 0, "changed": 0, "unchanged": 3, "removed": 0}


def test_utf16_from_excel_is_read_and_an_oversized_file_refused_before_reading(
        db, system, customer_of, farm, tmp_path, admin_conninfo):
    """Excel's "Unicode text" (UTF-16 with a BOM) is unambiguous and read as what it is; a
    file over the upload limit (a 200 MB export) is refused whole before a row is read."""
    utf16 = tmp_path / "health.csv"
    utf16.write_bytes(f"animal,date,event\n{farm.cow(2)},2023-02-03,ketosis\n".encode("utf-16"))
    assert run(db, system, customer_of, farm, utf16).summary()["new"] == 1
    before = snapshot(admin_conninfo, farm)
    big = write_csv(tmp_path / "big.csv", LACT, lactations(farm) * 50)
    with pytest.raises(UploadRefused) as info:
        run(db, system, customer_of, farm, big, max_bytes=1024)
    assert "big.csv" in str(info.value) and "larger than" in str(info.value)
    assert snapshot(admin_conninfo, farm) == before
