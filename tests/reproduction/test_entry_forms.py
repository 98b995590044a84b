"""Data entry by vets and technicians: the form functions and the "Record work" page (events,
semen and embryo receipts and moves, the stock).

The page is built in-process as the signed-in vet and driven through its widgets and buttons,
the way a browser session drives it; what it writes is read back from the database.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from dashboards.app import pages_for, registered_pages
from dashboards.entry.record import RecordWork
from dashboards.pages import PageContext
from data_models.reproduction import Embryo, Insemination, InventoryMovement, SemenLot
from reprotech_core import accounts
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import forms
from reprotech_core.reproduction.records import RecordRefused
from reprotech_core.settings import get_settings
from tests.reproduction.conftest import make_farm

_users = itertools.count(1)
DAY = date(2024, 3, 4)


@pytest.fixture
def vet(db, system, farm):
    """A vet assigned to ``farm`` (and to nothing else)."""
    name = f"entry-vet-{next(_users)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, name, "veterinarian"))
        accounts.assign(s, name, farm.code)
    return db.identity(name)


def services(db, system, farm) -> int:
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(Insemination)
                        .where(Insemination.customer_id == farm.id))


def stock_rows(db, system, farm) -> tuple[set[tuple], set[tuple]]:
    """(herd, lot, tank, canister, straws) of the farm's lots and (code, herd, tank, status)
    of its embryos, read as the system."""
    with db.session(system) as s:
        herds = dict(s.execute(text("SELECT id, code FROM core.herds WHERE customer_id = :c"),
                               {"c": farm.id}).all())
        lots = {(herds[r.herd_id], r.lot_code, r.tank, r.canister, r.straws_in_stock)
                for r in s.scalars(select(SemenLot).where(SemenLot.customer_id == farm.id))}
        embryos = {(e.code, herds[e.herd_id], e.tank, e.status)
                   for e in s.scalars(select(Embryo).where(Embryo.customer_id == farm.id))}
    return lots, embryos


def movements(db, system, farm) -> int:
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(InventoryMovement)
                        .where(InventoryMovement.customer_id == farm.id))


def test_an_insemination_is_recorded_once(db, system, farm, vet):
    fields = {"event": "insemination", "animal": farm.cow(1), "date": DAY, "bull": farm.ref_bull,
              "service_type": "heat"}
    with db.session(vet) as s:
        first = forms.record_event(s, farm.code, fields)
    with db.session(vet) as s:
        again = forms.record_event(s, farm.code, fields)
    assert first.record_id is not None and "is recorded" in first.message
    assert again.record_id is None and "already recorded" in again.message
    assert services(db, system, farm) == 1


def test_a_refusal_names_the_record_and_the_rule(db, farm, vet):
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_event(s, farm.code, {"event": "insemination", "animal": farm.own_bull,
                                          "date": DAY, "bull": farm.ref_bull})
    assert farm.own_bull in str(refused.value)
    assert refused.value.problems[0].rule.startswith("repro.")


def test_an_unreadable_value_is_named_by_its_field(db, farm, vet):
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_event(s, farm.code, {"event": "pregnancy_check", "animal": farm.cow(1),
                                          "date": "2024-13-01", "method": "ultrasound",
                                          "result": "open"})
    problem = refused.value.problems[0]
    assert problem.rule == "entry.value" and problem.column == "date"
    assert "2024-13-01" in problem.message


def test_a_vet_cannot_record_for_a_customer_they_do_not_serve(db, system, reference_bull, vet):
    other = make_farm(db, system, reference_bull)
    with db.session(vet) as s:
        assert other.code not in {code for code, _ in forms.farms_for_entry(s)}
        with pytest.raises(NotFound):
            forms.record_event(s, other.code, {"event": "insemination", "animal": other.cow(1),
                                               "date": DAY, "bull": other.ref_bull})
    assert services(db, system, other) == 0


def test_an_upload_is_all_or_nothing_unless_asked(db, system, farm, vet):
    csv = (f"event,animal,date,bull\ninsemination,{farm.cow(1)},2024-03-04,{farm.ref_bull}\n"
           f"insemination,NO-SUCH-COW,2024-03-05,{farm.ref_bull}\n").encode()
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.csv", csv)
    assert not report.written and [e.line for e in report.errors] == [3]
    assert "NO-SUCH-COW" in report.errors[0].message
    assert services(db, system, farm) == 0
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.csv", csv, clean_rows_only=True)
    assert report.written and report.imported == {"insemination": 1}
    assert services(db, system, farm) == 1


@pytest.mark.parametrize(("name", "content", "rule"), [
    ("events.exe", b"MZ...", "import.file_type"),
    ("events.csv", b"", "import.empty"),
    ("events.csv", b"x" * (get_settings().web_upload_max_bytes + 1), "import.file_size"),
    ("events.xlsx", b"not a zip at all", "import.unreadable"),
])
def test_a_bad_upload_is_refused_before_parsing(db, farm, vet, name, content, rule):
    with db.session(vet) as s, pytest.raises(RuleViolation) as refused:
        forms.import_upload(s, farm.code, name, content)
    assert refused.value.rule == rule and name in str(refused.value)


# Semen and embryo inventory ------------------------------------------------------------------
def semen_fields(farm, **changes) -> dict[str, object]:
    return {"herd": farm.herds[0], "bull": farm.ref_bull, "lot": "L-24-01", "tank": "T1",
            "canister": "C1", "straws": "10", "date": DAY, "supplier": "AI centre"} | changes


def embryo_fields(farm, **changes) -> dict[str, object]:
    return {"code": f"{farm.code}-BANK-1", "sire": farm.ref_bull, "donor": "", "grade": "7/1",
            "preservation": "frozen", "produced": date(2023, 11, 2), "herd": farm.herds[0],
            "tank": "T1", "canister": "C3", "date": DAY, "supplier": "Embryo bank"} | changes


def test_a_semen_receipt_from_the_form_fills_and_tops_up_a_lot(db, system, farm, vet):
    with db.session(vet) as s:
        first = forms.receive_semen(s, farm.code, semen_fields(farm))
    assert first.record_id is not None and "semen receipt is recorded" in first.message
    assert "10 straw(s) of R-AIBULL lot L-24-01" in first.message
    # receive_semen is not idempotent: the same receipt entered again is counted again
    with db.session(vet) as s:
        again = forms.receive_semen(s, farm.code, semen_fields(farm, straws="5",
                                                               date="2024-03-05"))
        own = forms.receive_semen(s, farm.code, semen_fields(farm, bull=farm.own_bull,
                                                             herd=farm.herds[1]))
    assert again.record_id == first.record_id and own.record_id != first.record_id
    lots, _ = stock_rows(db, system, farm)
    assert lots == {(farm.herds[0], "L-24-01", "T1", "C1", 15),
                    (farm.herds[1], "L-24-01", "T1", "C1", 10)}
    assert movements(db, system, farm) == 3


def test_a_semen_receipt_with_its_delivery_note_is_recorded_once(db, system, farm, vet):
    fields = semen_fields(farm, reference=" DN-2024-0117 ")
    with db.session(vet) as s:
        first = forms.receive_semen(s, farm.code, fields)
    assert first.record_id is not None and "counts its straws again" not in first.message
    # a double click, or the form sent again: nothing changes
    with db.session(vet) as s:
        again = forms.receive_semen(s, farm.code, fields)
    assert again.record_id is None
    assert again.message == ("Delivery note DN-2024-0117 is already recorded (lot L-24-01 in "
                             f"{farm.herds[0]}); nothing changed.")
    assert stock_rows(db, system, farm)[0] == {(farm.herds[0], "L-24-01", "T1", "C1", 10)}
    assert movements(db, system, farm) == 1
    # the same delivery note with another count is refused, naming the stored receipt
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.receive_semen(s, farm.code, fields | {"straws": "12"})
    [problem] = refused.value.problems
    assert problem.rule == "inventory.receipt_duplicate" and problem.column == "reference"
    assert "DN-2024-0117 is already recorded as 10 straw(s) of R-AIBULL lot L-24-01" in \
        problem.message and "differs in straws" in problem.message
    assert stock_rows(db, system, farm)[0] == {(farm.herds[0], "L-24-01", "T1", "C1", 10)}
    assert movements(db, system, farm) == 1
    with db.session(system) as s:
        assert s.scalar(select(InventoryMovement.reference)
                        .where(InventoryMovement.customer_id == farm.id)) == "DN-2024-0117"


def test_a_semen_receipt_without_delivery_note_says_it_counts_again(db, system, farm, vet):
    with db.session(vet) as s:
        first = forms.receive_semen(s, farm.code, semen_fields(farm, reference=" "))
        again = forms.receive_semen(s, farm.code, semen_fields(farm))
    assert first.record_id == again.record_id is not None
    assert "Without a delivery note, entering this receipt again counts its straws again." \
        in again.message
    assert stock_rows(db, system, farm)[0] == {(farm.herds[0], "L-24-01", "T1", "C1", 20)}
    assert movements(db, system, farm) == 2


@pytest.mark.parametrize(("changes", "rule", "column", "words"), [
    ({"bull": "NO-SUCH-BULL"}, "repro.animal_unknown", "bull", "NO-SUCH-BULL"),
    ({"bull": "{cow}"}, "repro.bull_sex", "bull", "{cow}"),
    ({"herd": "h-unknown"}, "repro.herd_unknown", "herd", "h-unknown"),
    ({"straws": "0"}, "inventory.straws", "straws", "0 straws"),
    ({"straws": "ten"}, "entry.value", "straws", "'ten' is not a whole number"),
    ({"straws": "-3"}, "entry.value", "straws", "'-3'"),
    ({"date": "2024-13-01"}, "entry.value", "date", "'2024-13-01' is not a date"),
    ({"date": "4.3.2024"}, "entry.value", "date", "'4.3.2024'"),
    ({"date": date(2099, 1, 1)}, "repro.future_date", "date", "2099-01-01"),
    ({"canister": " "}, "entry.value", "canister", "canister: is needed"),
])
def test_a_bad_semen_receipt_is_refused_and_writes_nothing(db, system, farm, vet, changes, rule,
                                                           column, words):
    changes = {k: v.format(cow=farm.cow(1)) if isinstance(v, str) else v
               for k, v in changes.items()}
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.receive_semen(s, farm.code, semen_fields(farm, **changes))
    problem = next(p for p in refused.value.problems if p.rule == rule)
    assert problem.column == column and words.format(cow=farm.cow(1)) in problem.message
    assert stock_rows(db, system, farm) == (set(), set()) and movements(db, system, farm) == 0


def test_an_embryo_receipt_from_the_form_is_refused_when_entered_again(db, system, farm, vet):
    code = f"{farm.code}-BANK-1"
    with db.session(vet) as s:
        outcome = forms.receive_embryo(s, farm.code, embryo_fields(farm, donor=farm.cow(2)))
    assert outcome.record_id is not None and f"Embryo {code} is in stock" in outcome.message
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.receive_embryo(s, farm.code, embryo_fields(farm))
    assert refused.value.problems[0].rule == "embryo.duplicate"
    assert stock_rows(db, system, farm)[1] == {(code, farm.herds[0], "T1", "in_stock")}
    with db.session(system) as s:
        embryo = s.scalar(select(Embryo).where(Embryo.code == code))
        assert (embryo.stage, embryo.quality, embryo.preservation) == (7, 1, "frozen")
    assert movements(db, system, farm) == 1


@pytest.mark.parametrize(("changes", "rule", "column"), [
    ({"sire": "NO-SUCH-SIRE"}, "repro.animal_unknown", "sire"),
    ({"donor": "NO-SUCH-DONOR"}, "repro.animal_unknown", "donor"),
    ({"herd": "h-unknown"}, "repro.herd_unknown", "herd"),
    ({"grade": "12/1"}, "embryo.grade", "stage"),
    ({"grade": "7-1"}, "entry.value", "grade"),
    ({"grade": "7/1 6/2"}, "entry.value", "grade"),
    ({"produced": date(2024, 3, 5)}, "embryo.received_before_produced", "date"),
    ({"produced": "2023-02-30"}, "entry.value", "produced"),
    ({"date": ""}, "entry.value", "date"),
    ({"preservation": "dried"}, "repro.preservation", "preservation"),
])
def test_a_bad_embryo_receipt_is_refused_and_writes_nothing(db, system, farm, vet, changes, rule,
                                                            column):
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.receive_embryo(s, farm.code, embryo_fields(farm, **changes))
    assert (rule, column) in {(p.rule, p.column) for p in refused.value.problems}
    assert stock_rows(db, system, farm) == (set(), set()) and movements(db, system, farm) == 0


@pytest.fixture
def lot(db, farm, vet) -> int:
    """10 straws of the reference bull's lot L-24-01 in the farm's first herd, T1/C1."""
    with db.session(vet) as s:
        return forms.receive_semen(s, farm.code, semen_fields(farm)).record_id


def move_fields(farm, lot_id, **changes) -> dict[str, object]:
    return {"lot": lot_id, "straws": "4", "herd": farm.herds[1], "tank": "T2", "canister": "C1",
            "date": DAY} | changes


def test_straws_move_to_another_herd(db, system, farm, vet, lot):
    with db.session(vet) as s:
        outcome = forms.move_straws(s, farm.code, move_fields(farm, lot))
    assert outcome.record_id not in (None, lot) and "4 straw(s) moved to" in outcome.message
    with db.session(vet) as s:
        same_place = forms.move_straws(s, farm.code, move_fields(
            farm, str(lot), herd=farm.herds[0], tank="T1", canister="C1"))
    assert same_place.record_id is None and "nothing moved" in same_place.message
    assert stock_rows(db, system, farm)[0] == {(farm.herds[0], "L-24-01", "T1", "C1", 6),
                                               (farm.herds[1], "L-24-01", "T2", "C1", 4)}
    assert movements(db, system, farm) == 3  # the receipt, out and in


@pytest.mark.parametrize(("changes", "rule", "column"), [
    ({"straws": "11"}, "inventory.out_of_stock", "straws"),
    ({"straws": "0"}, "inventory.straws", "straws"),
    ({"straws": "4.5"}, "entry.value", "straws"),
    ({"date": date(2099, 1, 1)}, "repro.future_date", "date"),
    ({"herd": "h-unknown"}, "repro.herd_unknown", "herd"),
    ({"lot": 987654321}, "inventory.lot_unknown", "lot"),
    ({"lot": "L-24-01"}, "entry.value", "lot"),  # a lot code is not the picker's lot id
    ({"tank": ""}, "entry.value", "tank"),
    ({"date": "2024-3-4"}, "entry.value", "date"),
])
def test_a_bad_straw_move_is_refused_and_writes_nothing(db, system, farm, vet, lot, changes,
                                                        rule, column):
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.move_straws(s, farm.code, move_fields(farm, lot, **changes))
    assert (rule, column) in {(p.rule, p.column) for p in refused.value.problems}
    assert stock_rows(db, system, farm)[0] == {(farm.herds[0], "L-24-01", "T1", "C1", 10)}
    assert movements(db, system, farm) == 1


def test_straws_of_another_customers_lot_cannot_be_moved(db, system, reference_bull, farm, vet):
    other = make_farm(db, system, reference_bull)
    with db.session(system) as s:
        theirs = forms.receive_semen(s, other.code, semen_fields(other)).record_id
    for serves_other in (False, True):  # a lot the vet cannot see, then one they can
        if serves_other:
            with db.session(system) as s:
                accounts.assign(s, vet.username, other.code)
        with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
            forms.move_straws(s, farm.code, move_fields(farm, theirs))
        assert refused.value.problems[0].rule == "inventory.lot_unknown"
    assert stock_rows(db, system, other)[0] == {(other.herds[0], "L-24-01", "T1", "C1", 10)}
    assert stock_rows(db, system, farm) == (set(), set())


@pytest.fixture
def bought_embryo(db, farm, vet) -> str:
    with db.session(vet) as s:
        forms.receive_embryo(s, farm.code, embryo_fields(farm))
    return f"{farm.code}-BANK-1"


def test_an_embryo_moves_to_another_herd(db, system, farm, vet, bought_embryo):
    fields = {"embryo": bought_embryo, "herd": farm.herds[1], "tank": "T7", "canister": "C2",
              "date": DAY}
    with db.session(vet) as s:
        outcome = forms.move_embryo(s, farm.code, fields)
    assert outcome.record_id is not None and f"now in {farm.herds[1]}" in outcome.message
    assert stock_rows(db, system, farm)[1] == {(bought_embryo, farm.herds[1], "T7", "in_stock")}
    assert movements(db, system, farm) == 3


@pytest.mark.parametrize(("changes", "rule", "column"), [
    ({"embryo": "NO-SUCH-EMBRYO"}, "embryo.unknown", "embryo"),
    ({"herd": "h-unknown"}, "repro.herd_unknown", "herd"),
    ({"herd": ""}, "entry.value", "herd"),
    ({"date": "yesterday"}, "entry.value", "date"),
    ({"embryo": "transferred"}, "embryo.not_in_stock", "embryo"),
])
def test_a_bad_embryo_move_is_refused_and_writes_nothing(db, system, farm, vet, bought_embryo,
                                                         changes, rule, column):
    if changes.get("embryo") == "transferred":
        with db.session(vet) as s:
            forms.record_event(s, farm.code, {"event": "embryo_transfer", "animal": farm.cow(3),
                                              "date": DAY, "embryo": bought_embryo,
                                              "preservation": "frozen"})
        changes = {"embryo": bought_embryo}
    before = stock_rows(db, system, farm), movements(db, system, farm)
    fields = {"embryo": bought_embryo, "herd": farm.herds[1], "tank": "", "canister": "",
              "date": DAY} | changes
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.move_embryo(s, farm.code, fields)
    assert (rule, column) in {(p.rule, p.column) for p in refused.value.problems}
    assert (stock_rows(db, system, farm), movements(db, system, farm)) == before


def test_inventory_forms_refuse_a_customer_the_vet_does_not_serve(db, system, reference_bull,
                                                                  vet):
    other = make_farm(db, system, reference_bull)
    with db.session(system) as s:
        lot_id = forms.receive_semen(s, other.code, semen_fields(other)).record_id
        forms.receive_embryo(s, other.code, embryo_fields(other))
    before = stock_rows(db, system, other), movements(db, system, other)
    writes = [
        (forms.receive_semen, semen_fields(other)),
        (forms.receive_embryo, embryo_fields(other, code="FORGED-1")),
        (forms.move_straws, move_fields(other, lot_id)),
        (forms.move_embryo, {"embryo": f"{other.code}-BANK-1", "herd": other.herds[1],
                             "date": DAY}),
    ]
    for write, fields in writes:
        with db.session(vet) as s, pytest.raises(NotFound):
            write(s, other.code, fields)
    with db.session(vet) as s, pytest.raises(NotFound):
        forms.inventory(s, other.code)
    assert (stock_rows(db, system, other), movements(db, system, other)) == before


def test_the_stock_lists_what_is_in_the_tanks(db, system, farm, vet, lot, bought_embryo):
    flush = {"donor": farm.cow(4), "sire": farm.ref_bull, "date": DAY, "embryos": "7/1 3/4",
             "tank": "T3", "canister": "C9"}
    with db.session(vet) as s:
        forms.record_production(s, farm.code, "flush", flush)
        forms.move_straws(s, farm.code, move_fields(farm, lot, straws="10"))  # lot emptied
        forms.receive_semen(s, farm.code, semen_fields(farm, bull=farm.own_bull, lot="OWN-1",
                                                       straws="3"))
    with db.session(vet) as s:
        stock = forms.inventory(s, farm.code)
    assert stock.herds == list(farm.herds)
    semen = stock.semen.drop(columns="lot_id").to_dict("records")
    assert semen == [
        {"herd": farm.herds[0], "bull": farm.own_bull, "lot": "OWN-1", "tank": "T1",
         "canister": "C1", "straws": 3},
        {"herd": farm.herds[1], "bull": farm.ref_bull, "lot": "L-24-01", "tank": "T2",
         "canister": "C1", "straws": 10},
    ]  # the emptied lot in the first herd is not listed
    flushed = f"{farm.cow(4)}-F{DAY:%Y%m%d}-01"  # 3/4 is discarded, not in stock
    assert stock.embryos.to_dict("records") == [
        {"code": bought_embryo, "grade": "7/1", "preservation": "frozen", "sire": farm.ref_bull,
         "herd": farm.herds[0], "tank": "T1", "canister": "C3"},
        {"code": flushed, "grade": "7/1", "preservation": "frozen", "sire": farm.ref_bull,
         "herd": farm.herds[0], "tank": "T3", "canister": "C9"},
    ]
    assert list(stock.lot_choices().values()) == stock.semen["lot_id"].tolist()
    assert "OWN-1" in next(iter(stock.lot_choices())) and "3 straw(s)" in next(
        iter(stock.lot_choices()))
    assert list(stock.embryo_choices().values()) == [bought_embryo, flushed]


# The page -----------------------------------------------------------------------------------
def page_as(db, pg_settings, identity) -> RecordWork:
    return RecordWork(PageContext(database=db, identity=identity, settings=pg_settings))


def form_named(page: RecordWork, name: str):
    """A form of the page (its column) and its widgets by label."""
    form = next(tab for tab in page._tabs if tab.name == name)
    return form, {w.label: w for w in form.objects if hasattr(w, "value")}


def fill(widgets, values: dict[str, object]) -> None:
    for label, value in values.items():
        widgets[label].value = value


def test_the_page_records_through_its_form_and_shows_refusals(db, system, pg_settings, farm, vet):
    page = page_as(db, pg_settings, vet)
    assert page.farm.value == farm.code and list(page.farm.options.values()) == [farm.code]
    form = page._tabs[0]
    widgets = {w.label: w for w in form.objects if hasattr(w, "value")}
    widgets["Cow (official ID)"].value = farm.cow(2)
    widgets["Date"].value = DAY
    widgets["Bull (official ID)"].value = farm.ref_bull
    form.objects[-1].clicks += 1  # the Record button
    assert page.result.alert_type == "success" and "is recorded" in page.result.object
    assert services(db, system, farm) == 1
    widgets["Cow (official ID)"].value = farm.own_bull  # a bull cannot be inseminated
    form.objects[-1].clicks += 1
    assert page.result.alert_type == "danger" and "Not recorded" in page.result.object
    assert farm.own_bull in page.result.object
    assert services(db, system, farm) == 1

    # Semen received into the first herd shows in the stock and in the lot picker
    receipt, widgets = form_named(page, "semen_receipt")
    assert widgets["Herd"].options == list(farm.herds)
    fill(widgets, {"Bull (official ID, own or catalogue)": farm.ref_bull, "Lot code": "L-7",
                   "Tank": "T1", "Canister": "C1", "Straws": "12", "Received on": DAY,
                   "Delivery note (reference)": "DN-77"})
    receipt.objects[-1].clicks += 1
    assert page.result.alert_type == "success" and "12 straw(s)" in page.result.object, page.result.object
    receipt.objects[-1].clicks += 1  # a double click counts once
    assert page.result.alert_type == "success" and "DN-77 is already recorded" in \
        page.result.object, page.result.object
    assert page.semen_stock.value[["herd", "lot", "straws"]].values.tolist() == [
        [farm.herds[0], "L-7", 12]]
    # … and 5 of them move to the second herd through the lot picker
    move, widgets = form_named(page, "straw_move")
    assert len(widgets["Lot in stock"].options) == 1
    assert widgets["Lot in stock"].value == page.semen_stock.value["lot_id"][0]
    fill(widgets, {"Straws": "5", "To herd": farm.herds[1], "Tank": "T2", "Canister": "C4",
                   "Moved on": DAY})
    move.objects[-1].clicks += 1
    assert page.result.alert_type == "success" and "5 straw(s) moved" in page.result.object
    assert sorted(page.semen_stock.value[["herd", "straws"]].values.tolist()) == [
        [farm.herds[0], 7], [farm.herds[1], 5]]
    assert len(widgets["Lot in stock"].options) == 2
    # more straws than the lot holds: refused by its rule, nothing moved
    widgets["Lot in stock"].value = page.semen_stock.value["lot_id"][0]
    fill(widgets, {"Straws": "50"})
    move.objects[-1].clicks += 1
    assert page.result.alert_type == "danger" and "inventory.out_of_stock" in page.result.object
    assert stock_rows(db, system, farm)[0] == {(farm.herds[0], "L-7", "T1", "C1", 7),
                                               (farm.herds[1], "L-7", "T2", "C4", 5)}


def test_the_page_receives_and_moves_an_embryo_and_follows_the_customer(
        db, system, pg_settings, reference_bull, farm, vet):
    other = make_farm(db, system, reference_bull)
    with db.session(system) as s:
        accounts.assign(s, vet.username, other.code)
        forms.receive_semen(s, other.code, semen_fields(other))
    page = page_as(db, pg_settings, vet)
    page.farm.value = farm.code
    receipt, widgets = form_named(page, "embryo_receipt")
    fill(widgets, {"Embryo code": "BANK-9", "Sire (official ID, own or catalogue)": farm.ref_bull,
                   "Grade as stage/quality (IETS), e.g. 7/1": "6/2",
                   "Produced on": date(2023, 6, 1), "Herd": farm.herds[0],
                   "Tank (frozen)": "T1", "Canister (frozen)": "C1", "Received on": DAY})
    receipt.objects[-1].clicks += 1
    assert page.result.alert_type == "success" and "BANK-9 is in stock" in page.result.object
    assert page.embryo_stock.value[["code", "grade", "herd"]].values.tolist() == [
        ["BANK-9", "6/2", farm.herds[0]]]
    move, widgets = form_named(page, "embryo_move")
    assert list(widgets["Embryo in stock"].options.values()) == ["BANK-9"]
    fill(widgets, {"To herd": farm.herds[1], "Moved on": DAY})
    move.objects[-1].clicks += 1
    assert page.result.alert_type == "success" and "now in" in page.result.object, page.result.object
    assert page.embryo_stock.value["herd"].tolist() == [farm.herds[1]]
    # the other customer: its herds and stock replace the first one's in pickers and tables
    page.farm.value = other.code
    assert form_named(page, "straw_move")[1]["To herd"].options == list(other.herds)
    assert page.semen_stock.value["herd"].tolist() == [other.herds[0]]
    assert page.embryo_stock.value.empty and not widgets["Embryo in stock"].options


def test_the_page_imports_an_uploaded_file(db, system, pg_settings, farm, vet):
    page = page_as(db, pg_settings, vet)
    page.file.filename = "events.csv"
    page.file.value = (f"event,animal,date,bull\n"
                       f"insemination,{farm.cow(3)},2024-03-04,{farm.ref_bull}\n").encode()
    page.upload()
    assert page.result.alert_type == "success" and "Imported 1 insemination" in page.result.object
    page.upload()
    assert "1 row(s) were already recorded" in page.result.object
    assert services(db, system, farm) == 1


def test_the_page_is_for_staff_who_record_work(db, pg_settings, world, vet):
    pages = registered_pages(("dashboards.entry",))
    slugs = {p.slug for p in pages_for(
        PageContext(database=db, identity=vet, settings=pg_settings), pages)}
    assert "record" in slugs
    for customer_user in ("w-a-user", "w-a-admin"):
        ctx = PageContext(database=db, identity=world.users[customer_user], settings=pg_settings)
        assert "record" not in {p.slug for p in pages_for(ctx, pages)}
    unassigned = world.users["w-lab"]
    ctx = PageContext(database=db, identity=unassigned, settings=pg_settings)
    assert "record" not in {p.slug for p in pages_for(ctx, pages)}


def test_a_flush_and_an_ivf_session_from_the_forms(db, system, farm, vet):
    from data_models.reproduction import Embryo

    flush = {"donor": farm.cow(4), "sire": farm.ref_bull, "date": DAY,
             "embryos": "7/1, 7/2 3/4", "preservation": "frozen", "tank": "T1", "canister": "C2"}
    with db.session(vet) as s:
        outcome = forms.record_production(s, farm.code, "flush", flush)
    assert outcome.record_id is not None and "embryo flush is recorded" in outcome.message
    with db.session(system) as s:
        stock = s.scalars(select(Embryo.status).where(Embryo.customer_id == farm.id)).all()
    assert sorted(stock) == ["discarded", "in_stock", "in_stock"]  # 3/4 is not transferable
    ivf = {"donor": farm.cow(5), "sire": farm.ref_bull, "date": DAY, "oocytes_collected": "12",
           "oocytes_cleaved": "15", "blastocysts": "4", "embryos": "7/1"}
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "ivf", ivf)
    assert "cleaved" in str(refused.value)
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "flush", {**flush, "embryos": "7-1"})
    assert refused.value.problems[0].column == "embryos" and "'7-1'" in str(refused.value)
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "ivf", {**ivf, "oocytes_cleaved": "ten"})
    assert refused.value.problems[0].column == "oocytes_cleaved"


def test_the_page_records_an_exit_and_then_refuses_her_events(db, system, pg_settings, farm,
                                                              vet):
    page = page_as(db, pg_settings, vet)
    form, widgets = form_named(page, "exit")
    fill(widgets, {"Animal (official ID)": farm.cow(4), "Date": DAY, "Reason": "slaughter",
                   "Cause (optional: infertility, mastitis, lameness, …)": "lameness"})
    form.objects[-1].clicks += 1
    assert page.result.alert_type == "success" and "exit is recorded" in page.result.object
    with db.session(system) as s:
        row = s.execute(text("SELECT x.exit_date, x.reason, x.cause FROM core.animal_exits x "
                             "JOIN core.animals a ON a.id = x.animal_id "
                             "WHERE a.official_id = :c"), {"c": farm.cow(4)}).one()
    assert tuple(row) == (DAY, "slaughter", "lameness")
    ai, widgets = form_named(page, "insemination")
    fill(widgets, {"Cow (official ID)": farm.cow(4), "Date": DAY + timedelta(days=3),
                   "Bull (official ID)": farm.ref_bull})
    ai.objects[-1].clicks += 1
    assert page.result.alert_type == "danger" and "repro.after_exit" in page.result.object
    assert services(db, system, farm) == 0
