"""Local sign-in: who a username/password (and TOTP code) is, and whether they may sign in.

This is the embedded default's identity check, used by the hub's ``ReprotechAuthenticator``;
production signs in through an OIDC identity provider instead (see docs/hub.md). Passwords are
Argon2 hashes (``accounts.verify_password``); staff also give a time-based one-time code
(RFC 6238, via pyotp) — compulsory by default (setting ``hub_staff_totp_required``), because a
staff password alone opens every customer's data.

The hub reads the user's row through the application login and row security, as the user
themselves (policy ``self_read``): the hub holds no power to read other users' rows.

What a refusal tells an attacker is kept to the minimum:

* one message (:data:`WRONG_CREDENTIALS`) and one Argon2 verification for an unknown username,
  a deactivated account, a wrong password, and a right password with a missing, wrong or
  replayed code, so neither the message nor the time tells which usernames exist or which
  passwords are right;
* a one-time code is accepted once (RFC 6238 §5.2): the time step it belongs to must be later
  than the user's last accepted step, compared and recorded in one statement by
  ``core.totp_claim_step`` (migration 0014), so two hub processes cannot both accept it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import pyotp.utils
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.accounts import spend_password_check, user_by_name, verify_password
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, ReprotechError
from reprotech_core.ops import lockout
from reprotech_core.ops.lockout import SigninLimits
from reprotech_core.roles import Role

WRONG_CREDENTIALS = "Invalid username or password."
"""One message for an unknown or deactivated user, a wrong password and a wrong second factor,
so none can be told apart."""

TOTP_VALID_WINDOW = 1
"""Codes of the previous and next time step are accepted too (clock drift, RFC 6238 §5.2)."""


class SignInRefused(ReprotechError):
    """Sign-in refused; the message is safe to show to the person signing in."""


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: Role
    customer_id: int | None


STAFF_NEEDS_TOTP = (
    "Staff accounts need a second factor. Ask an administrator to enrol you "
    "(`reprotech user totp <username>`), then sign in with the code from your authenticator app."
)


def check(db: Database, username: str, password: str, totp_code: str | None = None, *,
          require_staff_totp: bool = True, source: str | None = None,
          limits: SigninLimits | None = None) -> SignedIn:
    """Check a sign-in against the platform users table; raise :class:`SignInRefused`.

    Refused: a username or source address locked out after too many failures
    (``reprotech_core.ops.lockout``; every refusal below counts as a failure); with
    :data:`WRONG_CREDENTIALS`: an unknown or deactivated user, a wrong password, a missing, wrong
    or already used code of a user with a second factor (staff; customers who enrolled one); after a right password only: unknown role, customer
    role without a customer, staff without TOTP enrolled (when required).
    """
    if limits is None:
        from reprotech_core.settings import get_settings

        limits = SigninLimits.from_settings(get_settings())
    until = lockout.locked_until(db, username, source)
    if until is not None:
        raise SignInRefused(lockout.locked_message(until))
    try:
        signed = _check(db, username, password, totp_code, require_staff_totp=require_staff_totp)
    except SignInRefused:
        until = lockout.record_failure(db, username, source, limits)
        if until is not None:
            raise SignInRefused(lockout.locked_message(until)) from None
        raise
    lockout.record_success(db, username)
    return signed


def _check(db: Database, username: str, password: str, totp_code: str | None, *,
           require_staff_totp: bool) -> SignedIn:
    try:
        identity = db.identity(username)
    except (NotFound, PermissionDenied):  # unknown or deactivated: same cost, same answer
        spend_password_check(password)
        raise SignInRefused(WRONG_CREDENTIALS) from None
    with db.session(identity) as session:
        try:
            user = user_by_name(session, username)
        except NotFound:
            spend_password_check(password)
            raise SignInRefused(WRONG_CREDENTIALS) from None
        if not verify_password(user, password):
            raise SignInRefused(WRONG_CREDENTIALS)
        role = _role(identity)
        if role.customer_scoped and identity.customer_id is None:
            raise SignInRefused(
                f"Account {username!r} is a {role} but belongs to no customer; "
                "ask your administrator to attach it to a customer."
            )
        if user.totp_secret:  # staff, and customers who enrolled one (optional for them)
            step = totp_step(user.totp_secret, totp_code)
            if step is None or not _claim_step(session, step):
                raise SignInRefused(WRONG_CREDENTIALS)
        elif not role.customer_scoped and require_staff_totp:
            raise SignInRefused(STAFF_NEEDS_TOTP)
    return SignedIn(username, role, identity.customer_id)


def totp_step(secret: str, code: str | None, now: datetime | None = None) -> int | None:
    """The RFC 6238 time step whose code ``code`` is, within the valid window; else ``None``."""
    if not code:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or datetime.now(UTC))
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(code.strip(), totp.generate_otp(step)):
            return step
    return None


def _claim_step(session: Session, step: int) -> bool:
    """Record ``step`` as the signed-in user's last used one if it is later; ``False`` if not
    (a replay). Compare-and-set in one UPDATE, so concurrent sign-ins cannot both win."""
    return bool(session.scalar(text("SELECT core.totp_claim_step(:step)"), {"step": step}))


def _role(identity: Identity) -> Role:
    try:
        return Role(identity.role)
    except ValueError:
        raise SignInRefused(
            f"Account {identity.username!r} has a role this platform does not know; "
            "ask your administrator."
        ) from None


def enrol_totp(session: Session, username: str) -> str:
    """Give a staff user a new TOTP secret (replacing any) and return its provisioning URI."""
    user = user_by_name(session, username)
    if Role(user.role).customer_scoped:
        raise PermissionDenied(f"user {username!r} is a {user.role}: TOTP is for staff sign-in")
    secret = new_totp_secret()
    user.totp_secret = secret
    session.flush()
    return provisioning_uri(username, secret)


def remove_totp(session: Session, username: str) -> None:
    user_by_name(session, username).totp_secret = None
    session.flush()


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret for enrolment (shown once as a provisioning URI)."""
    return pyotp.random_base32()


def provisioning_uri(username: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Reprotech Analytics")
