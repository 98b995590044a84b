"""The herd register import on the real database: all or nothing, idempotent, corrections
audited and listed, row security deciding who may import and which parents exist."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from openpyxl import Workbook
from sqlalchemy import select

from data_models.animals import Animal
from reprotech_core.accounts import customer_by_code
from reprotech_core.errors import NotFound
from reprotech_core.herd.register_import import import_register
from reprotech_core.uploads import UploadRefused
from tests.herd.conftest import CATALOGUE_BULL, unchanged, write_csv

COW = "276000000000101"
CALF = "276000000000102"
HEIFER = "276000000000103"
OTHER_FARM_COW = "276000000000999"
TODAY = date(2026, 1, 1)


def herd_rows() -> list[tuple]:
    return [
        (CALF, "Clara", "F", "2021-02-03", "Holstein", CATALOGUE_BULL, COW, "main"),
        (COW, "Berta", "F", "2018-04-12", "Holstein", "", "", "main"),
        (HEIFER.replace("103", " 103").lower(), "", "F", "2022-05-06", "Holstein", CATALOGUE_BULL,
         COW, "main"),
    ]


def run(db, identity, farm, path, **kwargs):
    reason = kwargs.pop("reason", f"herd register imported from {path.name}")
    with db.session(identity, reason=reason) as s:
        return import_register(s, customer_by_code(s, farm), path, today=TODAY, **kwargs)


def stored(db, system, farm) -> dict[str, tuple]:
    with db.session(system) as s:
        cid = customer_by_code(s, farm).id
        return {a.official_id: (a.name, a.sex, a.birth_date, a.sire_id is not None,
                                a.dam_id is not None)
                for a in s.scalars(select(Animal).where(Animal.customer_id == cid))}


def test_import_then_reimport_changes_nothing(db, system, farm, tmp_path, admin_conninfo):
    path = write_csv(tmp_path / "register.csv", herd_rows())
    report = run(db, system, farm, path)
    assert report.ok and report.written, report.problems
    assert report.summary().endswith("3 new, 0 changed, 0 unchanged; written")
    assert report.normalised_ids == 1
    assert stored(db, system, farm) == {
        COW: ("Berta", "F", date(2018, 4, 12), False, False),
        CALF: ("Clara", "F", date(2021, 2, 3), True, True),
        HEIFER: (None, "F", date(2022, 5, 6), True, True)}
    with unchanged(admin_conninfo):
        again = run(db, system, farm, path)
    assert again.ok and "0 new, 0 changed, 3 unchanged" in again.summary()


def test_a_corrected_file_updates_through_the_audit_and_lists_the_changes(
        db, system, farm, tmp_path, admin_conninfo):
    run(db, system, farm, write_csv(tmp_path / "register.csv", herd_rows()))
    fixed = herd_rows()
    fixed[1] = (COW, "Bertha", "F", "2018-04-02", "Holstein", "", "", "main")
    report = run(db, system, farm, write_csv(tmp_path / "fixed.csv", fixed),
                 reason="register corrected by the farm")
    assert report.ok and report.written
    assert [(c.line, c.official_id, c.field, c.old, c.new) for c in report.judgement.changes] == [
        (3, COW, "name", "Berta", "Bertha"),
        (3, COW, "birth_date", date(2018, 4, 12), date(2018, 4, 2))]
    assert "0 new, 1 changed, 2 unchanged" in report.summary()
    frame = report.to_frame()
    changed = frame[frame.outcome == "changed"][["official_id", "column", "old", "new"]]
    assert changed.values.tolist() == [[COW, "name", "Berta", "Bertha"],
                                       [COW, "birth_date", "2018-04-12", "2018-04-02"]]
    with psycopg.connect(admin_conninfo) as conn:
        audit = conn.execute(
            "SELECT action, reason, old_values->>'name', new_values->>'name' FROM audit.log "
            "WHERE table_name = 'core.animals' AND new_values->>'official_id' = %s "
            "AND action = 'UPDATE' ORDER BY id", (COW,)).fetchall()
    assert audit[-1] == ("UPDATE", "register corrected by the farm", "Berta", "Bertha")


def test_dry_run_reports_and_writes_nothing(db, system, farm, tmp_path, admin_conninfo):
    path = write_csv(tmp_path / "register.csv", herd_rows())
    with unchanged(admin_conninfo):
        report = run(db, system, farm, path, dry_run=True)
    assert report.ok and not report.written
    assert {r.official_id for r in report.judgement.new} == {COW, CALF, HEIFER}
    assert "3 new, 0 changed, 0 unchanged; would be written" in report.summary()


@pytest.mark.parametrize(("rows", "expected"), [
    ([(CALF, "", "F", "2021-01-01", "Holstein", "", COW, "main"),
      (COW, "", "F", "2022-01-01", "Holstein", "", "", "main")],
     (2, "dam", "register.parent_born_after_calf")),
    ([(CALF, "", "F", "2021-01-01", "Holstein", "", COW, "main"),
      (COW, "", "F", "2018-01-01", "Holstein", "", CALF, "main")], (2, "sire", "register.cycle")),
    ([(CALF, "", "F", "2021-01-01", "Holstein", "", "", "main"),
      (CALF, "", "F", "2021-01-01", "Holstein", "", "", "main")],
     (3, "official_id", "register.duplicate")),
    ([(CALF, "", "F", "2021-01-01", "Holstein", COW, "", "main"),
      (COW, "", "F", "2018-01-01", "Holstein", "", "", "main")],
     (2, "sire", "register.parent_sex")),
    ([(CALF, "", "F", "03/04/2021", "Holstein", "", "", "main")],
     (2, "birth_date", "register.date")),
    ([("DE 0123", "", "F", "2021-01-01", "Holstein", "", "", "main")],
     (2, "official_id", "register.id_format")),
    ([(CALF, "", "F", "2021-01-01", "Holstein", "", "", "north")],
     (2, "herd", "register.herd_unknown")),
    ([(CALF, "=A1&B1", "F", "2021-01-01", "Holstein", "", "", "main")],
     (2, "name", "register.formula")),
])
def test_a_refused_file_leaves_the_tenant_exactly_as_it_was(
        db, system, farm, tmp_path, admin_conninfo, rows, expected):
    run(db, system, farm, write_csv(tmp_path / "first.csv", herd_rows()[1:2]))  # COW stored
    path = write_csv(tmp_path / "bad.csv", rows)
    with unchanged(admin_conninfo):
        report = run(db, system, farm, path)
    assert not report.ok and not report.written
    assert expected in [(p.line, p.column, p.rule) for p in report.problems]
    assert "bad.csv, line" in report.problems[0].message


@pytest.mark.parametrize(("write", "rule", "line"), [
    (lambda p: write_csv(p, [(COW, "Bérénice", "F", "2018-01-01", "Holstein", "", "", "main")],
                         encoding="latin-1"), "table.encoding", 2),
    (lambda p: write_csv(p, [(COW, "", "F", "2018-01-01", "Holstein", "", "", "main")],
                         delimiter=";"), "table.delimiter", 1),
    (lambda p: p.write_text("Herd register of 2025\n" + "official_id,sex,birth_date,breed\n"
                            f"{COW},F,2018-01-01,Holstein\n") and p, "table.title_row", 1),
])
def test_unreadable_files_are_refused_with_their_rule(db, system, farm, tmp_path, admin_conninfo,
                                                      write, rule, line):
    path = write(tmp_path / "odd.csv")
    with unchanged(admin_conninfo):
        report = run(db, system, farm, path)
    assert [(p.line, p.rule) for p in report.problems] == [(line, rule)]


def test_utf16_text_from_excel_is_read(db, system, farm, tmp_path):
    path = tmp_path / "unicode.csv"
    path.write_bytes(("official_id,name,sex,birth_date,breed\r\n"
                      f"{COW},Bérénice,F,2018-01-01,Holstein\r\n").encode("utf-16"))
    report = run(db, system, farm, path)
    assert report.ok and stored(db, system, farm)[COW][0] == "Bérénice"


def workbook(path, rows, title=None):
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=5)
    sheet.append(["Official ID", "Sex", "Birth date", "Breed", "Dam"])
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


def test_excel_dates_and_a_merged_title_row(db, system, farm, tmp_path, admin_conninfo):
    rows = [[COW, "F", date(2018, 1, 1), "Holstein", None],
            [CALF, "F", date(2021, 1, 1), "Holstein", COW]]
    with unchanged(admin_conninfo):
        merged = run(db, system, farm, workbook(tmp_path / "merged.xlsx", rows, "Herd book"))
    assert [(p.line, p.rule) for p in merged.problems] == [(1, "table.title_row")]
    assert "line 2 (which looks like the header)" in merged.problems[0].message
    report = run(db, system, farm, workbook(tmp_path / "herd.xlsx", rows))
    assert report.ok and stored(db, system, farm)[CALF][2] == date(2021, 1, 1)


def test_a_formula_cell_without_a_value_is_refused(db, system, farm, tmp_path, admin_conninfo):
    path = workbook(tmp_path / "formula.xlsx", [[COW, "F", "=DATE(2018,1,1)", "Holstein", None]])
    with unchanged(admin_conninfo):  # never calculated: no cached value to read
        report = run(db, system, farm, path)
    assert [(p.line, p.column, p.rule) for p in report.problems] == [
        (2, "Birth date", "table.formula")]
    assert "'=DATE(2018,1,1)' has no calculated value" in report.problems[0].message


def test_a_file_over_the_upload_limit_is_refused_before_reading(db, system, farm, tmp_path):
    path = write_csv(tmp_path / "big.csv", herd_rows() * 50)
    with pytest.raises(UploadRefused, match="larger than the upload limit"):
        run(db, system, farm, path, max_bytes=1024)


def test_another_farms_animal_is_never_a_parent(db, system, farm, world, tmp_path,
                                                admin_conninfo):
    """Farm B's cow is invisible: named as a dam it is unknown, even to an all-seeing system
    import; with --create-parents a placeholder is made in the importing farm only."""
    other = farm + "x"
    from reprotech_core import accounts
    with db.session(system) as s:
        c = accounts.create_customer(s, code=other, name="Other farm", tier="enterprise")
        accounts.create_herd(s, customer=c, code="main", name="Main")
    run(db, system, other, write_csv(tmp_path / "b.csv", [
        (OTHER_FARM_COW, "Secret", "F", "2017-01-01", "Holstein", "", "", "main")]))
    path = write_csv(tmp_path / "a.csv", [
        (CALF, "", "F", "2021-01-01", "Holstein", "", OTHER_FARM_COW, "main")])
    with unchanged(admin_conninfo):
        report = run(db, system, farm, path)
    assert [(p.column, p.rule) for p in report.problems] == [("dam", "register.parent_unknown")]
    assert "Secret" not in report.problems[0].message
    report = run(db, system, farm, path, create_parents=True)
    assert report.ok and [k.official_id for k in report.judgement.placeholders] == [OTHER_FARM_COW]
    with db.session(system) as s:
        owners = s.execute(select(Animal.customer_id, Animal.name, Animal.birth_date).where(
            Animal.official_id == OTHER_FARM_COW).order_by(Animal.id)).all()
        ids = (customer_by_code(s, other).id, customer_by_code(s, farm).id)
    assert owners == [(ids[0], "Secret", date(2017, 1, 1)), (ids[1], None, None)]


def test_a_catalogue_bull_resolves_as_sire(db, system, farm, tmp_path):
    report = run(db, system, farm, write_csv(tmp_path / "r.csv", [
        (CALF, "", "F", "2021-01-01", "Holstein", CATALOGUE_BULL, "", "main")]))
    assert report.ok and report.judgement.placeholders == []
    with db.session(system) as s:
        calf = s.scalar(select(Animal).where(Animal.official_id == CALF,
                                             Animal.customer_id == customer_by_code(s, farm).id))
        assert s.get(Animal, calf.sire_id).official_id == CATALOGUE_BULL


def test_who_may_import(db, system, world, tmp_path):
    """The world's vet and technician serve farm w-a only; w-a's admin manages w-a only."""
    path = write_csv(tmp_path / "r.csv", [(HEIFER, "", "F", "2022-01-01", "Holstein", "", "",
                                           "w-a-h")])
    report = run(db, world.users["w-vet"], "w-a", path)
    assert report.ok and report.written
    for user in ("w-vet", "w-a-admin", "w-a-user"):
        with pytest.raises(NotFound):
            run(db, world.users[user], "w-b", write_csv(tmp_path / "b.csv", [
                (HEIFER, "", "F", "2022-01-01", "Holstein", "", "", "w-b-h")]))
    report = run(db, world.users["w-a-admin"], "w-a", write_csv(tmp_path / "a.csv", [
        (CALF, "", "F", "2024-01-01", "Holstein", "", HEIFER, "w-a-h")]))
    assert report.ok and report.written


def test_a_customer_user_cannot_write_the_register(db, world, tmp_path):
    from reprotech_core.errors import ReprotechError
    path = write_csv(tmp_path / "r.csv", [("276000000000555", "", "F", "2022-01-01", "Holstein",
                                           "", "", "w-a-h")])
    with pytest.raises(ReprotechError):
        run(db, world.users["w-a-user"], "w-a", path)


def test_a_placeholder_parent_is_filled_in_by_a_later_register(db, system, farm, tmp_path):
    calf = [(CALF, "", "F", "2021-01-01", "Holstein", "", COW, "main")]
    first = run(db, system, farm, write_csv(tmp_path / "calves.csv", calf), create_parents=True)
    assert first.ok and [k.official_id for k in first.judgement.placeholders] == [COW]
    cows = [(COW, "Berta", "F", "2017-03-04", "Holstein", "", "", "main")]
    report = run(db, system, farm, write_csv(tmp_path / "cows.csv", cows))
    assert {(c.field, c.old, c.new) for c in report.judgement.changes} == {
        ("name", None, "Berta"), ("birth_date", None, date(2017, 3, 4)), ("herd", None, "main"),
        ("placeholder", True, False)}
    with db.session(system) as s:
        cow = s.scalar(select(Animal).where(Animal.official_id == COW,
                                            Animal.customer_id == customer_by_code(s, farm).id))
        assert (cow.placeholder, cow.birth_date, cow.name) == (False, date(2017, 3, 4), "Berta")
