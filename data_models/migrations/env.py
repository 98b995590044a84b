"""Alembic environment: run programmatically by ``reprotech db migrate`` with an open connection.

Migrations run as the administrative login (never the application's). Tables are created as
that login and handed to ``reprotech_owner`` by ``data_models/sql/privileges.sql``, which
``reprotech db migrate`` applies after every upgrade.
"""

from __future__ import annotations

from alembic import context

import data_models

config = context.config
SCHEMAS = ("core", "audit", "research")


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # Monthly audit partitions are made by audit.ensure_partitions(), not by the models.
    if type_ == "table" and obj.schema == "audit" and name != "log":
        return False
    return True


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=data_models.metadata,
        include_schemas=True,
        include_name=lambda name, type_, parent: type_ != "schema" or name in SCHEMAS,
        include_object=include_object,
        version_table_schema="core",
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
