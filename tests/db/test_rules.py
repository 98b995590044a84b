"""Business rules on records: each refused with a message naming record and rule, and
nothing half-written."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from sqlalchemy import func, select, text

from data_models.animals import Animal
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation, UnsafeDatabaseLogin
from reprotech_core.db.session import Database


def count_animals(db, system, customer_id):
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(Animal)
                        .where(Animal.customer_id == customer_id))


@pytest.mark.parametrize(
    ("records", "rule", "words"),
    [
        ([AnimalRecord("R-1", "Holstein", "F"), AnimalRecord("R-1", "Holstein", "F")],
         "animal.duplicate_in_batch", "R-1"),
        ([AnimalRecord("WA-COW", "Holstein", "F")], "animal.duplicate", "WA-COW"),
        ([AnimalRecord("R-2", "Holstein", "F", date(2022, 1, 1), dam="WA-CALF", sire="WA-COW")],
         "pedigree.sire_sex", "sire WA-COW is female"),
        ([AnimalRecord("R-3", "Holstein", "F", date(2017, 1, 1), dam="WA-COW")],
         "pedigree.parent_born_after_calf", "dam WA-COW was born 2018-03-01"),
        ([AnimalRecord("R-4", "Holstein", "F", sire="WB-COW")],
         "pedigree.parent_unknown", "not an animal of this customer"),
        ([AnimalRecord("R-5", "Holstein", "F", sire="R-6"),
          AnimalRecord("R-6", "Holstein", "M", sire="R-5")], "pedigree.loop", "R-5 -> R-6"),
        ([AnimalRecord("R-7", "Holstein", "F", herd_code="w-b-h")],
         "animal.herd_unknown", "not a herd of w-a"),
    ],
)
def test_bad_animal_batches_are_refused_whole(db, system, world, records, rule, words):
    before = count_animals(db, system, world.farm_a)
    ok = AnimalRecord("R-GOOD", "Holstein", "F")
    with pytest.raises(RuleViolation) as refused:
        with db.session(system) as s:
            register_animals(s, accounts.customer_by_code(s, "w-a"), [ok, *records])
    assert refused.value.rule == rule
    assert words in str(refused.value)
    assert count_animals(db, system, world.farm_a) == before  # R-GOOD was not kept either


def test_database_refuses_a_pedigree_loop_made_by_update(db, system, world, notebook):
    conn = notebook("w-vet", autocommit=False)
    # Undated animals, so that only the loop rule can object: G -> M -> D, then G's dam := D.
    ids = {}
    for oid, dam in (("L-G", None), ("L-M", "L-G"), ("L-D", "L-M")):
        ids[oid] = conn.execute(
            "INSERT INTO core.animals (customer_id, official_id, breed, sex, dam_id) "
            "VALUES (%s, %s, 'Holstein', 'F', %s) RETURNING id",
            (world.farm_a, oid, ids.get(dam))).fetchone()[0]
    with pytest.raises(psycopg.DatabaseError, match="own ancestor") as refused:
        conn.execute("UPDATE core.animals SET dam_id = %s WHERE id = %s",
                     (ids["L-D"], ids["L-G"]))
    assert refused.value.sqlstate == "RT001"
    assert refused.value.diag.message_detail == "rule: pedigree.loop"
    conn.rollback()


def test_sex_and_birth_date_of_a_parent_stay_consistent(db, world):
    vet = world.users["w-vet"]
    with pytest.raises(RuleViolation, match="sex cannot change"):
        with db.session(vet) as s:
            s.execute(text("UPDATE core.animals SET sex = 'M' WHERE official_id = 'WA-COW'"))
    with pytest.raises(RuleViolation, match="not before the birth of all its recorded progeny"):
        with db.session(vet) as s:
            s.execute(text("UPDATE core.animals SET birth_date = '2022-01-01' "
                           "WHERE official_id = 'WA-COW'"))


def test_tier_animal_limit_is_enforced_per_statement_and_all_or_nothing(db, system):
    with db.session(system) as s:
        s.execute(text("INSERT INTO core.subscription_tiers VALUES "
                       "('tiny', 'Tiny', 3, 2, ARRAY['genomics'])"))
        farm = accounts.create_customer(s, code="tiny-farm", name="Tiny", tier="tiny")
        register_animals(s, farm, [AnimalRecord(f"T-{i}", "Jersey", "F") for i in range(2)])
    with pytest.raises(RuleViolation) as refused:
        with db.session(system) as s:
            register_animals(s, accounts.customer_by_code(s, "tiny-farm"),
                             [AnimalRecord(f"T-{i}", "Jersey", "F") for i in range(2, 4)])
    assert refused.value.rule == "tier.max_animals"
    assert "4 animals exceed the Tiny tier limit of 3" in str(refused.value)
    assert count_animals(db, system, farm.id) == 2
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("tiny-1", "t", "customer_user", "tiny-farm"))
        accounts.create_user(s, accounts.NewUser("tiny-2", "t", "customer_user", "tiny-farm"))
    with pytest.raises(RuleViolation, match="tier limit of 2"):
        with db.session(system) as s:
            accounts.create_user(s, accounts.NewUser("tiny-3", "t", "customer_user",
                                                     "tiny-farm"))


def test_customer_admin_manages_own_organisation_users_only(db, world):
    cadmin = world.users["w-a-admin"]
    with db.session(cadmin) as s:
        accounts.create_user(s, accounts.NewUser("w-a-new", "New", "customer_user", "w-a"))
    with pytest.raises(NotFound, match="no customer 'w-b'"):  # it cannot even see w-b
        with db.session(cadmin) as s:
            accounts.create_user(s, accounts.NewUser("w-b-new", "X", "customer_user", "w-b"))
    with pytest.raises((PermissionDenied, RuleViolation)):
        with db.session(cadmin) as s:
            accounts.create_user(s, accounts.NewUser("w-a-boss", "X", "admin"))
    with pytest.raises(PermissionDenied):
        with db.session(cadmin) as s:
            s.execute(text("UPDATE core.users SET role = 'admin', customer_id = NULL "
                           "WHERE username = 'w-a-new'"))


def test_batch_stages_follow_the_lab_order(db, system):
    with db.session(system) as s:
        bid = s.scalar(text("INSERT INTO core.genotyping_batches (name) VALUES ('B-1') "
                            "RETURNING id"))
        s.execute(text("UPDATE core.genotyping_batches SET stage = 'extracted' WHERE id = :i"),
                  {"i": bid})
    with pytest.raises(RuleViolation, match="cannot move from extracted to released"):
        with db.session(system) as s:
            s.execute(text("UPDATE core.genotyping_batches SET stage = 'released' "
                           "WHERE id = :i"), {"i": bid})
    with db.session(system) as s:
        stages = s.scalars(text("SELECT stage FROM core.batch_stage_events "
                                "WHERE batch_id = :i ORDER BY id"), {"i": bid}).all()
    assert stages == ["received", "extracted"]


def test_app_refuses_to_run_as_a_login_that_bypasses_row_security(pg_settings):
    from reprotech_core.db.migrate import admin_url

    with pytest.raises(UnsafeDatabaseLogin, match="superuser"):
        Database(admin_url(pg_settings))


def test_unreachable_database_is_a_clear_error():
    from reprotech_core.errors import DatabaseError

    with pytest.raises(DatabaseError, match="cannot reach the database"):
        Database("postgresql+psycopg://reprotech_app:x@127.0.0.1:9/none")


def test_a_parent_id_in_two_reference_catalogues_is_ambiguous_not_guessed(db, system, world):
    with db.session(system) as s:
        for code in ("amb-ref1", "amb-ref2"):
            ref = accounts.create_customer(s, code=code, name=code, tier="reference",
                                           kind="reference")
            register_animals(s, ref, [AnimalRecord("AMB-BULL", "Jersey", "M")])
    with pytest.raises(RuleViolation) as refused:
        with db.session(system) as s:
            register_animals(s, accounts.customer_by_code(s, "w-a"),
                             [AnimalRecord("WA-AMB", "Jersey", "F", sire="AMB-BULL")])
    assert refused.value.rule == "pedigree.parent_ambiguous" and "AMB-BULL" in str(refused.value)
