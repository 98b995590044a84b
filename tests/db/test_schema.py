"""One source of truth: the migrated database matches the models, every tenant table is under
forced row security, and privileges follow docs/security-model.md."""

from __future__ import annotations

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import data_models
from reprotech_core.db.migrate import (
    admin_url,
    alembic_config,
    current_revision,
    head_revision,
    migrate,
)


def schema_differences(settings) -> list:
    """What differs between the models and the database ``settings`` name (none when they
    agree); the audit log's partitions and Alembic's own table are not in the models."""
    engine = create_engine(admin_url(settings))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "include_schemas": True,
                "include_name": lambda n, t, p: t != "schema" or n in ("core", "audit"),
                "include_object": lambda o, n, t, r, c: not (
                    t == "table" and o.schema == "audit" and n != "log"),
                "compare_type": True,
            })
            diff = compare_metadata(ctx, data_models.metadata)
    finally:
        engine.dispose()
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


def test_models_and_migrated_schema_agree(pg_settings):
    assert schema_differences(pg_settings) == []


#: The revision the round trip goes back to: every migration after it is downgraded. 0002
#: (the security layer: roles, row security) refuses by design; a backup restores it.
ROUND_TRIP_FROM = "0002"


def test_migrations_downgrade_and_upgrade_again(pg_settings):
    """Each migration's downgrade after 0002 runs and leaves a schema its upgrade accepts again,
    ending equal to the models: a release can be rolled back. In a database of its own, so
    the session's shared data is untouched."""
    settings = pg_settings.model_copy(update={"db_name": "migration_round_trip"})
    assert migrate(settings) == head_revision()
    engine = create_engine(admin_url(settings))
    try:
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), ROUND_TRIP_FROM)
            conn.commit()
            assert current_revision(conn) == ROUND_TRIP_FROM
    finally:
        engine.dispose()
    assert migrate(settings) == head_revision()
    assert schema_differences(settings) == []


def test_every_table_with_customer_data_forces_row_security(admin_conninfo):
    with psycopg.connect(admin_conninfo) as conn:
        rows = conn.execute("""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN ('core', 'audit') AND c.relkind IN ('r', 'p')
               AND NOT c.relispartition
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                            AND a.attname IN ('customer_id') AND NOT a.attisdropped)""").fetchall()
        names = {r[0] for r in rows}
        assert {"animals", "herds", "samples", "genotypes", "qc_results", "evaluation_results",
                "parentage_results", "users", "user_customer_assignments", "job_runs",
                "log"} <= names
        assert [r for r in rows if not (r[1] and r[2])] == []
        owners = conn.execute("""
            SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN ('core', 'audit') AND c.relkind IN ('r', 'p')""").fetchall()
        assert owners == [("reprotech_owner",)]
        app = conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles "
                           "WHERE rolname = 'reprotech_app'").fetchone()
        assert app == (False, False)


def test_migrate_is_idempotent(pg_settings):
    assert migrate(pg_settings) == head_revision() == migrate(pg_settings)
