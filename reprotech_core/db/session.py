"""Application database access: one engine per process, sessions bound to an identity.

Every transaction the application opens starts by telling PostgreSQL who is acting
(``app.user_id``) and, optionally, which tenant the request is about (``app.tenant_id``),
with ``set_config(..., true)`` so the values die with the transaction and a pooled connection
never carries one user's identity into another's request — in the application's own pool and
in PgBouncer's transaction pooling alike (``tests/db/test_pgbouncer.py`` interleaves two
customers on one server connection). Row-level security does the
filtering; this module only states the identity, taken from the authenticated user.

The engine refuses to start with a login that would bypass row security (a superuser, a
BYPASSRLS role, or the owner of the platform's tables).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reprotech_core.db.migrate import app_url
from reprotech_core.errors import (
    DatabaseError,
    NotFound,
    PermissionDenied,
    RuleViolation,
    UnsafeDatabaseLogin,
)
from reprotech_core.settings import Settings, get_settings


@dataclass(frozen=True)
class Identity:
    """An authenticated platform user, as the server knows them (never from user input)."""

    user_id: int
    username: str
    role: str
    customer_id: int | None = None


def check_login_is_safe(engine: Engine) -> None:
    """Refuse a login that bypasses row security; called before the app uses an engine."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT r.rolname, r.rolsuper, r.rolbypassrls,
                       pg_has_role(current_user, 'reprotech_owner', 'MEMBER') AS owner,
                       pg_has_role(current_user, 'reprotech_definer', 'MEMBER') AS definer,
                       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n
                                 ON n.oid = c.relnamespace
                                WHERE n.nspname IN ('core', 'audit')
                                  AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owns
                  FROM pg_roles r WHERE r.rolname = current_user
                """
            )
        ).one()
    reasons = [
        why
        for flag, why in (
            (row.rolsuper, "is a superuser"),
            (row.rolbypassrls, "has BYPASSRLS"),
            (row.owner or row.owns, "owns platform tables"),
            (row.definer, "is a member of reprotech_definer"),
        )
        if flag
    ]
    if reasons:
        raise UnsafeDatabaseLogin(
            f"refusing to run as database login {row.rolname!r}: it {' and '.join(reasons)}, "
            "so row-level security would not isolate tenants. Use the reprotech_app login."
        )


def _install_identity_hook(factory: sessionmaker[Session]) -> None:
    @event.listens_for(factory, "after_begin")
    def _set_identity(session: Session, transaction, connection) -> None:  # noqa: ANN001
        identity: Identity | None = session.info.get("identity")
        tenant = session.info.get("tenant_id")
        reason = session.info.get("reason")
        connection.execute(
            text(
                "SELECT set_config('app.user_id', :uid, true), "
                "set_config('app.tenant_id', :tid, true), "
                "set_config('app.change_reason', :why, true)"
            ),
            {
                "uid": str(identity.user_id) if identity else "",
                "tid": str(tenant) if tenant is not None else "",
                "why": reason or "",
            },
        )


class Database:
    """The application's connection to PostgreSQL (one per process)."""

    def __init__(self, url: str, *, pool_size: int = 5, check: bool = True,
                 transaction_pooling: bool = False) -> None:
        """``transaction_pooling``: ``url`` is a PgBouncer in transaction mode, so psycopg must
        not prepare statements on the server (``prepare_threshold=None``): the next transaction
        may run on another server connection, or share this one with another client that
        prepared the same name (setting ``db_transaction_pooling``)."""
        connect_args: dict[str, object] = {"application_name": "reprotech"}
        if transaction_pooling:
            connect_args["prepare_threshold"] = None
        self.engine = create_engine(
            url,
            pool_size=pool_size,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
        try:
            if check:
                check_login_is_safe(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise DatabaseError(f"cannot reach the database: {_first_line(exc)}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        _install_identity_hook(self._sessions)

    @contextmanager
    def session(
        self, identity: Identity, *, tenant_id: int | None = None, reason: str | None = None
    ) -> Iterator[Session]:
        """A unit of work as ``identity``: committed on success, rolled back on any error.

        ``tenant_id`` narrows what the identity sees to one customer (never widens it);
        ``reason`` is recorded in the audit log and is required to change released results.
        """
        session = self._sessions()
        session.info.update(identity=identity, tenant_id=tenant_id, reason=reason)
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            raise translate(exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def identity(self, username: str) -> Identity:
        """Resolve a signed-in username to its identity (inactive users are refused)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM core.resolve_login(:u)"), {"u": username}
            ).one_or_none()
        if row is None:
            raise NotFound(f"no user {username!r}")
        if not row.active:
            raise PermissionDenied(f"user {username!r} is deactivated")
        return Identity(row.id, row.username, row.role, row.customer_id)

    def dispose(self) -> None:
        self.engine.dispose()


_RULE = re.compile(r"rule: (\S+)")


def translate(exc: DBAPIError) -> Exception:
    """Turn a database error into the platform's error with a readable message."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    state = getattr(orig, "sqlstate", None)
    primary = (diag.message_primary if diag else None) or _first_line(exc)
    if state == "RT001":
        match = _RULE.search((diag.message_detail if diag else "") or "")
        return RuleViolation(match.group(1) if match else "unknown", primary)
    if state == "23505":  # unique_violation
        return RuleViolation("unique", f"already exists: {diag.message_detail or primary}")
    if state == "23503":  # foreign_key_violation
        return RuleViolation("reference", f"refers to a record that does not exist: {primary}")
    if state == "23514":  # check_violation
        return RuleViolation(f"check.{diag.constraint_name}", primary)
    if state == "42501":  # insufficient_privilege, incl. row security WITH CHECK
        return PermissionDenied(primary)
    if isinstance(exc, OperationalError):
        return DatabaseError(f"database unavailable: {primary}")
    return exc


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


@lru_cache(maxsize=1)
def get_database() -> Database:
    """The process's database, from the settings."""
    settings: Settings = get_settings()
    return Database(app_url(settings), pool_size=settings.db_pool_size,
                    transaction_pooling=settings.db_transaction_pooling)
