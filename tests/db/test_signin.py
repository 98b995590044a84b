"""Local sign-in rules (reprotech_core.signin) against the real database, without a hub."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pyotp
import pytest
from sqlalchemy import text

from reprotech_core import accounts, signin
from reprotech_core.errors import PermissionDenied
from reprotech_core.ops.lockout import SigninLimits
from reprotech_core.roles import Role

PASSWORD = "signin-test-password"
NO_LOCKOUT = SigninLimits(max_failures=10_000, max_failures_per_source=10_000)
"""These tests refuse many sign-ins on purpose; lock-out is tests/ops/test_lockout.py's."""


@pytest.fixture(scope="module")
def users(db, system, world):
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("si-res", "si", "researcher", password=PASSWORD))
        accounts.create_user(s, accounts.NewUser("si-cust", "si", "customer_user", "w-b",
                                                 password=PASSWORD))
        uri = signin.enrol_totp(s, "si-res")
    return pyotp.parse_uri(uri).secret


@pytest.fixture
def staff(db, system, request) -> tuple[str, pyotp.TOTP]:
    """A fresh researcher with a password and TOTP (no step used yet), named after the test."""
    name = "si-" + request.node.name.removeprefix("test_")[:40].replace("_", "-")
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, "si", "researcher", password=PASSWORD))
        secret = pyotp.parse_uri(signin.enrol_totp(s, name)).secret
    return name, pyotp.TOTP(secret)


def current(totp: pyotp.TOTP) -> tuple[int, str]:
    step = totp.timecode(datetime.now(UTC))
    return step, totp.generate_otp(step)


def stored(admin_conninfo: str, username: str) -> tuple[int | None, int, int]:
    """(last used step, audit rows of core.users, sign-in failures) as the superuser sees them."""
    with psycopg.connect(admin_conninfo) as conn:
        return conn.execute(
            "SELECT (SELECT totp_last_step FROM core.users WHERE username = %(u)s),"
            " (SELECT count(*) FROM audit.log WHERE table_name = 'core.users'),"
            " (SELECT count(*) FROM core.signin_failures WHERE username = %(u)s)",
            {"u": username}).fetchone()


def refused(db, username: str, password: str, code: str | None = None) -> str:
    with pytest.raises(signin.SignInRefused) as refusal:
        signin.check(db, username, password, code, limits=NO_LOCKOUT)
    return str(refusal.value)


def test_password_and_totp(db, users) -> None:
    code = pyotp.TOTP(users).now()
    signed = signin.check(db, "si-res", PASSWORD, code)
    assert signed.role is Role.RESEARCHER and signed.customer_id is None
    assert refused(db, "si-res", PASSWORD) == signin.WRONG_CREDENTIALS
    assert refused(db, "si-res", PASSWORD + "x", code) == signin.WRONG_CREDENTIALS


def test_customer_user_gets_their_customer_and_no_totp(db, world, users) -> None:
    signed = signin.check(db, "si-cust", PASSWORD)
    assert signed.role is Role.CUSTOMER_USER and signed.customer_id == world.farm_b


def test_a_code_is_accepted_once(db, admin_conninfo, staff) -> None:
    name, totp = staff
    step, code = current(totp)
    assert signin.check(db, name, PASSWORD, code).username == name
    used = stored(admin_conninfo, name)
    assert used[0] == step  # the step the code belongs to, even if the clock ticked since

    assert refused(db, name, PASSWORD, code) == signin.WRONG_CREDENTIALS  # replay
    earlier = totp.generate_otp(step - 1)  # inside the valid window (unless the clock ticked)
    assert refused(db, name, PASSWORD, earlier) == signin.WRONG_CREDENTIALS
    last_step, audit_rows, failures = stored(admin_conninfo, name)
    # Nothing about the user changed: same step, no audit row; only the failures were counted.
    assert (last_step, audit_rows, failures) == (used[0], used[1], used[2] + 2)

    assert signin.check(db, name, PASSWORD, totp.generate_otp(step + 1)).username == name


def test_two_hub_processes_racing_with_one_code_let_one_in(db, staff) -> None:
    name, totp = staff
    _, code = current(totp)
    start = threading.Barrier(4)

    def attempt(_: int) -> str:
        start.wait()
        try:
            return signin.check(db, name, PASSWORD, code, limits=NO_LOCKOUT).username
        except signin.SignInRefused as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == [signin.WRONG_CREDENTIALS] * 3 + [name]


def test_a_sign_in_waits_for_a_concurrent_claim_and_then_sees_the_step_used(
        db, admin_conninfo, staff) -> None:
    """The compare-and-set is atomic in PostgreSQL, not in Python: while one transaction holds
    a claimed, uncommitted step, a second sign-in with that code blocks on the row and, once
    the first commits, finds the step used."""
    name, totp = staff
    step, code = current(totp)
    identity = db.identity(name)
    outcome: list[str] = []
    with db.session(identity) as first:
        assert signin._claim_step(first, step) is True
        racer = threading.Thread(target=lambda: outcome.append(refused(db, name, PASSWORD, code)))
        racer.start()
        racer.join(timeout=3)
        assert racer.is_alive(), "the second claim did not wait for the first transaction"
    racer.join(timeout=30)
    assert outcome == [signin.WRONG_CREDENTIALS]
    assert stored(admin_conninfo, name)[0] == step


def test_the_claim_moves_only_the_acting_users_own_step(db, world, notebook, admin_conninfo,
                                                       staff) -> None:
    """No new power for anyone: a notebook login cannot call the claim; through the
    application it touches only the acting user's row (another user, without TOTP, claims
    nothing); without an identity it claims nothing."""
    name, totp = staff
    step, _ = current(totp)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        notebook("w-vet").execute("SELECT core.totp_claim_step(%s)", (step,))
    with db.session(world.users["w-admin"]) as s:
        assert signin._claim_step(s, step) is False
    with db.engine.begin() as conn:
        assert conn.scalar(text("SELECT core.totp_claim_step(:s)"), {"s": step}) is False
    assert stored(admin_conninfo, name)[0] is None


def test_unknown_user_wrong_password_and_wrong_second_factor_read_the_same(
        db, system, users) -> None:
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("si-gone", "si", "researcher",
                                                 password=PASSWORD))
        accounts.deactivate(s, "si-gone")
    totp = pyotp.TOTP(users)
    step, code = current(totp)
    wrong_code = next(c for c in ("000000", "111111", "222222")
                      if totp_step_of(totp, c, step) is None)
    messages = {
        "unknown user": refused(db, "si-nobody", PASSWORD),
        "unknown user with a code": refused(db, "si-nobody", PASSWORD, code),
        "wrong password": refused(db, "si-cust", "wrong-password-123"),
        "staff, wrong password, right code": refused(db, "si-res", "wrong-password-123", code),
        "staff, right password, no code": refused(db, "si-res", PASSWORD),
        "staff, right password, blank code": refused(db, "si-res", PASSWORD, "   "),
        "staff, right password, wrong code": refused(db, "si-res", PASSWORD, wrong_code),
        "deactivated, right password": refused(db, "si-gone", PASSWORD),
        "deactivated, wrong password": refused(db, "si-gone", "wrong-password-123"),
    }
    assert set(messages.values()) == {signin.WRONG_CREDENTIALS}, messages


def totp_step_of(totp: pyotp.TOTP, code: str, around: int) -> int | None:
    return next((s for s in range(around - 2, around + 3) if totp.generate_otp(s) == code), None)


def test_an_unknown_username_costs_as_much_as_a_wrong_password(db, system, users) -> None:
    """Medians of interleaved tries (the first unknown-user try also builds the dummy hash);
    generous bounds: what must not happen is an unknown name answered without Argon2."""
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("si-nopass", "si", "researcher"))
        accounts.create_user(s, accounts.NewUser("si-off", "si", "researcher",
                                                 password=PASSWORD))
        accounts.deactivate(s, "si-off")
    kinds = {"known, wrong password": "si-cust", "unknown": "si-nobody-at-all",
             "known, no password set": "si-nopass", "deactivated": "si-off"}
    refused(db, "si-nobody-warm-up", "wrong-password-123")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(7):
        for kind, username in kinds.items():
            began = time.perf_counter()
            refused(db, username, "wrong-password-123")
            times[kind].append(time.perf_counter() - began)
    medians = {kind: statistics.median(t) for kind, t in times.items()}
    known = medians["known, wrong password"]
    for kind in ("unknown", "known, no password set", "deactivated"):
        assert medians[kind] >= 0.5 * known, medians


def test_customers_cannot_enrol_totp(db, system, users) -> None:
    with db.session(system) as s, pytest.raises(PermissionDenied):
        signin.enrol_totp(s, "si-cust")


def test_staff_without_a_second_factor_are_refused_unless_the_setting_allows(db, system,
                                                                              users) -> None:
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("si-vet", "si", "veterinarian",
                                                 password=PASSWORD))
    with pytest.raises(signin.SignInRefused, match="second factor"):
        signin.check(db, "si-vet", PASSWORD)
    signed = signin.check(db, "si-vet", PASSWORD, require_staff_totp=False)
    assert signed.role is Role.VETERINARIAN
