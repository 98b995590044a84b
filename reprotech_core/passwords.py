"""A user's own password: changing it while signed in, and resetting a forgotten one through
a single-use, expiring link sent by email (local sign-in only; with OIDC the identity
provider owns passwords).

The database does the writing (migration 0024): the application login can neither update a
user's row nor read the reset table, so each step is one SECURITY DEFINER function that does
exactly that step. This module checks the passwords (length, the two copies agree, the
current one is right — Argon2, in Python), makes and hashes tokens, and sends the email.

A reset token is 32 random bytes (``secrets.token_urlsafe``) in the link; only its SHA-256 is
stored, so reading the table opens nothing. A request for an unknown name or an account
without an email address does exactly what a known one does on the outside (same answer, no
email), so the form cannot be used to find accounts. A new request retires the user's older
links; spending a link also spends it for good; an expired, used or unknown link is a named
rule (``password_reset.expired`` / ``.used`` / ``.unknown``) and changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from data_models.tenancy import User
from reprotech_core import mail
from reprotech_core.accounts import hash_password, verify_password
from reprotech_core.db.session import Database, translate
from reprotech_core.errors import RuleViolation
from reprotech_core.settings import Settings

MIN_LENGTH = 12
RESET_PATH = "/hub/password-reset"
REQUESTED = ("If an account with that name or email address exists and has an email address, "
             "a link to choose a new password is on its way. It works once, for {minutes} "
             "minutes.")


def check_new_password(username: str, new: str, again: str) -> None:
    """The rules a new password keeps, each refused by name."""
    if new != again:
        raise RuleViolation("user.password_mismatch", "the two new passwords differ")
    if len(new) < MIN_LENGTH:
        raise RuleViolation("user.password_length",
                            f"passwords need at least {MIN_LENGTH} characters")
    if new.strip().lower() == username.lower():
        raise RuleViolation("user.password_is_username", "the password may not be the username")


def change_own_password(session: Session, current: str, new: str, again: str) -> None:
    """The acting user replaces their own password, giving the current one."""
    user = session.scalar(select(User).where(User.id == text("core.actor_id()")))
    if user is None:
        raise RuleViolation("user.unknown", "no signed-in user to change the password of")
    if not verify_password(user, current):
        raise RuleViolation("user.wrong_password", "the current password is not right")
    check_new_password(user.username, new, again)
    if new == current:
        raise RuleViolation("user.password_unchanged", "the new password is the current one")
    changed = session.scalar(text("SELECT core.change_own_password(:old, :new)"),
                             {"old": user.password_hash, "new": hash_password(new)})
    if not changed:
        raise RuleViolation("user.password_changed_meanwhile",
                            "the password was changed meanwhile; sign in again")


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def reset_link(settings: Settings, token: str) -> str:
    """At the address people's browsers use (``public_url``), never the bind address."""
    return f"{settings.public_base}{RESET_PATH}/{token}"


@dataclass(frozen=True)
class ResetRequest:
    """What a request did; ``sent_to`` is for logs and tests, never shown to the requester."""

    answer: str
    sent_to: str | None = None


def issue_link(db: Database, settings: Settings, login: str, *, minutes: int,
               per_hour: int | None = None) -> tuple[str, str, str] | None:
    """A new single-use link for the active user with this username or email address (and an
    email address): ``(username, email, link)``, or None for no such user, or when
    ``per_hour`` links were issued to the account in the last hour already."""
    token = secrets.token_urlsafe(32)
    try:
        with db.engine.begin() as conn:
            row = conn.execute(
                text("SELECT * FROM core.password_reset_issue(:l, :t, :m, :n)"),
                {"l": login, "t": token_digest(token), "m": minutes, "n": per_hour}).first()
    except DBAPIError as exc:
        raise translate(exc) from exc
    return None if row is None else (row.username, row.email, reset_link(settings, token))


def request_reset(db: Database, settings: Settings, login: str) -> ResetRequest:
    """Issue a link for the active user with this username or email address and email it."""
    answer = REQUESTED.format(minutes=settings.password_reset_minutes)
    login = (login or "").strip()
    if not login or len(login) > 254:
        return ResetRequest(answer)
    issued = issue_link(db, settings, login, minutes=settings.password_reset_minutes,
                        per_hour=settings.password_reset_per_hour)
    if issued is None:
        return ResetRequest(answer)
    username, address, link = issued
    mail.send(settings, to=[address], subject="[Reprotech] Choose a new password", body=(
        f"Hello {username},\n\n"
        f"someone (we hope you) asked to reset the password of your Reprotech account.\n"
        f"Choose a new one here within {settings.password_reset_minutes} minutes:\n\n"
        f"  {link}\n\n"
        "The link works once. If you did not ask for it, ignore this email: your password "
        "stays as it is.\n"))
    return ResetRequest(answer, address)


def spend_reset(db: Database, token: str, new: str, again: str) -> str:
    """Set the new password of the link's user; returns their username."""
    check_new_password("", new, again)  # the link names no user before it is spent
    try:
        with db.engine.begin() as conn:
            return conn.scalar(text("SELECT core.password_reset_spend(:t, :h)"),
                               {"t": token_digest(token), "h": hash_password(new)})
    except DBAPIError as exc:
        raise translate(exc) from exc
