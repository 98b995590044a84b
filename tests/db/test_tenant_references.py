"""Defence in depth: a record never names another farm's animal, whoever writes it.

Foreign keys ignore row security, so a plain ``bull_id`` foreign key let a vet record a semen
lot whose bull is another customer's animal. The references that must stay in the customer are
composite foreign keys; those that may also name the shared AI-sire catalogue are checked by
triggers (migration 0013). Each forged reference below is written by raw SQL, as the
application would if its own checks were skipped and as a notebook can at any time; each is
refused with a rule naming the column, and nothing stored changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date

import psycopg
import pytest
from sqlalchemy import text

import data_models
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.errors import RuleViolation
from tests import support

FOREIGN_BULL = "WB-TREF-BULL"
HOME_BULL = "WA-TREF-BULL"
UNKNOWN = "is not an animal of this customer"
WATCHED = ("customers", "animals", "semen_lots", "inseminations", "embryo_flushes",
           "ivf_sessions", "embryos", "parentage_results", "inventory_movements")


@pytest.fixture(scope="module")
def bulls(db, system, world) -> dict[str, int]:
    """A bull on each farm: farm B's is the one forged references name."""
    with db.session(system) as s:
        ids = register_animals(s, accounts.customer_by_code(s, "w-b"), [
            AnimalRecord(FOREIGN_BULL, "Jersey", "M", date(2016, 1, 1), herd_code="w-b-h")])
        ids |= register_animals(s, accounts.customer_by_code(s, "w-a"), [
            AnimalRecord(HOME_BULL, "Holstein", "M", date(2016, 1, 1), herd_code="w-a-h")])
        herds = dict(s.execute(text("SELECT customer_id, id FROM core.herds "
                                    "WHERE code IN ('w-a-h', 'w-b-h')")).all())
    return {**ids, "herd_a": herds[world.farm_a], "herd_b": herds[world.farm_b]}


def unchanged(admin_conninfo: str) -> AbstractContextManager[None]:
    """Assert the block changes none of the watched tables nor the audit log."""
    return support.unchanged(admin_conninfo, WATCHED)


class Rollback(Exception):
    """Raised to leave a session without committing what an accepted write did."""


@contextmanager
def rolled_back(db, identity, **kwargs) -> Iterator:
    try:
        with db.session(identity, **kwargs) as s:
            yield s
            raise Rollback
    except Rollback:
        pass


def forged_rows(world, bulls) -> dict[str, tuple[str, dict]]:
    """One INSERT per catalogue-reference column, naming a farm B animal in a farm A record."""
    common = {"a": world.farm_a, "h": bulls["herd_a"], "cow": world.animals["WA-COW"],
              "calf": world.animals["WA-CALF"], "b_bull": bulls[FOREIGN_BULL]}
    b_cow, ref = world.animals["WB-COW"], world.animals["W-BULL"]
    embryo = ("INSERT INTO core.embryos (customer_id, herd_id, code, donor_id, sire_id, "
              "produced_on, stage, quality, preservation) VALUES (:a, :h, :code, :donor, :sire, "
              "'2023-02-01', 4, 1, 'frozen')")
    parentage = ("INSERT INTO core.parentage_results (customer_id, animal_id, parent_role, "
                 "{col}, informative_snps, opposing_homozygotes, status) "
                 "VALUES (:a, :calf, 'sire', :b_bull, 500, 0, 'verified')")
    rows = {
        "animals.sire_id": ("INSERT INTO core.animals (customer_id, herd_id, official_id, breed, "
                            "sex, birth_date, sire_id) VALUES (:a, :h, 'X-FORGED-S', 'Holstein', "
                            "'F', '2023-01-01', :b_bull)", {}),
        "animals.dam_id": ("INSERT INTO core.animals (customer_id, herd_id, official_id, breed, "
                           "sex, birth_date, dam_id) VALUES (:a, :h, 'X-FORGED-D', 'Holstein', "
                           "'F', '2023-01-01', :b_cow)", {"b_cow": b_cow}),
        "semen_lots.bull_id": ("INSERT INTO core.semen_lots (customer_id, herd_id, bull_id, "
                               "lot_code, tank, canister, straws_in_stock) "
                               "VALUES (:a, :h, :b_bull, 'FORGED', 'T1', 'C1', 10)", {}),
        "inseminations.bull_id": ("INSERT INTO core.inseminations (customer_id, cow_id, bull_id, "
                                  "service_date) VALUES (:a, :cow, :b_bull, '2023-03-01')", {}),
        "embryo_flushes.sire_id": ("INSERT INTO core.embryo_flushes (customer_id, donor_id, "
                                   "sire_id, flush_date) VALUES (:a, :cow, :b_bull, "
                                   "'2023-03-02')", {}),
        "ivf_sessions.sire_id": ("INSERT INTO core.ivf_sessions (customer_id, donor_id, sire_id, "
                                 "opu_date, oocytes_collected, oocytes_cleaved, blastocysts) "
                                 "VALUES (:a, :cow, :b_bull, '2023-03-03', 9, 6, 2)", {}),
        "embryos.donor_id": (embryo, {"code": "E-FORGED-D", "donor": b_cow, "sire": ref}),
        "embryos.sire_id": (embryo, {"code": "E-FORGED-S", "donor": common["cow"],
                                     "sire": common["b_bull"]}),
        "parentage_results.recorded_parent_id": (parentage.format(col="recorded_parent_id"), {}),
        "parentage_results.suggested_parent_id": (parentage.format(col="suggested_parent_id"),
                                                  {}),
    }
    return {key: (sql, {**common, **extra}) for key, (sql, extra) in rows.items()}


REFERENCES = ["animals.sire_id", "animals.dam_id", "semen_lots.bull_id", "inseminations.bull_id",
              "embryo_flushes.sire_id", "ivf_sessions.sire_id", "embryos.donor_id",
              "embryos.sire_id", "parentage_results.recorded_parent_id",
              "parentage_results.suggested_parent_id"]
RULES = {"animals": "pedigree.parent_unknown", "semen_lots": "tenant.reference",
         "parentage_results": "tenant.reference"}
"""The rule that reports each table's forged reference first: the pedigree and reproduction
rules (migrations 0002, 0006) where they already checked it, else ``tenant.reference``."""


def writer(reference: str) -> str:
    """Parentage results are lab records (results:write); the rest a vet writes."""
    return "w-lab" if reference.startswith("parentage_results") else "w-vet"


def expected_rule(reference: str) -> str:
    return RULES.get(reference.split(".")[0], "repro.animal_unknown")


# --- the models say the same as the database ----------------------------------------------
def tenant_tables():
    return [t for t in data_models.metadata.sorted_tables
            if t.schema == "core" and "customer_id" in t.c]


def test_every_reference_between_tenant_rows_is_composite_or_a_checked_catalogue_reference(
        admin_conninfo):
    tagged = set()
    for table in tenant_tables():
        for fk in table.foreign_key_constraints:
            target = fk.referred_table
            # Users are platform accounts (staff have no customer) named as actors by the
            # platform itself; customers are the tenants. Neither is a tenant's record.
            if "customer_id" not in target.c or target.name == "users":
                continue
            names = [c.name for c in fk.columns]
            if "customer_id" in names:  # composite: (x_id, customer_id) -> target (id, customer_id)
                continue
            assert len(names) == 1, f"{table.name}: {names}"
            column = table.c[names[0]]
            role = column.info.get("catalogue_reference")
            assert role, (f"core.{table.name}.{column.name} references core.{target.name} "
                          "without customer_id: make it composite or a checked catalogue reference")
            tagged.add((table.name, column.name, role))
    with psycopg.connect(admin_conninfo) as conn:
        listed = set(conn.execute("SELECT * FROM core.catalogue_references()").fetchall())
        triggers = set(conn.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'check_tenant_references_%'").fetchall())
    assert listed == tagged
    for table in {t for t, _, _ in tagged}:
        assert {(table, "check_tenant_references_insert"),
                (table, "check_tenant_references_update")} <= triggers


# --- forged references, written as the application would -----------------------------------
@pytest.mark.parametrize("reference", REFERENCES)
def test_a_forged_reference_to_another_farms_animal_is_refused(db, world, bulls, admin_conninfo,
                                                               reference):
    sql, params = forged_rows(world, bulls)[reference]
    with unchanged(admin_conninfo), pytest.raises(RuleViolation) as refused:
        with db.session(world.users[writer(reference)], tenant_id=world.farm_a) as s:
            s.execute(text(sql), params)
    assert refused.value.rule == expected_rule(reference)
    assert UNKNOWN in refused.value.message and "reference catalogue" in refused.value.message
    assert FOREIGN_BULL not in refused.value.message  # the other farm's animal is not named


@pytest.mark.parametrize("actor", ["w-vet", "w-tech"])
def test_a_semen_lot_of_another_farms_bull_is_refused_naming_the_column(db, world, bulls,
                                                                       admin_conninfo, actor):
    sql, params = forged_rows(world, bulls)["semen_lots.bull_id"]
    with unchanged(admin_conninfo), pytest.raises(RuleViolation) as refused:
        with db.session(world.users[actor], tenant_id=world.farm_a) as s:
            s.execute(text(sql), params)
    assert refused.value.rule == "tenant.reference"
    assert "core.semen_lots" in refused.value.message and "column bull_id" in refused.value.message
    assert f"bull id {bulls[FOREIGN_BULL]} {UNKNOWN}" in refused.value.message


def test_own_and_catalogue_bulls_are_accepted(db, world, bulls):
    sql, params = forged_rows(world, bulls)["semen_lots.bull_id"]
    with rolled_back(db, world.users["w-vet"], tenant_id=world.farm_a) as s:
        for bull in (bulls[HOME_BULL], world.animals["W-BULL"]):
            s.execute(text(sql.replace("'FORGED'", f"'OK-{bull}'")), {**params, "b_bull": bull})
        accepted = s.scalar(text("SELECT count(*) FROM core.semen_lots "
                                 "WHERE lot_code LIKE 'OK-%'"))
    assert accepted == 2


def test_changing_a_lots_bull_to_another_farms_animal_is_refused(db, world, bulls,
                                                                  admin_conninfo):
    sql, params = forged_rows(world, bulls)["semen_lots.bull_id"]
    with unchanged(admin_conninfo), pytest.raises(RuleViolation, match="column bull_id"):
        with db.session(world.users["w-vet"], tenant_id=world.farm_a) as s:
            s.execute(text(sql), {**params, "b_bull": bulls[HOME_BULL]})
            s.execute(text("UPDATE core.semen_lots SET bull_id = :b WHERE lot_code = 'FORGED'"),
                      {"b": bulls[FOREIGN_BULL]})


# --- the same from a notebook login, which can run any SQL ---------------------------------
@pytest.mark.parametrize("reference", REFERENCES)
def test_a_notebook_cannot_forge_a_reference_either(notebook, world, bulls, admin_conninfo,
                                                    reference):
    sql, params = forged_rows(world, bulls)[reference]
    conn = notebook(writer(reference))
    psql = sql
    for key in sorted(params, key=len, reverse=True):
        psql = psql.replace(f":{key}", f"%({key})s")
    with unchanged(admin_conninfo), pytest.raises(psycopg.Error) as refused:
        conn.execute(psql, params)
    assert refused.value.sqlstate == "RT001"
    assert refused.value.diag.message_detail == f"rule: {expected_rule(reference)}"
    assert UNKNOWN in refused.value.diag.message_primary


# --- moving a named animal, or the catalogue itself ---------------------------------------
def test_a_bull_named_by_its_farms_lot_cannot_move_to_another_farm(db, world, bulls,
                                                                    admin_conninfo):
    sql, params = forged_rows(world, bulls)["semen_lots.bull_id"]
    with unchanged(admin_conninfo), pytest.raises(RuleViolation) as refused:
        with db.session(world.users["w-admin"]) as s:
            s.execute(text(sql), {**params, "b_bull": bulls[HOME_BULL]})
            s.execute(text("UPDATE core.animals SET customer_id = :b, herd_id = :h WHERE id = :i"),
                      {"b": world.farm_b, "h": bulls["herd_b"], "i": bulls[HOME_BULL]})
    assert refused.value.rule == "tenant.reference"
    assert f"animal {HOME_BULL} cannot move" in refused.value.message
    assert "core.semen_lots.bull_id" in refused.value.message


def test_the_catalogue_cannot_stop_being_shared_while_farms_name_its_bulls(db, world,
                                                                         admin_conninfo):
    with unchanged(admin_conninfo), pytest.raises(RuleViolation) as refused:
        with db.session(world.users["w-admin"]) as s:
            s.execute(text("UPDATE core.customers SET kind = 'farm' WHERE id = :r"),
                      {"r": world.reference})
    assert refused.value.rule == "tenant.reference"
    assert "w-ref cannot stop being a reference catalogue" in refused.value.message
