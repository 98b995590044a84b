"""A user's own second factor on PostgreSQL: a customer enrols one with their password and a
code from the new secret, and from then on sign-in needs the code; a wrong code, a wrong
password or a forged secret changes nothing; a customer may remove theirs, staff may not
where it is required; a notebook login cannot call the function."""

from __future__ import annotations

import uuid

import psycopg
import pyotp
import pytest
from sqlalchemy import text

from reprotech_core import accounts, second_factor
from reprotech_core.errors import RuleViolation
from reprotech_core.signin import SignInRefused, check

PASSWORD = "farm-password-123"


@pytest.fixture
def user(db, system, world):
    name = f"tf-{uuid.uuid4().hex[:10]}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, "Second factor", "customer_user", "w-a",
                                                 password=PASSWORD))
    return name


def secret_of(db, system, name: str) -> str | None:
    with db.session(system) as s:
        return s.scalar(text("SELECT totp_secret FROM core.users WHERE username = :u"),
                        {"u": name})


def enrol(db, name: str, password: str, secret: str, code: str) -> None:
    with db.session(db.identity(name)) as s:
        second_factor.enrol(s, password, secret, code)


def test_a_customer_enrols_and_sign_in_then_needs_the_code(db, system, user):
    new = second_factor.start(user)
    assert new.uri.startswith("otpauth://totp/") and "<svg" in new.qr_svg
    now = pyotp.TOTP(new.secret).now()
    for password, secret, code, rule in (
            ("wrong-password-1", new.secret, now, "user.wrong_password"),
            (PASSWORD, new.secret, f"{(int(now) + 1) % 1_000_000:06d}", "totp.code"),
            (PASSWORD, "NOT-A-SECRET", now, "totp.secret")):
        with pytest.raises(RuleViolation) as refused:
            enrol(db, user, password, secret, code)
        assert refused.value.rule == rule
        assert secret_of(db, system, user) is None
    enrol(db, user, PASSWORD, new.secret, now)
    assert secret_of(db, system, user) == new.secret
    with pytest.raises(SignInRefused):
        check(db, user, PASSWORD, None, require_staff_totp=False)
    assert check(db, user, PASSWORD, pyotp.TOTP(new.secret).now(),
                 require_staff_totp=False).username == user
    with db.session(system) as s:
        reason = s.scalar(text(
            "SELECT reason FROM audit.log WHERE table_name = 'core.users' AND action = 'UPDATE' "
            "AND row_id = (SELECT id::text FROM core.users WHERE username = :u) "
            "AND old_values->>'totp_secret' IS NULL AND new_values->>'totp_secret' IS NOT NULL"),
            {"u": user})
    assert reason == "second factor enrolled by its user"
    with pytest.raises(RuleViolation, match="totp.state"):
        enrol(db, user, PASSWORD, second_factor.start(user).secret, now)


def test_a_customer_removes_theirs_staff_may_not(db, system, user):
    new = second_factor.start(user)
    enrol(db, user, PASSWORD, new.secret, pyotp.TOTP(new.secret).now())
    with db.session(db.identity(user)) as s, pytest.raises(RuleViolation, match="totp.code"):
        second_factor.remove(s, PASSWORD, "000000" if pyotp.TOTP(new.secret).now() != "000000"
                             else "111111", staff_required=True)
    with db.session(db.identity(user)) as s:
        second_factor.remove(s, PASSWORD, pyotp.TOTP(new.secret).now(), staff_required=True)
    assert secret_of(db, system, user) is None
    staff = f"tf-vet-{uuid.uuid4().hex[:6]}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(staff, "Vet", "veterinarian",
                                                 password=PASSWORD))
    mine = second_factor.start(staff)
    enrol(db, staff, PASSWORD, mine.secret, pyotp.TOTP(mine.secret).now())
    with db.session(db.identity(staff)) as s, pytest.raises(RuleViolation, match="totp.required"):
        second_factor.remove(s, PASSWORD, pyotp.TOTP(mine.secret).now(), staff_required=True)
    assert secret_of(db, system, staff) == mine.secret


def test_a_notebook_login_cannot_set_anyones_second_factor(db, user, notebook):
    conn = notebook("w-vet")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT core.set_own_totp('x', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')")
