"""Local sign-in: who a username/password (and TOTP code) is, and whether they may sign in.

This is the embedded default's identity check, used by the hub's ``ReprotechAuthenticator``;
production signs in through an OIDC identity provider instead (see docs/hub.md). Passwords are
Argon2 hashes (``accounts.verify_password``); staff also give a time-based one-time code
(RFC 6238, via pyotp) — compulsory by default (setting ``hub_staff_totp_required``), because a
staff password alone opens every customer's data.

The hub reads the user's row through the application login and row security, as the user
themselves (policy ``self_read``): the hub holds no power to read other users' rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
from sqlalchemy.orm import Session

from reprotech_core.accounts import user_by_name, verify_password
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, ReprotechError
from reprotech_core.ops import lockout
from reprotech_core.ops.lockout import SigninLimits
from reprotech_core.roles import Role

WRONG_CREDENTIALS = "Invalid username or password."
"""One message for an unknown user and a wrong password, so neither can be told apart."""


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
    (``reprotech_core.ops.lockout``; every refusal below counts as a failure), unknown user or
    wrong password (one message), deactivated user, unknown role, customer role without a
    customer, staff without TOTP enrolled (when required), staff with a missing/wrong code.
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
    except NotFound:
        raise SignInRefused(WRONG_CREDENTIALS) from None
    except PermissionDenied:
        raise SignInRefused(
            "This account is deactivated. Ask your administrator to reactivate it."
        ) from None
    with db.session(identity) as session:
        try:
            user = user_by_name(session, username)
        except NotFound:
            raise SignInRefused(WRONG_CREDENTIALS) from None
        if not verify_password(user, password):
            raise SignInRefused(WRONG_CREDENTIALS)
        totp_secret = user.totp_secret
    role = _role(identity)
    if role.customer_scoped and identity.customer_id is None:
        raise SignInRefused(
            f"Account {username!r} is a {role} but belongs to no customer; "
            "ask your administrator to attach it to a customer."
        )
    if not role.customer_scoped and not totp_secret and require_staff_totp:
        raise SignInRefused(STAFF_NEEDS_TOTP)
    if not role.customer_scoped and totp_secret:
        if not totp_code or not pyotp.TOTP(totp_secret).verify(totp_code.strip(), valid_window=1):
            raise SignInRefused("Staff sign-in needs the current code from your authenticator app.")
    return SignedIn(username, role, identity.customer_id)


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
