"""The audit trail as a person reads it: who changed what, when, old and new values.

Every audited write leaves a row in ``audit.log`` (trigger ``audit.record_change``, migration
0002). Row security on the log decides who reads what: administrators hold
``audit:read_all`` (every row), a customer admin holds ``audit:read`` (their organisation's
rows only). This module adds nothing to that rule — every query runs as the reader — it only
turns the rows into something a person can filter and read:

- filters by animal (official ID), user (username), table and date range; an animal or user
  the reader cannot see is "not found", exactly like one that does not exist, so the filters
  cannot be used to probe another farm;
- the actor's username where the reader may see that user (a customer admin sees their own
  farm's users; a change by Reprotech staff reads "Reprotech staff"), and the database login
  for a change with no signed-in actor (a job, a migration);
- the changed fields of an update, old → new, one line per field;
- the same rows as CSV, with spreadsheet-safe cells (:func:`reprotech_core.portal.exports.csv_bytes`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.roles import has_permission

#: What a reader sees per event, in this order.
EVENT_COLUMNS = ["when", "who", "action", "table", "row", "customer", "changes", "reason"]
#: The most rows one query returns; the page says when a filter would show more.
MAX_ROWS = 2000
STAFF = "Reprotech staff"
#: Fields every row carries that say nothing a reader needs in "changes".
_QUIET_FIELDS = frozenset({"updated_at", "created_at"})


@dataclass(frozen=True)
class AuditFilter:
    """What the reader asked for; every field optional. ``until`` is inclusive (a day)."""

    animal: str | None = None
    user: str | None = None
    table: str | None = None
    since: date | None = None
    until: date | None = None
    limit: int = 500

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_ROWS:
            raise ValueError(f"limit must be between 1 and {MAX_ROWS}, got {self.limit}")
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"the date range is empty: {self.since} is after {self.until}")


def may_read(session: Session) -> bool:
    return has_permission(session, "audit:read_all") or has_permission(session, "audit:read")


def require_reader(session: Session) -> None:
    if not may_read(session):
        raise PermissionDenied("the audit trail needs the audit:read permission")


def audited_tables(session: Session) -> list[str]:
    """The tables with an audit trigger (what the table filter offers), from the catalogue:
    cheaper than a ``DISTINCT`` over the whole log and complete even for quiet tables."""
    return list(session.scalars(text(
        "SELECT DISTINCT n.nspname || '.' || c.relname FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE t.tgname = 'audit' AND NOT t.tgisinternal AND NOT c.relispartition "
        "ORDER BY 1")))


def _animal_id(session: Session, official_id: str) -> int:
    found = session.scalar(text("SELECT id FROM core.animals WHERE official_id = :o"),
                           {"o": official_id.strip()})
    if found is None:  # absent or another farm's: the same answer
        raise NotFound(f"no animal {official_id.strip()!r}")
    return int(found)


def _user_id(session: Session, username: str) -> int:
    found = session.scalar(text("SELECT id FROM core.users WHERE username = :u"),
                           {"u": username.strip()})
    if found is None:
        raise NotFound(f"no user {username.strip()!r}")
    return int(found)


def audit_events(session: Session, wanted: AuditFilter = AuditFilter()) -> pd.DataFrame:
    """The newest events matching ``wanted`` that the reader may see (``EVENT_COLUMNS``),
    newest first, plus ``more`` in ``frame.attrs``: whether rows beyond the limit exist."""
    require_reader(session)
    where, params = ["true"], {"limit": wanted.limit + 1}
    if wanted.animal:
        params["animal"] = str(_animal_id(session, wanted.animal))
        where.append("((l.table_name = 'core.animals' AND l.row_id = :animal) "
                     "OR l.new_values->>'animal_id' = :animal "
                     "OR l.old_values->>'animal_id' = :animal)")
    if wanted.user:
        params["actor"] = _user_id(session, wanted.user)
        where.append("l.actor_user_id = :actor")
    if wanted.table:
        params["table"] = wanted.table
        where.append("l.table_name = :table")
    if wanted.since:
        params["since"] = datetime.combine(wanted.since, time.min)
        where.append("l.occurred_at >= CAST(:since AS timestamp) AT TIME ZONE 'UTC'")
    if wanted.until:
        params["until"] = datetime.combine(wanted.until + timedelta(days=1), time.min)
        where.append("l.occurred_at < CAST(:until AS timestamp) AT TIME ZONE 'UTC'")
    rows = session.execute(text(
        f"""
        SELECT l.occurred_at, l.actor_user_id, u.username, l.db_login, l.action, l.table_name,
               l.row_id, c.code AS customer, l.old_values, l.new_values, l.reason
          FROM audit.log l
          LEFT JOIN core.users u ON u.id = l.actor_user_id
          LEFT JOIN core.customers c ON c.id = l.customer_id
         WHERE {" AND ".join(where)}
         ORDER BY l.occurred_at DESC, l.id DESC
         LIMIT :limit
        """), params).all()  # the WHERE parts are constants; every value is bound
    frame = pd.DataFrame([{
        "when": r.occurred_at, "who": actor(r.actor_user_id, r.username, r.db_login),
        "action": r.action.lower(), "table": r.table_name, "row": r.row_id,
        "customer": r.customer, "changes": changes(r.action, r.old_values, r.new_values),
        "reason": r.reason} for r in rows[: wanted.limit]], columns=EVENT_COLUMNS)
    frame.attrs["more"] = len(rows) > wanted.limit
    return frame


def actor(user_id: int | None, username: str | None, db_login: str) -> str:
    """Who made the change, as far as the reader may know: a user the reader cannot see
    (staff, for a customer admin) is "Reprotech staff"; no user at all is the database
    login (a scheduled job, a migration)."""
    if username is not None:
        return username
    if user_id is not None:
        return STAFF
    return f"system ({db_login})"


def changes(action: str, old: dict | None, new: dict | None) -> str:
    """One entry per field, ``; ``-separated (a table cell and a CSV cell both keep it on
    one line): ``field: old → new`` for an update (changed fields only), ``field: value``
    for an insert or a delete. Bookkeeping timestamps are left out."""
    def shown(value: object) -> str:
        return "∅" if value is None else (value if isinstance(value, str)
                                          else json.dumps(value, ensure_ascii=False))

    old, new = old or {}, new or {}
    if action.upper() == "UPDATE":
        keys = [k for k in sorted(old.keys() | new.keys())
                if k not in _QUIET_FIELDS and old.get(k) != new.get(k)]
        return "; ".join(f"{k}: {shown(old.get(k))} → {shown(new.get(k))}" for k in keys)
    values = new if action.upper() == "INSERT" else old
    return "; ".join(f"{k}: {shown(v)}" for k, v in sorted(values.items())
                     if k not in _QUIET_FIELDS and v is not None)
