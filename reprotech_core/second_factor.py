"""A user's own second factor (TOTP, RFC 6238): enrolling it from the hub's ``/hub/totp`` page,
optional for customers and compulsory for staff where ``hub_staff_totp_required``.

Enrolling proves both things that matter: the password (the page is behind a session that
may be left open) and a code computed from the new secret (the authenticator app holds it), so
nobody is locked out by a mistyped scan. The secret travels in the enrolment form only (it is
the user's own, shown to them as a QR code); the database swaps it in only while the password
is unchanged (``core.set_own_totp``, migration 0027). Removing it needs the password and a
current code; staff may not remove theirs where it is required. From then on sign-in asks for
the code (:mod:`reprotech_core.signin`). Refusals are named: ``user.wrong_password``,
``totp.code`` (the code does not match), ``totp.secret`` (not a secret this page made),
``totp.required`` (staff removing a required factor), ``totp.state`` (nothing to remove, or
already enrolled).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import segno
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from data_models.tenancy import User
from reprotech_core.accounts import verify_password
from reprotech_core.errors import RuleViolation
from reprotech_core.roles import Role
from reprotech_core.signin import new_totp_secret, provisioning_uri, totp_step

SECRET = re.compile(r"^[A-Z2-7]{32}$")


def _me(session: Session) -> User:
    user = session.scalar(select(User).where(User.id == text("core.actor_id()")))
    if user is None:
        raise RuleViolation("user.unknown", "no signed-in user")
    return user


@dataclass(frozen=True)
class Enrolment:
    """What the page shows to enrol: the secret (in the form), its URI and its QR code."""

    secret: str
    uri: str
    qr_svg: str


def start(username: str) -> Enrolment:
    secret = new_totp_secret()
    uri = provisioning_uri(username, secret)
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True,
                                    title="Scan with your authenticator app")
    return Enrolment(secret, uri, out.getvalue().decode())


def enrolled(session: Session) -> bool:
    return _me(session).totp_secret is not None


def _swap(session: Session, user: User, secret: str | None) -> None:
    if not session.scalar(text("SELECT core.set_own_totp(:h, :s)"),
                          {"h": user.password_hash, "s": secret}):
        raise RuleViolation("user.password_changed_meanwhile",
                            "the password was changed meanwhile; sign in again")


def enrol(session: Session, password: str, secret: str, code: str) -> None:
    user = _me(session)
    if user.totp_secret is not None:
        raise RuleViolation("totp.state", "a second factor is enrolled already; remove it "
                            "first to enrol another")
    if not SECRET.match(secret or ""):
        raise RuleViolation("totp.secret", "this enrolment form is not one this page made; "
                            "open the page again")
    if not verify_password(user, password):
        raise RuleViolation("user.wrong_password", "the password is not right")
    if totp_step(secret, (code or "").strip()) is None:
        raise RuleViolation("totp.code", "the code does not match: check the time on your "
                            "phone and type the code the app shows now")
    _swap(session, user, secret)


def remove(session: Session, password: str, code: str, *, staff_required: bool) -> None:
    user = _me(session)
    if user.totp_secret is None:
        raise RuleViolation("totp.state", "no second factor is enrolled")
    if staff_required and not Role(user.role).customer_scoped:
        raise RuleViolation("totp.required", "staff accounts must keep their second factor; "
                            "an administrator can reset it (`reprotech user totp`)")
    if not verify_password(user, password):
        raise RuleViolation("user.wrong_password", "the password is not right")
    if totp_step(user.totp_secret, (code or "").strip()) is None:
        raise RuleViolation("totp.code", "the code does not match the app's code now")
    _swap(session, user, None)

