"""Database logins for notebook servers: one PostgreSQL role per staff user.

A researcher's or vet's notebook can run any SQL, so it must not use the application's login
(which states its identity in a setting). Each gets its own LOGIN role, a member of
``reprotech_notebook`` or ``reprotech_research``; row security maps the *session* user back to
the platform user (``users.db_login``), which no ``SET`` or ``SET ROLE`` can change.
Creating roles needs the administrative login; recording the mapping is an audited user change.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import create_engine

from reprotech_core.accounts import user_by_name
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import PermissionDenied
from reprotech_core.roles import Role


@dataclass(frozen=True)
class DbLogin:
    login: str
    password: str


def login_name(username: str) -> str:
    return "rt_" + re.sub(r"[^a-z0-9_]", "_", username)


def provision(db: Database, admin_url: str, actor: Identity, username: str) -> DbLogin:
    """Create (or rotate the password of) ``username``'s notebook login."""
    with db.session(actor) as session:
        user = user_by_name(session, username)
        role = Role(user.role)
        if not role.may_run_sql:
            raise PermissionDenied(
                f"user {username!r} is a {role}: customer users get dashboards, not SQL logins"
            )
        if not user.active:
            raise PermissionDenied(f"user {username!r} is deactivated")
        login = login_name(username)
        user.db_login = login
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
