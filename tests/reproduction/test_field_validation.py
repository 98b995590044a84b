"""Text is judged on the way in, by every path: a form, a CSV or Excel upload, an inventory
receipt or move, animal registration and account administration refuse a control character,
an over-long note or a malformed ID with a named rule (reprotech_core.textfields), and
nothing in ``core.*`` (or the audit log) changes when they do. Valid text in decomposed
Unicode is stored in NFC."""

from __future__ import annotations

import io
import itertools
from datetime import date

import psycopg
import pytest
from openpyxl import Workbook
from sqlalchemy import select

from data_models.reproduction import AnimalExit, Insemination
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.reproduction import entry, forms
from reprotech_core.reproduction.records import RecordRefused, SemenReceipt

pytestmark = pytest.mark.db

_users = itertools.count(1)
DAY = date(2024, 3, 4)
LONG_CAUSE = "mastitis " * 8  # 72 characters; core.animal_exits.cause holds 64


@pytest.fixture
def vet(db, system, farm):
    name = f"fv-vet-{next(_users)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, name, "veterinarian"))
        accounts.assign(s, name, farm.code)
    return db.identity(name)


@pytest.fixture
def stored(admin_conninfo):
    """``stored()``: the row count of every table in ``core`` and of ``audit.log``, read as
    the administrative login (no row security), to compare before and after a refusal."""
    def counts() -> dict[str, int]:
        with psycopg.connect(admin_conninfo) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname = 'core' ORDER BY 1")] + ["audit.log"]
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                    for t in tables}
    return counts


def refused_rules(exc: pytest.ExceptionInfo[RecordRefused]) -> list[tuple[str, str]]:
    return [(p.column, p.rule) for p in exc.value.problems]


def test_a_form_entry_with_a_control_character_is_refused_and_writes_nothing(
        db, farm, vet, stored):
    before = stored()
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_event(s, farm.code, {
            "event": "insemination", "animal": farm.cow(1), "date": DAY, "bull": farm.ref_bull,
            "technician": "Dr\x07Who"})
    assert refused_rules(refused) == [("technician", "text.control_chars")]
    assert "U+0007" in refused.value.problems[0].message
    assert f"insemination of '{farm.cow(1)}' on {DAY}" in refused.value.problems[0].message
    assert stored() == before


def test_an_over_long_cause_is_refused_never_truncated(db, farm, vet, stored):
    before = stored()
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_event(s, farm.code, {"event": "exit", "animal": farm.cow(2), "date": DAY,
                                          "reason": "slaughter", "cause": LONG_CAUSE.strip()})
    assert refused_rules(refused) == [("cause", "text.too_long")]
    assert "71 characters" in str(refused.value) and "at most 64" in str(refused.value)
    assert stored() == before


def test_a_malformed_id_in_a_production_form_is_refused(db, farm, vet, stored):
    before = stored()
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "flush", {
            "donor": farm.cow(1), "sire": "<img src=x onerror=alert(1)>", "date": DAY,
            "embryos": "7/1", "tank": "T1", "canister": "C\u202e1"})
    assert refused_rules(refused) == [("sire", "id.characters"),
                                      ("canister", "text.control_chars")]
    assert stored() == before


def csv_upload(*rows: str) -> bytes:
    return ("event,animal,date,bull,technician,reason,cause\n" + "\n".join(rows) + "\n").encode()


def test_an_upload_reports_each_bad_text_by_line_column_and_rule(db, farm, vet, stored):
    # (Over-long values in a file are refused earlier, by the file reader's column limits.)
    before = stored()
    content = csv_upload(
        f"insemination,{farm.cow(1)},2024-03-04,{farm.ref_bull},Ann\x1bBell,,",
        f"exit,{farm.cow(2)},2024-03-04,,,slaughter,mas\x0btitis",
        f"insemination,{farm.cow(3)},2024-03-04,{farm.ref_bull},Ann,,")
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.csv", content)
    assert not report.written
    assert [(e.line, e.column, e.rule) for e in report.errors] == [
        (2, "technician", "text.control_chars"), (3, "cause", "text.control_chars")]
    assert report.errors[0].message.startswith("line 2: insemination of ")
    assert stored() == before
    # With the clean rows asked for, the clean one is written and the two others are not.
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.csv", content, clean_rows_only=True)
    assert report.written and report.imported == {"insemination": 1}
    with db.session(vet) as s:
        technicians = s.scalars(select(Insemination.technician)).all()
        exits = s.scalars(select(AnimalExit.cause)).all()
    assert technicians == ["Ann"] and exits == []


def test_an_excel_upload_with_an_invisible_override_is_refused(db, farm, vet, stored):
    book = Workbook()
    sheet = book.active
    sheet.append(["event", "animal", "date", "bull", "technician"])
    sheet.append(["insemination", farm.cow(1), "2024-03-04", farm.ref_bull, "Ann\u202eBell"])
    buffer = io.BytesIO()
    book.save(buffer)
    before = stored()
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.xlsx", buffer.getvalue())
    assert [(e.line, e.column, e.rule) for e in report.errors] == [
        (2, "technician", "text.control_chars")]
    assert stored() == before


def test_inventory_receipts_and_moves_judge_their_codes(db, farm, vet, stored, customer_of):
    before = stored()
    receipt = SemenReceipt(herd=farm.herds[0], bull=farm.ref_bull, lot_code="=HYPERLINK(1)",
                           tank="T1", canister="C1", straws=10, received_on=DAY,
                           supplier="S" * 129, reference="DN 1")
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        entry.receive_semen(s, customer_of(s, farm), receipt)
    assert refused_rules(refused) == [("lot", "id.characters"), ("reference", "id.characters"),
                                      ("supplier", "text.too_long")]
    with db.session(vet) as s:
        lot = entry.receive_semen(s, customer_of(s, farm), SemenReceipt(
            herd=farm.herds[0], bull=farm.ref_bull, lot_code="L1", tank="T1", canister="C1",
            straws=10, received_on=DAY))
    moved = stored()
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        entry.move_straws(s, customer_of(s, farm), lot, to_herd=farm.herds[1], tank=" T2",
                          canister="C" * 33, straws=2, moved_on=DAY)
    assert refused_rules(refused) == [("tank", "text.whitespace"),
                                      ("canister", "text.too_long")]
    assert stored() == moved
    assert moved["core.semen_lots"] == before["core.semen_lots"] + 1


def test_animal_registration_refuses_bad_ids_and_names_before_writing(db, system, farm, stored,
                                                                       customer_of):
    before = stored()
    with db.session(system) as s, pytest.raises(RecordRefused) as refused:
        register_animals(s, customer_of(s, farm), [
            AnimalRecord(f"{farm.code}-OK", "Holstein", "F", name="Fine"),
            AnimalRecord("<script>", "Holstein", "F"),
            AnimalRecord(f"{farm.code}-N", "Holstein", "F", name="Daisy\x00"),
            AnimalRecord(f"{farm.code}-B", "H" * 33, "F")])
    assert refused_rules(refused) == [("official_id", "id.characters"),
                                      ("name", "text.control_chars"), ("breed", "text.too_long")]
    assert "animal 2 ('<script>')" in refused.value.problems[0].message
    assert stored() == before


def test_names_are_stored_in_nfc(db, system, farm, vet, customer_of):
    with db.session(vet) as s:
        forms.record_event(s, farm.code, {"event": "insemination", "animal": farm.cow(4),
                                          "date": DAY, "bull": farm.ref_bull,
                                          "technician": "Mu\u0308ller"})
    with db.session(system) as s:
        ids = register_animals(s, customer_of(s, farm), [
            AnimalRecord(f"{farm.code}-NFC", "Holstein", "F", name="Zoe\u0308")])
        name = s.scalar(select(Insemination.technician).where(
            Insemination.customer_id == farm.id))
        from data_models.animals import Animal
        animal = s.get(Animal, ids[f"{farm.code}-NFC"])
        assert (name, animal.name) == ("Müller", "Zoë")


@pytest.mark.parametrize(("call", "rule", "column"), [
    (lambda s: accounts.create_user(s, accounts.NewUser("Bad User", "x", "researcher")),
     "id.characters", "username"),
    (lambda s: accounts.create_user(s, accounts.NewUser("fv-ok", "Line\nbreak", "researcher")),
     "text.control_chars", "display_name"),
    (lambda s: accounts.create_customer(s, code="fv farm", name="Farm"),
     "id.characters", "code"),
    (lambda s: accounts.create_customer(s, code="fv-farm", name=" Farm"),
     "text.whitespace", "name"),
    (lambda s: accounts.create_customer(s, code="fv-farm2", name="x" * 201),
     "text.too_long", "name"),
])
def test_accounts_customers_and_users_are_judged(db, system, stored, call, rule, column):
    before = stored()
    with db.session(system) as s, pytest.raises(RecordRefused) as refused:
        call(s)
    assert (column, rule) in refused_rules(refused)
    assert stored() == before


def test_herd_codes_are_judged(db, system, farm, stored, customer_of):
    before = stored()
    with db.session(system) as s, pytest.raises(RecordRefused) as refused:
        accounts.create_herd(s, customer=customer_of(s, farm), code="h<1>", name="Main")
    assert refused_rules(refused) == [("code", "id.characters")]
    assert stored() == before
