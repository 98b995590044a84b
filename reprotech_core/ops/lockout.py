"""Sign-in rate limiting and lock-out, counted in PostgreSQL (``core.signin_*``, migration
0007) so that every hub process, on every machine, sees the same failures.

Limits (settings ``signin_*``): ``signin_max_failures`` failed sign-ins of one username within
the window lock it for ``signin_lockout_minutes``; ``signin_max_failures_per_source`` failures
from one address (any usernames: password spraying) lock the address; the hub takes that
address from the socket and trusted proxies only (``reprotech_core.client_address``), never
from a header the client wrote. Unknown usernames are
counted and locked like real ones, so the lock-out message reveals nothing. Each lock-out is
a row of ``core.signin_lockouts`` and therefore an audit event; an administrator may lift it
(``reprotech ops unlock``), which is audited too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.db.session import Database
from reprotech_core.settings import Settings


@dataclass(frozen=True)
class SigninLimits:
    max_failures: int = 5
    max_failures_per_source: int = 50
    window_s: int = 15 * 60
    lockout_s: int = 15 * 60

    @classmethod
    def from_settings(cls, settings: Settings) -> SigninLimits:
        return cls(settings.signin_max_failures, settings.signin_max_failures_per_source,
                   settings.signin_failure_window_minutes * 60,
                   settings.signin_lockout_minutes * 60)


def locked_message(until: datetime) -> str:
    """What the person signing in reads (the same for known and unknown usernames)."""
    return (f"Too many failed sign-ins: sign-in is locked until {until:%H:%M} UTC. Try again "
            "then, or ask an administrator to lift the lock-out.")


def locked_until(db: Database, username: str, source: str | None) -> datetime | None:
    with db.engine.begin() as conn:
        return conn.scalar(text("SELECT core.signin_locked_until(:u, :s)"),
                           {"u": username, "s": source})


def record_failure(db: Database, username: str, source: str | None,
                   limits: SigninLimits) -> datetime | None:
    """Count a failed sign-in; returns the end of a lock-out it started, if any."""
    with db.engine.begin() as conn:
        return conn.scalar(
            text("SELECT core.signin_failed(:u, :s, :mu, :ms, :w, :l)"),
            {"u": username, "s": source, "mu": limits.max_failures,
             "ms": limits.max_failures_per_source, "w": limits.window_s, "l": limits.lockout_s})


def record_success(db: Database, username: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("SELECT core.signin_succeeded(:u)"), {"u": username})


def unlock(session: Session, username_or_source: str) -> int:
    """Lift active lock-outs of a username (or address); needs ``users:manage_all``."""
    return session.scalar(text("SELECT core.signin_unlock(:u)"), {"u": username_or_source})


def active_lockouts(session: Session) -> list:
    return session.execute(text(
        "SELECT username, source, failures, locked_at, locked_until FROM core.signin_lockouts "
        "WHERE locked_until > clock_timestamp() ORDER BY locked_at")).all()
