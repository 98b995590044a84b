"""Adversarial tenant-isolation tests against the real database, as each kind of login.

Farm B's animal ``WB-SECRET`` is the target: no login that may not see farm B may read,
change, count or delete it, by any path.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import select, text, update

from data_models.animals import Animal
from reprotech_core.errors import PermissionDenied

SECRET = "WB-SECRET"


def official_ids(session_or_conn, sql="SELECT official_id FROM core.animals") -> set[str]:
    if isinstance(session_or_conn, psycopg.Connection):
        return {r[0] for r in session_or_conn.execute(sql)}
    return set(session_or_conn.scalars(text(sql)))


FARM_ANIMALS = ("SELECT a.official_id FROM core.animals a JOIN core.customers c "
                "ON c.id = a.customer_id WHERE c.kind = 'farm'")


# --- the application login, per identity ---------------------------------------------------
def test_customer_sees_own_animals_and_the_reference_catalogue_only(db, world):
    with db.session(world.users["w-a-user"]) as s:
        seen = official_ids(s)
    assert {"WA-COW", "WA-CALF", "W-BULL"} <= seen
    assert not {"WB-COW", SECRET} & seen


def test_customer_cannot_fetch_another_customers_animal_by_id(db, world):
    with db.session(world.users["w-a-user"]) as s:
        assert s.get(Animal, world.animals[SECRET]) is None
        assert s.scalar(select(Animal).where(Animal.official_id == SECRET)) is None


def test_tenant_narrowing_never_widens(db, world):
    # A customer of farm A asking for farm B's tenant sees nothing at all.
    with db.session(world.users["w-a-user"], tenant_id=world.farm_b) as s:
        assert official_ids(s, FARM_ANIMALS) == set()
    # Staff narrowed to farm A see farm A only.
    with db.session(world.users["w-admin"], tenant_id=world.farm_a) as s:
        assert SECRET not in official_ids(s) and "WA-COW" in official_ids(s)


def test_vet_sees_assigned_customers_only(db, world):
    with db.session(world.users["w-vet"]) as s:
        seen = official_ids(s)
    assert "WA-COW" in seen and SECRET not in seen


def test_researcher_sees_no_identified_animals(db, world):
    with db.session(world.users["w-res"]) as s:
        # The public AI-sire catalogue is readable by everyone; no farm animal is.
        assert "W-BULL" in official_ids(s)
        assert official_ids(s, FARM_ANIMALS) == set()
        rows = s.execute(text("SELECT * FROM research.animals")).mappings().all()
    assert len(rows) >= 5
    assert "official_id" not in rows[0] and "customer_id" not in rows[0]
    assert all(r["animal"].startswith("A") and len(r["animal"]) == 13 for r in rows)


def test_customer_cannot_write_another_customers_rows(db, world):
    with db.session(world.users["w-a-admin"]) as s:
        result = s.execute(
            update(Animal).where(Animal.id == world.animals[SECRET]).values(name="pwned")
        )
        assert result.rowcount == 0
        assert s.execute(text("DELETE FROM core.animals WHERE official_id = :o"),
                         {"o": SECRET}).rowcount == 0
    with pytest.raises(PermissionDenied, match="row-level security"):
        with db.session(world.users["w-a-admin"]) as s:
            s.execute(text("INSERT INTO core.animals (customer_id, official_id, breed, sex) "
                           "VALUES (:c, 'X-FORGED', 'Jersey', 'F')"), {"c": world.farm_b})


def test_customer_user_cannot_write_at_all(db, world):
    with pytest.raises(PermissionDenied):
        with db.session(world.users["w-a-user"]) as s:
            s.execute(text("INSERT INTO core.animals (customer_id, official_id, breed, sex) "
                           "VALUES (:c, 'X-RO', 'Jersey', 'F')"), {"c": world.farm_a})


def test_unauthenticated_app_session_sees_nothing(db, world):
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM core.animals")) == 0
        assert conn.scalar(text("SELECT count(*) FROM core.customers")) == 0
        assert conn.scalar(text("SELECT count(*) FROM core.users")) == 0


def test_forged_identity_setting_outside_the_hook_is_not_trusted_after_commit(db, world):
    # set_config(..., true) dies with the transaction; a later statement sees nothing.
    with db.engine.connect() as conn:
        conn.execute(text("SELECT set_config('app.user_id', :u, true)"),
                     {"u": str(world.users["w-admin"].user_id)})
        conn.commit()
        assert conn.scalar(text("SELECT count(*) FROM core.animals")) == 0


# --- a notebook login that can run any SQL -------------------------------------------------
def test_notebook_vet_sees_assigned_customer_only(notebook):
    conn = notebook("w-vet")
    seen = official_ids(conn)
    assert "WA-COW" in seen and SECRET not in seen


@pytest.mark.parametrize(
    "statement",
    [
        "SET app.tenant_id = '{farm_b}'",
        "SET app.user_id = '{admin_id}'",
        "SELECT set_config('app.user_id', '{admin_id}', false)",
        "RESET ROLE",
        "SET ROLE NONE",
    ],
)
def test_notebook_settings_cannot_widen_what_it_sees(notebook, world, statement):
    conn = notebook("w-vet")
    conn.execute(statement.format(farm_b=world.farm_b,
                                  admin_id=world.users["w-admin"].user_id))
    assert SECRET not in official_ids(conn)
    assert conn.execute("SELECT core.actor_id()").fetchone()[0] == world.users["w-vet"].user_id


@pytest.mark.parametrize(
    "role",
    ["reprotech_app", "reprotech_owner", "reprotech_definer", "postgres", "rt_w_admin",
     "reprotech_research"],
)
def test_notebook_cannot_become_another_role(notebook, role):
    conn = notebook("w-vet")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f'SET ROLE "{role}"')


def test_notebook_cannot_set_session_authorization(notebook):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        notebook("w-vet").execute("SET SESSION AUTHORIZATION reprotech_app")


def test_notebook_writes_are_confined_to_visible_customers(notebook, world):
    conn = notebook("w-vet", autocommit=False)
    assert conn.execute("UPDATE core.animals SET name = 'x' WHERE official_id = %s",
                        (SECRET,)).rowcount == 0
    assert conn.execute("DELETE FROM core.animals WHERE official_id = %s",
                        (SECRET,)).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute("INSERT INTO core.animals (customer_id, official_id, breed, sex) "
                     "VALUES (%s, 'X-NB', 'Jersey', 'F')", (world.farm_b,))
    conn.rollback()
    # Moving one of its own animals into farm B is refused too.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE core.animals SET customer_id = %s WHERE official_id = 'WA-COW'",
                     (world.farm_b,))
    conn.rollback()


def test_notebook_cannot_read_audit_partitions_directly(notebook):
    conn = notebook("w-admin")
    partitions = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'audit.log'::regclass")]
    assert "log_default" in partitions and len(partitions) >= 4
    for name in partitions:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT * FROM audit.{name}")


def test_research_views_are_empty_without_research_permission(notebook):
    assert notebook("w-vet").execute("SELECT count(*) FROM research.animals").fetchone()[0] == 0


def test_researcher_notebook_reaches_research_views_only(notebook):
    conn = notebook("w-res")
    assert conn.execute("SELECT count(*) FROM research.animals").fetchone()[0] >= 5
    for table in ("core.animals", "core.customers", "core.users", "core.genotypes",
                  "core.pseudonym_key", "audit.log"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT * FROM {table}")


def test_pseudonyms_are_stable_and_reveal_no_identity(notebook):
    conn = notebook("w-res")
    first = conn.execute("SELECT animal, sire, dam FROM research.animals ORDER BY 1").fetchall()
    again = conn.execute("SELECT animal, sire, dam FROM research.animals ORDER BY 1").fetchall()
    assert first == again
    flat = " ".join(str(v) for row in first for v in row)
    assert "W-BULL" not in flat and SECRET not in flat


def test_copy_returns_only_visible_rows_and_copy_in_is_refused(notebook):
    conn = notebook("w-vet")
    for query in ("COPY core.animals (official_id) TO STDOUT",
                  "COPY (SELECT official_id FROM core.animals) TO STDOUT"):
        with conn.cursor().copy(query) as copy:
            data = b"".join(bytes(chunk) for chunk in copy).decode()
        assert "WA-COW" in data and SECRET not in data
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        with conn.cursor().copy("COPY core.animals (customer_id, official_id, breed, sex) "
                                "FROM STDIN") as copy:
            copy.write_row((1, "X-COPY", "Jersey", "F"))


def test_leaky_function_sees_no_hidden_rows(notebook):
    conn = notebook("w-vet")
    leaked: list[str] = []
    conn.add_notice_handler(lambda diag: leaked.append(diag.message_primary))
    conn.execute(
        "CREATE FUNCTION pg_temp.leak(t text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 "
        "AS $$ BEGIN RAISE NOTICE '%', t; RETURN true; END $$"
    )
    conn.execute("SELECT * FROM core.animals WHERE pg_temp.leak(official_id)").fetchall()
    assert "WA-COW" in leaked and SECRET not in leaked


def test_security_functions_do_not_leak(notebook, world):
    conn = notebook("w-vet")
    assert conn.execute("SELECT core.visible_customer_ids()").fetchone()[0] == [world.farm_a]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM core.resolve_login('w-b-user')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT core.check_parent(NULL::core.animals, 1, 'sire')")


def test_users_secrets_are_not_readable_from_a_notebook(notebook):
    conn = notebook("w-admin")
    assert conn.execute("SELECT count(*) FROM core.users").fetchone()[0] > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT password_hash FROM core.users")


def test_planner_statistics_do_not_leak_values(notebook, admin_conninfo):
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        admin.execute("ANALYZE core.animals")
        assert admin.execute("SELECT count(*) FROM pg_stats WHERE schemaname = 'core' "
                             "AND tablename = 'animals'").fetchone()[0] > 0
    conn = notebook("w-vet")
    # pg_stats hides tables under active row security; pg_statistic is superuser-only.
    assert conn.execute("SELECT count(*) FROM pg_stats WHERE schemaname = 'core' "
                        "AND tablename = 'animals'").fetchone()[0] == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM pg_statistic")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM pg_statistic_ext_data")
    # Nor the planner's platform-wide row estimate (privileges.sql revokes the column).
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'core.animals'::regclass")


def test_a_notebook_cannot_call_the_population_aggregate(notebook):
    """The dashboards' anonymous population comparison is for the application login only: a
    notebook cannot probe it with bins of its choosing."""
    conn = notebook("w-vet")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM core.population_gebv_bins('milk_production', 0, 1, 30, 0)")
