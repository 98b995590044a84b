"""The same rules hold for a writer that bypasses reprotech_core (raw SQL): the database's rule
triggers refuse with SQLSTATE RT001 naming record and rule, and keep the stock right."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from data_models.tenancy import Customer
from reprotech_core.errors import RuleViolation
from reprotech_core.reproduction import (
    EmbryoGrade,
    FlushEntry,
    SemenReceipt,
    receive_semen,
    record_flush,
)

INSERT_AI = ("INSERT INTO core.inseminations (customer_id, cow_id, bull_id, semen_lot_id, "
             "service_date) SELECT :c, cow.id, bull.id, :lot, :d FROM core.animals cow, "
             "core.animals bull WHERE cow.official_id = :cow AND bull.official_id = :bull")


def raw(db, system, sql, **params):
    with db.session(system) as s:
        return s.execute(text(sql), params)


def ai(db, system, farm, cow, bull, day=date(2023, 1, 10), lot=None):
    return raw(db, system, INSERT_AI, c=farm.id, cow=cow, bull=bull, d=day, lot=lot)


@pytest.mark.parametrize(("cow", "bull", "rule", "words"), [
    ("{code}-BULL", "R-AIBULL", "repro.cow_sex", "insemination of {code}-BULL on 2023-01-10: "
     "cow {code}-BULL is male"),
    ("{code}-C1", "{code}-C2", "repro.bull_sex", "bull {code}-C2 is female"),
])
def test_sexes_are_checked_by_the_database(db, system, farm, cow, bull, rule, words):
    with pytest.raises(RuleViolation) as err:
        ai(db, system, farm, cow.format(code=farm.code), bull.format(code=farm.code))
    assert err.value.rule == rule and words.format(code=farm.code) in str(err.value)


def test_another_farms_bull_is_unknown_and_not_named(db, system, farm, reference_bull):
    from tests.reproduction.conftest import make_farm
    other = make_farm(db, system, reference_bull)
    with pytest.raises(RuleViolation) as err:
        ai(db, system, farm, farm.cow(1), other.own_bull)
    assert err.value.rule == "repro.animal_unknown"
    assert other.code not in str(err.value)


def test_dates_in_order_are_checked_by_the_database(db, system, farm):
    with pytest.raises(RuleViolation) as err:
        raw(db, system, "INSERT INTO core.pregnancy_diagnoses (customer_id, cow_id, "
            "diagnosis_date, method, result) SELECT :c, id, '2023-02-20', 'ultrasound', "
            "'open' FROM core.animals WHERE official_id = :cow", c=farm.id, cow=farm.cow(1))
    assert err.value.rule == "pregnancy.before_service"
    ai(db, system, farm, farm.cow(1), "R-AIBULL", date(2023, 1, 10))
    with pytest.raises(RuleViolation) as err:
        raw(db, system, "INSERT INTO core.calvings (customer_id, dam_id, calving_date, ease, "
            "calf_sex, stillborn) SELECT :c, id, '2023-06-01', 1, 'M', true "
            "FROM core.animals WHERE official_id = :cow", c=farm.id, cow=farm.cow(1))
    assert err.value.rule == "calving.before_conception"
    with pytest.raises(RuleViolation) as err:
        ai(db, system, farm, farm.cow(2), "R-AIBULL", date(2019, 6, 1))
    assert err.value.rule == "repro.before_birth"


def test_straws_in_stock_are_used_once(db, system, customer_of, farm):
    with db.session(system) as s:
        lot = receive_semen(s, customer_of(s, farm), SemenReceipt(
            farm.herds[0], "R-AIBULL", "DBL", "T", "C", 2, date(2023, 1, 1)))
    # Three straws in one statement, two in stock: refused whole, stock untouched.
    with pytest.raises(RuleViolation) as err:
        raw(db, system, "INSERT INTO core.inseminations (customer_id, cow_id, bull_id, "
            "semen_lot_id, service_date) SELECT :c, cow.id, bull.id, :lot, '2023-02-01' "
            "FROM core.animals cow, core.animals bull WHERE cow.official_id = ANY (:cows) "
            "AND bull.official_id = 'R-AIBULL'", c=farm.id, lot=lot,
            cows=[farm.cow(1), farm.cow(2), farm.cow(3)])
    assert err.value.rule == "inventory.out_of_stock" and "3 straw(s) used but 2" in str(err.value)
    ai(db, system, farm, farm.cow(1), "R-AIBULL", date(2023, 2, 1), lot)
    assert raw(db, system, "SELECT straws_in_stock FROM core.semen_lots WHERE id = :l",
               l=lot).scalar() == 1
    with pytest.raises(RuleViolation) as err:
        ai(db, system, farm, farm.cow(2), farm.own_bull, date(2023, 2, 1), lot)
    assert err.value.rule == "inventory.lot_bull"
    with pytest.raises(RuleViolation) as err:
        raw(db, system, "UPDATE core.inseminations SET semen_lot_id = NULL WHERE customer_id = :c",
            c=farm.id)
    assert err.value.rule == "inventory.use_is_final"


def test_an_embryo_is_transferred_once_by_the_database(db, system, customer_of, farm):
    with db.session(system) as s:
        record_flush(s, customer_of(s, farm), FlushEntry(farm.cow(1), "R-AIBULL",
                                                         date(2023, 1, 5), [EmbryoGrade(6, 1)]))
    sql = ("INSERT INTO core.embryo_transfers (customer_id, recipient_id, embryo_id, "
           "transfer_date, preservation) SELECT :c, a.id, e.id, '2023-01-20', 'frozen' "
           "FROM core.animals a, core.embryos e WHERE a.official_id = :cow AND e.customer_id = :c")
    raw(db, system, sql, c=farm.id, cow=farm.cow(2))
    with pytest.raises(RuleViolation) as err:
        raw(db, system, sql, c=farm.id, cow=farm.cow(3))
    assert err.value.rule in ("unique", "embryo.not_in_stock")
    assert raw(db, system, "SELECT status FROM core.embryos WHERE customer_id = :c",
               c=farm.id).scalar() == "transferred"


def test_reproduction_writes_are_audited(db, system, farm):
    ai(db, system, farm, farm.cow(4), "R-AIBULL")
    rows = raw(db, system, "SELECT action, new_values->>'service_date' FROM audit.log "
               "WHERE table_name = 'core.inseminations' AND customer_id = :c", c=farm.id).all()
    assert [tuple(r) for r in rows] == [("INSERT", "2023-01-10")]


def test_a_delivery_note_is_recorded_once_per_customer_by_the_database(db, system, farm):
    """Raw SQL bypassing reprotech_core cannot record a receipt's delivery note twice; other
    movements and receipts without a reference are not concerned."""
    with db.session(system) as s:
        lot = receive_semen(s, s.get(Customer, farm.id), SemenReceipt(
            farm.herds[0], "R-AIBULL", "L-DB", "T1", "C1", 5, date(2023, 1, 2),
            reference="DN-RAW-1"))
    insert = ("INSERT INTO core.inventory_movements (customer_id, kind, semen_lot_id, straws, "
              "moved_on, reference) VALUES (:c, :kind, :lot, 5, '2023-01-02', :ref)")
    with pytest.raises(RuleViolation) as err:
        raw(db, system, insert, c=farm.id, kind="receipt", lot=lot, ref="DN-RAW-1")
    assert err.value.rule == "unique" and "uq_inventory_movements_customer_id_reference" in \
        str(err.value)
    raw(db, system, insert, c=farm.id, kind="receipt", lot=lot, ref=None)
    raw(db, system, insert, c=farm.id, kind="receipt", lot=lot, ref="DN-RAW-2")
    raw(db, system, insert, c=farm.id, kind="discard", lot=lot, ref="DN-RAW-1")
    with db.session(system) as s:
        index = s.scalar(text("SELECT pg_get_indexdef('core.uq_inventory_movements_customer_id_"
                              "reference'::regclass)"))
    assert "UNIQUE" in index and "(customer_id, reference)" in index
    assert "kind)::text = 'receipt'" in index and "reference IS NOT NULL" in index
