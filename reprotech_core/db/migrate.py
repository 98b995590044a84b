"""Bring a database to the current schema: roles, Alembic migrations, privileges, partitions.

Runs as the administrative login (the embedded cluster's superuser, or
``REPROTECH_DATABASE_ADMIN_URL`` for an external server) — the only code that does. Every
step is idempotent, so ``reprotech db migrate`` (and ``./run up``) can run any number of times.
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path

from alembic import command
from psycopg import sql
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from reprotech_core.db.cluster import Cluster
from reprotech_core.errors import DatabaseError
from reprotech_core.settings import Settings

log = logging.getLogger(__name__)

APP_LOGIN = "reprotech_app"
BACKUP_LOGIN = "reprotech_backup"
MIGRATIONS = Path(str(files("data_models") / "migrations"))
SQL = Path(str(files("data_models") / "sql"))


def admin_url(settings: Settings) -> str:
    """URL of the administrative login (migrations, and audit-log retention which drops old
    audit partitions: reprotech_core/ops/audit_retention.py)."""
    if settings.embedded:
        return Cluster(settings).url("postgres")
    url = settings.resolved_admin_url()
    if url is None:
        raise DatabaseError(
            "migrating an external database needs REPROTECH_DATABASE_ADMIN_URL "
            "(a role that may create roles); the application login cannot migrate"
        )
    return _psycopg(url)


def app_url(settings: Settings) -> str:
    """URL of the application login."""
    if settings.embedded:
        return Cluster(settings).url(APP_LOGIN)
    return _psycopg(settings.resolved_database_url() or "")


def _psycopg(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def ensure_database(settings: Settings) -> None:
    """Create the platform database in the embedded cluster if it is missing."""
    if not settings.embedded:
        return
    url = make_url(admin_url(settings)).set(database="postgres")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": settings.db_name}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{settings.db_name}"'))
                log.info("created database %s", settings.db_name)
    finally:
        engine.dispose()


def run_sql_file(conn: Connection, path: Path) -> None:
    """Execute a multi-statement SQL file verbatim (no parameter parsing) in ``conn``'s transaction."""
    conn.connection.driver_connection.execute(path.read_text())


def _app_password(settings: Settings) -> str | None:
    if settings.embedded:
        return Cluster(settings).password(APP_LOGIN)
    return make_url(settings.resolved_database_url() or "").password


def _backup_password(settings: Settings) -> str | None:
    if settings.embedded:
        return Cluster(settings).password(BACKUP_LOGIN)
    url = settings.resolved_backup_url()
    return make_url(url).password if url else None


def backup_url(settings: Settings) -> str:
    """URL of the backup login (``reprotech_backup``: BYPASSRLS, read-only); for an external
    database without ``database_backup_url``, the administrative login."""
    if settings.embedded:
        return Cluster(settings).url(BACKUP_LOGIN)
    url = settings.resolved_backup_url()
    return _psycopg(url) if url else admin_url(settings)


def set_login_passwords(conn: Connection, settings: Settings) -> None:
    """Give the application and backup logins their passwords (from the secrets files of the
    embedded cluster, or the external URLs); run as the administrative login."""
    for login, password in ((APP_LOGIN, _app_password(settings)),
                            (BACKUP_LOGIN, _backup_password(settings))):
        if password:
            conn.connection.driver_connection.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(login), sql.Literal(password)
                )
            )


def migrate(settings: Settings) -> str:
    """Upgrade the database to the newest revision. Returns the revision now applied."""
    ensure_database(settings)
    engine = create_engine(admin_url(settings))
    try:
        with engine.begin() as conn:
            run_sql_file(conn, SQL / "roles.sql")
            set_login_passwords(conn, settings)
        with engine.connect() as conn:
            command.upgrade(alembic_config(conn), "head")
            conn.commit()
        with engine.begin() as conn:
            conn.execute(
                text("SELECT audit.ensure_partitions(:n)"),
                {"n": settings.audit_partition_months_ahead},
            )
            run_sql_file(conn, SQL / "privileges.sql")
            return current_revision(conn) or ""
    finally:
        engine.dispose()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(
        conn, opts={"version_table_schema": "core"}
    ).get_current_revision()


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""
