"""The audit trail: every audited write leaves an append-only row naming the real actor."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from sqlalchemy import text

from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.accounts import customer_by_code
from reprotech_core.errors import PermissionDenied, RuleViolation


def audit_rows(db, system, table, row_id):
    with db.session(system) as s:
        return s.execute(
            text("SELECT * FROM audit.log WHERE table_name = :t AND row_id = :r ORDER BY id"),
            {"t": table, "r": str(row_id)},
        ).mappings().all()


def test_insert_update_delete_are_audited_with_old_and_new_values(db, system, world):
    vet = world.users["w-vet"]
    with db.session(vet, reason="new calf registered") as s:
        ids = register_animals(s, customer_by_code(s, "w-a"),
                               [AnimalRecord("WA-AUD1", "Holstein", "F", date(2022, 1, 5))])
    aid = ids["WA-AUD1"]
    with db.session(vet) as s:
        s.execute(text("UPDATE core.animals SET name = 'Bella' WHERE id = :i"), {"i": aid})
    with db.session(vet) as s:
        s.execute(text("DELETE FROM core.animals WHERE id = :i"), {"i": aid})
    rows = audit_rows(db, system, "core.animals", aid)
    assert [r["action"] for r in rows] == ["INSERT", "UPDATE", "DELETE"]
    assert all(r["actor_user_id"] == vet.user_id for r in rows)
    assert all(r["customer_id"] == world.farm_a for r in rows)
    assert rows[0]["reason"] == "new calf registered"
    assert rows[0]["old_values"] is None and rows[0]["new_values"]["official_id"] == "WA-AUD1"
    assert rows[1]["old_values"]["name"] is None and rows[1]["new_values"]["name"] == "Bella"
    assert rows[2]["new_values"] is None and rows[2]["old_values"]["name"] == "Bella"
    assert rows[0]["occurred_at"].utcoffset().total_seconds() == 0 or rows[0]["occurred_at"].tzinfo


def test_notebook_actor_comes_from_the_login_not_from_a_setting(db, system, world, notebook):
    conn = notebook("w-vet")
    conn.execute("SET app.user_id = %s" % world.users["w-admin"].user_id)
    row = conn.execute(
        "INSERT INTO core.animals (customer_id, official_id, breed, sex) "
        "VALUES (%s, 'WA-NB-AUD', 'Holstein', 'F') RETURNING id", (world.farm_a,)).fetchone()
    [audit] = audit_rows(db, system, "core.animals", row[0])
    assert audit["actor_user_id"] == world.users["w-vet"].user_id
    assert audit["db_login"] == "rt_w_vet"


def test_secrets_and_genotype_bytes_are_not_copied_into_the_audit_log(db, system, world):
    from reprotech_core.accounts import set_password, user_by_name

    with db.session(system) as s:
        set_password(s, "w-a-user", "correct horse battery")
        uid = user_by_name(s, "w-a-user").id
    [*_, last] = audit_rows(db, system, "core.users", uid)
    assert last["new_values"]["password_hash"] == "[redacted]"
    assert "argon2" not in str(last["old_values"]) + str(last["new_values"])


def test_nobody_can_change_or_remove_audit_rows(db, system, admin_conninfo):
    with pytest.raises(PermissionDenied):
        with db.session(system) as s:
            s.execute(text("UPDATE audit.log SET reason = 'rewritten'"))
    with pytest.raises(PermissionDenied):
        with db.session(system) as s:
            s.execute(text("DELETE FROM audit.log"))
    with pytest.raises(PermissionDenied):
        with db.session(system) as s:
            s.execute(text("INSERT INTO audit.log (db_login, action, table_name) "
                           "VALUES ('forged', 'INSERT', 'core.animals')"))
    # Not even the superuser or the table owner: the table refuses UPDATE, DELETE, TRUNCATE.
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        for statement in ("UPDATE audit.log SET reason = 'x'", "DELETE FROM audit.log",
                          "TRUNCATE audit.log"):
            with pytest.raises(psycopg.DatabaseError, match="append-only") as refused:
                admin.execute(statement)
            assert refused.value.sqlstate == "RT001"
        before = admin.execute("SELECT count(*) FROM audit.log").fetchone()[0]
        admin.execute("SET ROLE reprotech_owner")
        # The owner is under FORCE ROW LEVEL SECURITY with no DELETE policy: nothing matches.
        assert admin.execute("DELETE FROM audit.log").rowcount == 0
        with pytest.raises(psycopg.DatabaseError, match="append-only"):
            admin.execute("TRUNCATE audit.log")
        for partition in ("log_default", admin.execute(
                "SELECT 'log_' || to_char(now(), 'YYYY_MM')").fetchone()[0]):
            with pytest.raises(psycopg.DatabaseError, match="append-only"):
                admin.execute(f"TRUNCATE audit.{partition}")
        admin.execute("RESET ROLE")
        assert admin.execute("SELECT count(*) FROM audit.log").fetchone()[0] == before


def test_released_results_change_only_with_a_reason(db, system, world):
    with db.session(system) as s:
        run_id = s.scalar(text("INSERT INTO core.evaluation_runs (method, status) "
                               "VALUES ('gblup', 'released') RETURNING id"))
        rid = s.scalar(text(
            "INSERT INTO core.evaluation_results (run_id, customer_id, animal_id, trait, gebv, "
            "reliability, released) VALUES (:r, :c, :a, 'fertility', 1.5, 0.6, true) "
            "RETURNING id"), {"r": run_id, "c": world.farm_a, "a": world.animals["WA-COW"]})
    with pytest.raises(RuleViolation) as refused:
        with db.session(system) as s:
            s.execute(text("UPDATE core.evaluation_results SET gebv = 9 WHERE id = :i"),
                      {"i": rid})
    assert refused.value.rule == "results.released_change_needs_reason"
    with db.session(system, reason="corrected phenotype of dam") as s:
        s.execute(text("UPDATE core.evaluation_results SET gebv = 1.7 WHERE id = :i"),
                  {"i": rid})
    last = audit_rows(db, system, "core.evaluation_results", rid)[-1]
    assert last["reason"] == "corrected phenotype of dam"
    assert last["old_values"]["gebv"] == 1.5 and last["new_values"]["gebv"] == 1.7


def test_customer_admin_reads_own_organisation_audit_only(db, world):
    with db.session(world.users["w-a-admin"]) as s:
        customers = set(s.scalars(text("SELECT DISTINCT customer_id FROM audit.log")))
    assert customers == {world.farm_a}
