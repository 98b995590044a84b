"""Notebook logins learn nothing platform-wide from PostgreSQL's own catalogs and cannot park
data in large objects (data_models/sql/privileges.sql).

By default any login reads the statistics views and the functions under them (live rows per
table, who is connected and since when), relation sizes and the planner's row estimates, and
may create large objects, which are outside row security and the audit log. The staff and
research notebook logins must get "permission denied" for each; the application login, a
member of pg_read_all_stats, keeps what the metrics exporter reads.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

NOTEBOOK_LOGINS = ["w-vet", "w-res", "w-lab", "w-admin"]
"""Per-user logins of the notebook group (vet, lab, admin) and the research group."""

STATISTICS = [
    "SELECT relname, n_live_tup FROM pg_stat_user_tables",
    "SELECT relname, n_live_tup FROM pg_stat_all_tables",
    "SELECT * FROM pg_stat_xact_user_tables",
    "SELECT relname, heap_blks_read FROM pg_statio_user_tables",
    "SELECT * FROM pg_statio_all_indexes",
    "SELECT usename, application_name, client_addr, backend_start FROM pg_stat_activity",
    "SELECT tup_inserted FROM pg_stat_database",
    "SELECT pg_stat_get_live_tuples('core.animals'::regclass)",
    "SELECT pg_stat_get_tuples_inserted('core.genotypes'::regclass)",
    "SELECT * FROM pg_stat_get_activity(NULL)",
    "SELECT reltuples FROM pg_class WHERE oid = 'core.animals'::regclass",
    "SELECT relpages FROM pg_class WHERE oid = 'core.genotypes'::regclass",
    "SELECT * FROM pg_class WHERE oid = 'core.animals'::regclass",
    "SELECT pg_relation_size('core.animals')",
    "SELECT pg_total_relation_size('core.genotypes')",
    "SELECT pg_table_size('core.inseminations')",
    "SELECT pg_database_size(current_database())",
]
LARGE_OBJECTS = [
    "SELECT lo_create(0)",
    "SELECT lo_creat(-1)",
    "SELECT lo_from_bytea(0, 'parked outside row security'::bytea)",
    "SELECT lo_import('/etc/hostname')",
]


def large_object_count(admin_conninfo: str) -> int:
    with psycopg.connect(admin_conninfo) as conn:
        return conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0]


@pytest.mark.parametrize("statement", STATISTICS)
@pytest.mark.parametrize("username", NOTEBOOK_LOGINS)
def test_a_notebook_cannot_read_platform_statistics(notebook, username, statement):
    conn = notebook(username)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(statement)


@pytest.mark.parametrize("statement", LARGE_OBJECTS)
@pytest.mark.parametrize("username", NOTEBOOK_LOGINS)
def test_a_notebook_cannot_create_large_objects(notebook, admin_conninfo, username, statement):
    before = large_object_count(admin_conninfo)
    conn = notebook(username)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(statement)
    assert large_object_count(admin_conninfo) == before


def test_a_notebook_still_reads_the_catalog_it_needs(notebook):
    """psql, SQLAlchemy's reflection and pandas read names and kinds from pg_class; only the
    row estimates are withheld. pg_stats stays empty for tables under row security."""
    conn = notebook("w-vet")
    row = conn.execute("SELECT c.relname, c.relkind, c.relrowsecurity FROM pg_class c "
                       "WHERE c.oid = 'core.animals'::regclass").fetchone()
    assert row == ("animals", "r", True)
    assert conn.execute("SELECT count(*) FROM pg_stats WHERE schemaname = 'core' "
                        "AND tablename = 'animals'").fetchone()[0] == 0
    assert conn.execute("SELECT pg_backend_pid() > 0").fetchone()[0]


def test_notebook_logins_are_not_monitoring_roles(admin_conninfo, world):
    with psycopg.connect(admin_conninfo) as conn:
        members = conn.execute(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolname LIKE 'rt\\_%' "
            "AND (pg_has_role(r.oid, 'pg_read_all_stats', 'USAGE') "
            "OR pg_has_role(r.oid, 'pg_monitor', 'USAGE'))").fetchall()
    assert members == []


def test_the_application_login_keeps_the_statistics_the_exporter_reads(db, notebook):
    """The metrics exporter (reprotech_core/ops/dbmetrics.py) sees every session's state,
    relation sizes and row estimates; a notebook's open session is among them."""
    conn = notebook("w-vet")
    login = conn.execute("SELECT session_user").fetchone()[0]
    with db.engine.connect() as app:
        states = app.execute(text("SELECT usename, state FROM pg_stat_activity "
                                  "WHERE datname = current_database()")).all()
        assert (login, "idle") in {(r.usename, r.state) for r in states}
        assert app.scalar(text("SELECT pg_database_size(current_database())")) > 0
        assert app.scalar(text("SELECT count(*) FROM pg_stat_user_tables")) > 0
        assert app.scalar(text("SELECT reltuples IS NOT NULL FROM pg_class "
                               "WHERE oid = 'core.animals'::regclass"))


def test_reapplying_privileges_is_idempotent(pg_settings, notebook):
    from reprotech_core.db.migrate import head_revision, migrate

    assert migrate(pg_settings) == head_revision()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        notebook("w-res").execute("SELECT n_live_tup FROM pg_stat_user_tables")


def test_provisioning_takes_back_a_monitoring_role_granted_by_hand(db, system, pg_settings,
                                                                   admin_conninfo):
    """An operator who grants pg_monitor to a notebook login (to "help" a researcher) gives
    the statistics back; the next provisioning revokes it."""
    from reprotech_core import accounts
    from reprotech_core.db.migrate import admin_url

    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("leak-res", "Leak probe", "researcher"))
    accounts.provision_db_login(db, admin_url(pg_settings), system, "leak-res")
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        admin.execute("GRANT pg_monitor, pg_read_all_stats TO rt_leak_res")
    creds = accounts.provision_db_login(db, admin_url(pg_settings), system, "leak-res")
    with psycopg.connect(admin_conninfo) as admin:
        held = admin.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'rt_leak_res'").fetchall()
    assert held == [("reprotech_research",)]
    conninfo = (f"host={pg_settings.db_host} port={pg_settings.db_port} "
                f"dbname={pg_settings.db_name} user={creds.login} password={creds.password}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT usename FROM pg_stat_activity")


@pytest.mark.parametrize("database", ["postgres", "template1"])
@pytest.mark.parametrize("username", ["w-vet", "w-res"])
def test_a_notebook_login_cannot_reach_the_clusters_other_databases(world, username, database):
    """pg_stat_activity is cluster-wide: in ``postgres`` a notebook would read it again, so
    the embedded cluster's pg_hba.conf refuses notebook logins there (db/cluster.py)."""
    conninfo = psycopg.conninfo.make_conninfo(world.logins[username], dbname=database)
    with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects"):
        psycopg.connect(conninfo).close()
