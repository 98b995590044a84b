"""Every reproduction rule, accepted and refused, through the domain functions (the forms'
path): refusals name the record and the rule, and write nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from data_models.animals import Animal
from data_models.reproduction import Embryo, Insemination, SemenLot
from reprotech_core.reproduction import (
    CalvingEntry,
    DiagnosisEntry,
    EmbryoGrade,
    FlushEntry,
    InseminationEntry,
    IvfEntry,
    RecordRefused,
    SemenReceipt,
    TransferEntry,
    move_embryo,
    move_straws,
    receive_semen,
    receive_semen_many,
    record_calving,
    record_diagnosis,
    record_flush,
    record_insemination,
    record_ivf_session,
    record_transfer,
)

D0 = date(2023, 3, 1)


def put(db, system, customer_of, farm, fn, entry, **kw):
    with db.session(system) as s:
        return fn(s, customer_of(s, farm), entry, **kw)


def refused(db, system, customer_of, farm, fn, entry, rule, words):
    with pytest.raises(RecordRefused) as err:
        put(db, system, customer_of, farm, fn, entry)
    assert rule in [p.rule for p in err.value.problems], err.value.problems
    assert words in str(err.value)
    return err.value


def count(db, system, model, farm):
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(model)
                        .where(model.customer_id == farm.id))


# -- inseminations ---------------------------------------------------------------------------
def test_insemination_accepted_and_idempotent(db, system, customer_of, farm):
    e = InseminationEntry(farm.cow(1), farm.ref_bull, D0, "timed", "T. Tech")
    new_id = put(db, system, customer_of, farm, record_insemination, e)
    assert isinstance(new_id, int)
    assert put(db, system, customer_of, farm, record_insemination, e) is None
    assert count(db, system, Insemination, farm) == 1


@pytest.mark.parametrize(("entry", "rule", "words"), [
    (lambda f: InseminationEntry(f.own_bull, f.ref_bull, D0), "repro.cow_sex",
     "cow {code}-BULL is male; a cow must be female"),
    (lambda f: InseminationEntry(f.cow(1), f.cow(2), D0), "repro.bull_sex",
     "bull {code}-C2 is female"),
    (lambda f: InseminationEntry("NOBODY", f.ref_bull, D0), "repro.animal_unknown",
     "cow 'NOBODY' is not an animal of this customer"),
    (lambda f: InseminationEntry(f.cow(1), f.ref_bull, date(2019, 5, 1)), "repro.before_birth",
     "was born 2020-01-01"),
    (lambda f: InseminationEntry(f.cow(1), f.ref_bull, date.today() + timedelta(days=3)),
     "repro.future_date", "in the future"),
    (lambda f: InseminationEntry(f.cow(1), f.ref_bull, D0, "guess"), "repro.service_type",
     "service type 'guess'"),
    (lambda f: InseminationEntry(f.cow(1), f.ref_bull, D0, semen_lot="LOT-X"),
     "inventory.lot_unknown", "no semen lot 'LOT-X'"),
])
def test_insemination_rules(db, system, customer_of, farm, entry, rule, words):
    refused(db, system, customer_of, farm, record_insemination, entry(farm), rule,
            words.format(code=farm.code))
    assert count(db, system, Insemination, farm) == 0


def test_another_farms_cow_is_unknown(db, system, customer_of, farm, reference_bull):
    from tests.reproduction.conftest import make_farm
    other = make_farm(db, system, reference_bull)
    refused(db, system, customer_of, farm, record_insemination,
            InseminationEntry(other.cow(1), farm.ref_bull, D0), "repro.animal_unknown",
            "not an animal of this customer")


def test_two_different_services_on_one_day_are_refused(db, system, customer_of, farm):
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, D0))
    refused(db, system, customer_of, farm, record_insemination,
            InseminationEntry(farm.cow(1), farm.own_bull, D0), "insemination.duplicate",
            "already has an insemination")


def test_a_straw_is_used_once_and_only_if_in_stock(db, system, customer_of, farm):
    lot = put(db, system, customer_of, farm, receive_semen, SemenReceipt(
        farm.herds[0], farm.ref_bull, "LOT-1", "T1", "C3", 1, D0 - timedelta(days=30), "Genex"))
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, D0, semen_lot="LOT-1"))
    with db.session(system) as s:
        assert s.get(SemenLot, lot).straws_in_stock == 0
    refused(db, system, customer_of, farm, record_insemination,
            InseminationEntry(farm.cow(2), farm.ref_bull, D0, semen_lot="LOT-1"),
            "inventory.out_of_stock", "has no straw left")
    # The lot is of another bull than the one named: no such lot for that bull.
    refused(db, system, customer_of, farm, record_insemination,
            InseminationEntry(farm.cow(3), farm.own_bull, D0, semen_lot="LOT-1"),
            "inventory.lot_unknown", "no semen lot 'LOT-1' of bull")


def test_semen_receipt_rules_and_moves_between_herds(db, system, customer_of, farm):
    refused(db, system, customer_of, farm, receive_semen, SemenReceipt(
        "nope", farm.ref_bull, "L", "T", "C", 0, D0), "inventory.straws", "0 straws")
    refused(db, system, customer_of, farm, receive_semen, SemenReceipt(
        "nope", farm.ref_bull, "L", "T", "C", 5, D0), "repro.herd_unknown", "herd 'nope'")
    lot = put(db, system, customer_of, farm, receive_semen, SemenReceipt(
        farm.herds[0], farm.ref_bull, "L2", "T1", "C1", 10, D0))
    with db.session(system) as s:
        cust = customer_of(s, farm)
        target = move_straws(s, cust, lot, to_herd=farm.herds[1], tank="T9", canister="C2",
                             straws=4, moved_on=D0)
        with pytest.raises(RecordRefused, match="6 straw"):
            move_straws(s, cust, lot, to_herd=farm.herds[1], tank="T9", canister="C2",
                        straws=7, moved_on=D0)
    with db.session(system) as s:
        assert (s.get(SemenLot, lot).straws_in_stock, s.get(SemenLot, target).straws_in_stock) \
            == (6, 4)
        moves = s.execute(text("SELECT kind, straws FROM core.inventory_movements "
                               "WHERE customer_id = :c ORDER BY id"), {"c": farm.id}).all()
    assert [tuple(m) for m in moves] == [("receipt", 10), ("transfer_out", 4), ("transfer_in", 4)]


def receipts(db, system, farm) -> list[tuple]:
    with db.session(system) as s:
        return [tuple(r) for r in s.execute(text(
            "SELECT m.reference, m.straws, l.straws_in_stock FROM core.inventory_movements m "
            "JOIN core.semen_lots l ON l.id = m.semen_lot_id WHERE m.customer_id = :c "
            "AND m.kind = 'receipt' ORDER BY m.id"), {"c": farm.id})]


def test_a_receipt_entered_again_under_its_delivery_note_counts_once(db, system, customer_of,
                                                                      farm):
    receipt = SemenReceipt(farm.herds[0], farm.ref_bull, "L-DN", "T1", "C1", 10, D0, "Genex",
                           reference="DN-2024-0117")
    lot = put(db, system, customer_of, farm, receive_semen, receipt)
    assert put(db, system, customer_of, farm, receive_semen, receipt) == lot
    # in one batch too: the stored one and a repeat of a new one are written once
    other = SemenReceipt(farm.herds[1], farm.ref_bull, "L-DN", "T1", "C1", 3, D0,
                         reference="DN-2024-0118")
    with db.session(system) as s:
        lots = receive_semen_many(s, customer_of(s, farm), [receipt, other, other])
    assert lots[0] == lot and lots[1] == lots[2] != lot
    assert receipts(db, system, farm) == [("DN-2024-0117", 10, 10), ("DN-2024-0118", 3, 3)]


@pytest.mark.parametrize(("changes", "differs"), [
    ({"straws": 12}, "straws"),
    ({"bull": "R-AIBULL2"}, "bull"),
    ({"lot_code": "L-OTHER"}, "lot_code"),
    ({"herd": "{h2}"}, "herd"),
    ({"received_on": D0 + timedelta(days=1)}, "received_on"),
    ({"tank": "T2", "canister": "C9"}, "tank, canister"),
    ({"supplier": "Another centre"}, "supplier"),
])
def test_a_delivery_note_recorded_with_other_values_is_refused(db, system, customer_of, farm,
                                                                changes, differs):
    from dataclasses import replace

    receipt = SemenReceipt(farm.herds[0], farm.ref_bull, "L-DN", "T1", "C1", 10, D0, "Genex",
                           reference="DN-7")
    put(db, system, customer_of, farm, receive_semen, receipt)
    before = receipts(db, system, farm)
    changed = replace(receipt, **{k: v.format(h2=farm.herds[1]) if isinstance(v, str) else v
                                  for k, v in changes.items()})
    err = refused(db, system, customer_of, farm, receive_semen, changed,
                  "inventory.receipt_duplicate", "delivery note DN-7 is already recorded as "
                  f"10 straw(s) of R-AIBULL lot L-DN into {farm.herds[0]}, tank T1, canister "
                  f"C1 on {D0} from Genex; this entry differs in {differs}")
    assert err.problems[0].column == "reference"
    assert receipts(db, system, farm) == before
    # a batch holding it is refused whole, the good receipt with it included
    good = replace(receipt, reference="DN-8")
    with db.session(system) as s, pytest.raises(RecordRefused):
        receive_semen_many(s, customer_of(s, farm), [good, changed])
    # and so is one reference given twice with different values
    with db.session(system) as s, pytest.raises(RecordRefused, match="given twice"):
        receive_semen_many(s, customer_of(s, farm), [good, replace(good, straws=1)])
    assert receipts(db, system, farm) == before


def test_without_a_delivery_note_a_receipt_entered_again_counts_again(db, system, customer_of,
                                                                     farm):
    receipt = SemenReceipt(farm.herds[0], farm.ref_bull, "L-NO-DN", "T1", "C1", 10, D0)
    lot = put(db, system, customer_of, farm, receive_semen, receipt)
    assert put(db, system, customer_of, farm, receive_semen, receipt) == lot
    assert receipts(db, system, farm) == [(None, 10, 20), (None, 10, 20)]


def test_delivery_notes_are_per_customer(db, system, customer_of, farm, reference_bull):
    from tests.reproduction.conftest import make_farm

    other = make_farm(db, system, reference_bull)
    for f in (farm, other):
        put(db, system, customer_of, f, receive_semen, SemenReceipt(
            f.herds[0], f.ref_bull, "L-DN", "T1", "C1", 4, D0, reference="DN-SHARED"))
    assert receipts(db, system, farm) == receipts(db, system, other) == [("DN-SHARED", 4, 4)]


def test_a_delivery_note_recorded_by_a_racing_entry_is_refused(db, system, customer_of, farm):
    """Two submissions at once: both pass the check; the unique index holds the second back
    until the first commits and then refuses it, with the rule's code."""
    import threading

    receipt = SemenReceipt(farm.herds[0], farm.ref_bull, "L-RACE", "T1", "C1", 6, D0,
                           reference="DN-RACE")
    outcome: list[object] = []
    with db.session(system) as first:
        put_first = receive_semen(first, customer_of(first, farm), receipt)

        def second() -> None:
            try:
                outcome.append(put(db, system, customer_of, farm, receive_semen, receipt))
            except RecordRefused as exc:
                outcome.append(exc)

        racer = threading.Thread(target=second)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive()  # waiting on the first's uncommitted index entry
    racer.join(30)
    assert isinstance(outcome[0], RecordRefused), outcome
    assert outcome[0].problems[0].rule == "inventory.receipt_duplicate"
    assert receipts(db, system, farm) == [("DN-RACE", 6, 6)] and put_first


# -- pregnancy diagnoses ---------------------------------------------------------------------
def test_no_pregnancy_check_before_breeding(db, system, customer_of, farm):
    pd_entry = DiagnosisEntry(farm.cow(1), D0 + timedelta(days=35), "ultrasound", "pregnant", 35)
    refused(db, system, customer_of, farm, record_diagnosis, pd_entry,
            "pregnancy.before_service", "no insemination or embryo transfer before this date")
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, D0))
    assert put(db, system, customer_of, farm, record_diagnosis, pd_entry)
    assert put(db, system, customer_of, farm, record_diagnosis, pd_entry) is None
    refused(db, system, customer_of, farm, record_diagnosis,
            DiagnosisEntry(farm.cow(1), D0 + timedelta(days=35), "palpation", "open"),
            "diagnosis.duplicate", "another diagnosis")
    refused(db, system, customer_of, farm, record_diagnosis,
            DiagnosisEntry(farm.cow(1), D0 + timedelta(days=40), "ultrasound", "open", 40),
            "pregnancy.days", "needs result 'pregnant'")
    refused(db, system, customer_of, farm, record_diagnosis,
            DiagnosisEntry(farm.cow(1), D0 + timedelta(days=40), "xray", "maybe"),
            "repro.method", "method 'xray'")


# -- calvings --------------------------------------------------------------------------------
def test_calving_registers_the_calf_with_its_parents(db, system, customer_of, farm):
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, D0))
    day = D0 + timedelta(days=281)
    calving = CalvingEntry(farm.cow(1), day, 2, "F", calf=f"{farm.code}-K1")
    assert put(db, system, customer_of, farm, record_calving, calving)
    with db.session(system) as s:
        calf = s.scalar(select(Animal).where(Animal.official_id == f"{farm.code}-K1"))
        names = {r.id: r.official_id for r in s.execute(
            select(Animal.id, Animal.official_id)
            .where(Animal.id.in_([calf.sire_id, calf.dam_id])))}
    assert (names[calf.sire_id], names[calf.dam_id]) == (farm.ref_bull, farm.cow(1))
    assert (calf.birth_date, calf.sex, calf.customer_id) == (day, "F", farm.id)
    assert put(db, system, customer_of, farm, record_calving, calving) is None  # idempotent
    refused(db, system, customer_of, farm, record_calving,
            CalvingEntry(farm.cow(1), day, 1, "M", calf=f"{farm.code}-K1", calf_number=2),
            "calving.calf_taken", "already the calf of another calving")


def test_no_calving_before_conception(db, system, customer_of, farm):
    refused(db, system, customer_of, farm, record_calving,
            CalvingEntry(farm.cow(1), D0, 1, "M", calf="X1"), "calving.before_conception",
            "(none recorded)")
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, D0))
    err = refused(db, system, customer_of, farm, record_calving,
                  CalvingEntry(farm.cow(1), D0 + timedelta(days=100), 1, "M", calf="X1"),
                  "calving.before_conception", "latest service 2023-03-01, 100 days before")
    assert f"calving of {farm.cow(1)} on 2023-06-09" in str(err)


def test_calf_parents_must_agree_with_the_service(db, system, customer_of, farm):
    put(db, system, customer_of, farm, record_insemination,
        InseminationEntry(farm.cow(1), farm.ref_bull, D0))
    day = D0 + timedelta(days=280)
    refused(db, system, customer_of, farm, record_calving,
            CalvingEntry(farm.cow(1), day, 1, "M", calf="X2", sire=farm.own_bull),
            "calving.pedigree_mismatch", f"sire {farm.own_bull} disagrees")
    # An already registered calf whose recorded sire is another bull.
    from reprotech_core.animals import AnimalRecord, register_animals
    with db.session(system) as s:
        register_animals(s, customer_of(s, farm), [AnimalRecord(
            f"{farm.code}-K9", "Holstein", "M", day, herd_code=farm.herds[0],
            sire=farm.own_bull, dam=farm.cow(1))])
    refused(db, system, customer_of, farm, record_calving,
            CalvingEntry(farm.cow(1), day, 1, "M", calf=f"{farm.code}-K9"),
            "calving.pedigree_mismatch", f"registered with sire {farm.own_bull}")
    refused(db, system, customer_of, farm, record_calving,
            CalvingEntry(farm.cow(1), day, 1, "M", calf=None), "calving.calf_missing",
            "live calf needs")
    assert put(db, system, customer_of, farm, record_calving,
               CalvingEntry(farm.cow(1), day, 4, "M", stillborn=True))


# -- embryos: flushes, IVF, transfers --------------------------------------------------------
GRADES = [EmbryoGrade(6, 1), EmbryoGrade(7, 2), EmbryoGrade(5, 3), EmbryoGrade(1, 4)]


def test_flush_stocks_transferable_embryos(db, system, customer_of, farm):
    refused(db, system, customer_of, farm, record_flush,
            FlushEntry(farm.own_bull, farm.ref_bull, D0, GRADES), "repro.donor_sex", "is male")
    refused(db, system, customer_of, farm, record_flush,
            FlushEntry(farm.cow(1), farm.ref_bull, D0, [EmbryoGrade(10, 1)]), "embryo.grade",
            "stages are 1-9")
    put(db, system, customer_of, farm, record_flush,
        FlushEntry(farm.cow(1), farm.ref_bull, D0, GRADES, tank="T1", canister="C1"))
    with db.session(system) as s:
        got = s.execute(select(Embryo.code, Embryo.status).where(Embryo.customer_id == farm.id)
                        .order_by(Embryo.code)).all()
    assert [st for _, st in got] == ["in_stock"] * 3 + ["discarded"]
    assert got[0][0] == f"{farm.cow(1)}-F20230301-01"


def test_ivf_counts_must_be_in_order(db, system, customer_of, farm):
    refused(db, system, customer_of, farm, record_ivf_session,
            IvfEntry(farm.cow(2), farm.ref_bull, D0, 10, 12, 3), "ivf.counts",
            "cleaved (12) <= oocytes collected (10)")
    refused(db, system, customer_of, farm, record_ivf_session,
            IvfEntry(farm.cow(2), farm.ref_bull, D0, 10, 8, 1, [EmbryoGrade(7, 1)] * 2),
            "ivf.embryos", "2 embryos graded from 1 blastocysts")
    assert put(db, system, customer_of, farm, record_ivf_session,
               IvfEntry(farm.cow(2), farm.ref_bull, D0, 12, 9, 4, [EmbryoGrade(7, 1)] * 2))


def test_an_embryo_is_transferred_once_to_a_female(db, system, customer_of, farm):
    put(db, system, customer_of, farm, record_flush,
        FlushEntry(farm.cow(1), farm.ref_bull, D0, GRADES, preservation="fresh"))
    code = f"{farm.cow(1)}-F20230301-01"
    refused(db, system, customer_of, farm, record_transfer,
            TransferEntry(farm.own_bull, code, D0, "fresh"), "repro.recipient_sex", "is male")
    refused(db, system, customer_of, farm, record_transfer,
            TransferEntry(farm.cow(2), code, D0 - timedelta(days=1), "fresh"),
            "transfer.before_embryo", "after the transfer")
    refused(db, system, customer_of, farm, record_transfer,
            TransferEntry(farm.cow(2), code, D0 + timedelta(days=5), "fresh"), "transfer.fresh",
            "cannot be transferred fresh")
    refused(db, system, customer_of, farm, record_transfer,
            TransferEntry(farm.cow(2), "NO-SUCH", D0, "fresh"), "embryo.unknown", "'NO-SUCH'")
    assert put(db, system, customer_of, farm, record_transfer,
               TransferEntry(farm.cow(2), code, D0, "fresh"))
    refused(db, system, customer_of, farm, record_transfer,
            TransferEntry(farm.cow(3), code, D0, "fresh"), "embryo.not_in_stock",
            "is transferred")
    discarded = f"{farm.cow(1)}-F20230301-04"
    refused(db, system, customer_of, farm, record_transfer,
            TransferEntry(farm.cow(3), discarded, D0, "fresh"), "embryo.not_in_stock",
            "is discarded")


def test_embryo_transfer_calf_has_the_donor_as_dam(db, system, customer_of, farm):
    put(db, system, customer_of, farm, record_flush,
        FlushEntry(farm.cow(1), farm.own_bull, D0, GRADES))
    code = f"{farm.cow(1)}-F20230301-02"
    with db.session(system) as s:
        move_embryo(s, customer_of(s, farm), code, to_herd=farm.herds[1], tank="T2",
                    canister="C9", moved_on=D0 + timedelta(days=2))
    put(db, system, customer_of, farm, record_transfer,
        TransferEntry(farm.cow(3), code, D0 + timedelta(days=7), "frozen"))
    put(db, system, customer_of, farm, record_diagnosis,
        DiagnosisEntry(farm.cow(3), D0 + timedelta(days=40), "ultrasound", "pregnant", 40))
    put(db, system, customer_of, farm, record_calving,
        CalvingEntry(farm.cow(3), D0 + timedelta(days=285), 1, "F", calf=f"{farm.code}-ET1"))
    with db.session(system) as s:
        calf = s.scalar(select(Animal).where(Animal.official_id == f"{farm.code}-ET1"))
        dam = s.get(Animal, calf.dam_id).official_id
        sire = s.get(Animal, calf.sire_id).official_id
    assert (dam, sire) == (farm.cow(1), farm.own_bull)


def test_bought_in_embryos_enter_stock_and_are_transferred(db, system, customer_of, farm):
    from reprotech_core.reproduction import EmbryoReceipt, receive_embryos

    good = EmbryoReceipt(farm.herds[1], "BANK-1", "R-AIBULL", 7, 1, date(2022, 5, 1), D0,
                         supplier="Embryo bank")
    with pytest.raises(RecordRefused) as err:
        with db.session(system) as s:
            receive_embryos(s, customer_of(s, farm), [good, EmbryoReceipt(
                farm.herds[1], "BANK-2", farm.cow(1), 7, 5, date(2023, 5, 1), D0)])
    assert {p.rule for p in err.value.problems} == {
        "repro.sire_sex", "embryo.grade", "embryo.received_before_produced"}
    with db.session(system) as s:
        [eid] = receive_embryos(s, customer_of(s, farm), [good])
        assert s.get(Embryo, eid).status == "in_stock"
    assert put(db, system, customer_of, farm, record_transfer,
               TransferEntry(farm.cow(4), "BANK-1", D0 + timedelta(days=3), "frozen"))
