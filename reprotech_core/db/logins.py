"""Database logins for notebook servers: one PostgreSQL role per staff user.

A researcher's or vet's notebook can run any SQL, so it must not use the application's login
(which states its identity in a setting). Each gets its own LOGIN role, a member of
``reprotech_notebook`` or ``reprotech_research``; row security maps the *session* user back to
the platform user (``users.db_login``), which no ``SET`` or ``SET ROLE`` can change.
Creating roles needs the administrative login; recording the mapping is an audited user change
(``accounts.provision_db_login``, which calls :func:`create_or_rotate`).

A notebook login holds no predefined role: ``pg_read_all_stats`` or ``pg_monitor`` would give
it back the platform-wide statistics privileges.sql withholds (live rows per table, every
session), ``pg_read_all_data`` every row past row security. Provisioning revokes any such
membership granted by hand.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import create_engine

from reprotech_core.roles import Role


PREDEFINED_ROLES = ("pg_monitor", "pg_read_all_stats", "pg_stat_scan_tables",
                    "pg_read_all_settings", "pg_read_all_data", "pg_write_all_data", "pg_read_server_files",
                    "pg_write_server_files", "pg_execute_server_program", "pg_signal_backend",
                    "pg_checkpoint", "pg_create_subscription", "pg_use_reserved_connections")
"""PostgreSQL's predefined roles; none is for a notebook login (absent ones are ignored)."""


@dataclass(frozen=True)
class DbLogin:
    login: str
    password: str


def login_name(username: str) -> str:
    return "rt_" + re.sub(r"[^a-z0-9_]", "_", username)


def create_or_rotate(admin_url: str, username: str, role: Role) -> DbLogin:
    """Create ``username``'s notebook login (or give it a new password), a member of its role's
    group only. Whether the user may have one, and recording it, is the caller's
    (:func:`reprotech_core.accounts.provision_db_login`)."""
    login = login_name(username)
    group = "reprotech_research" if role is Role.RESEARCHER else "reprotech_notebook"
    password = secrets.token_urlsafe(24)
    engine = create_engine(admin_url)
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            exists = raw.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            raw.execute(
                sql.SQL(
                    verb + " ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
                    "INHERIT CONNECTION LIMIT 10 PASSWORD {}"
                ).format(sql.Identifier(login), sql.Literal(password))
            )
            for other in ("reprotech_notebook", "reprotech_research"):
                if other != group:
                    raw.execute(
                        sql.SQL("REVOKE {} FROM {}").format(
                            sql.Identifier(other), sql.Identifier(login)
                        )
                    )
            raw.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(group), sql.Identifier(login)
                )
            )
            held = raw.execute(
                "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s "
                "AND r.rolname = ANY(%s)",
                (login, list(PREDEFINED_ROLES))).fetchall()
            for (predefined,) in held:
                raw.execute(sql.SQL("REVOKE {} FROM {}").format(
                    sql.Identifier(predefined), sql.Identifier(login)))
    finally:
        engine.dispose()
    return DbLogin(login, password)


def revoke(admin_url: str, username: str) -> None:
    """Drop a user's notebook login (on deactivation)."""
    engine = create_engine(admin_url)
    try:
        with engine.begin() as conn:
            conn.connection.driver_connection.execute(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login_name(username)))
            )
    finally:
        engine.dispose()
