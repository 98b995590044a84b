"""Sign-in lock-out on the real database: counted across processes, audited, liftable."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import text

from reprotech_core import accounts, signin
from reprotech_core.db.migrate import app_url
from reprotech_core.db.session import Database
from reprotech_core.errors import PermissionDenied
from reprotech_core.ops import lockout
from reprotech_core.ops.lockout import SigninLimits

PASSWORD = "lockout-test-password"
LIMITS = SigninLimits(max_failures=3, max_failures_per_source=6, window_s=600, lockout_s=600)


@pytest.fixture(scope="module")
def customer_user(db, system, world):
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("lo-cust", "lo", "customer_user", "w-a",
                                                 password=PASSWORD))
    return "lo-cust"


def _fail_once(url: str, username: str) -> str:
    """One wrong password from another process (a second hub process)."""
    db = Database(url)
    try:
        signin.check(db, username, "wrong password!", limits=LIMITS, source="10.0.0.9")
    except signin.SignInRefused as exc:
        return str(exc)
    finally:
        db.dispose()
    return "signed in"


def test_failures_from_several_processes_lock_the_account_out(db, system, pg_settings,
                                                                customer_user):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        messages = pool.starmap(_fail_once, [(app_url(pg_settings), customer_user)] * 3)
    assert sum("Too many failed sign-ins" in m for m in messages) == 1  # the third locks
    with pytest.raises(signin.SignInRefused, match="locked until .* UTC"):
        signin.check(db, customer_user, PASSWORD, limits=LIMITS)  # right password, still locked
    with db.session(system) as s:
        audited = s.execute(text(
            "SELECT action, new_values->>'username', new_values->>'failures' FROM audit.log "
            "WHERE table_name = 'core.signin_lockouts' ORDER BY id DESC LIMIT 1")).one()
    assert audited == ("INSERT", customer_user, "3")


def test_an_admin_lifts_the_lock_out_and_a_customer_cannot(db, system, world, customer_user):
    for _ in range(3):
        with pytest.raises(signin.SignInRefused):
            signin.check(db, customer_user, "nope nope nope", limits=LIMITS)
    with pytest.raises(PermissionDenied), db.session(world.users["w-a-admin"]) as s:
        lockout.unlock(s, customer_user)
    with db.session(world.users["w-admin"], reason="user called the help desk") as s:
        assert lockout.unlock(s, customer_user) >= 1
    assert signin.check(db, customer_user, PASSWORD, limits=LIMITS).username == customer_user
    with db.session(system) as s:
        lifted = s.execute(text(
            "SELECT action, reason FROM audit.log WHERE table_name = 'core.signin_lockouts' "
            "ORDER BY id DESC LIMIT 1")).one()
    assert lifted == ("UPDATE", "user called the help desk")


def test_unknown_usernames_are_locked_out_alike_and_sources_are_throttled(db):
    messages = []
    for i in range(6):
        with pytest.raises(signin.SignInRefused) as refused:
            signin.check(db, f"nobody-{i % 2}", "x" * 12, limits=LIMITS, source="192.0.2.7")
        messages.append(str(refused.value))
    assert messages[:2] == [signin.WRONG_CREDENTIALS] * 2
    assert "Too many failed sign-ins" in messages[4]  # nobody-0's third failure
    # The address has now failed 6 times: any username from it is refused.
    with pytest.raises(signin.SignInRefused, match="Too many failed sign-ins"):
        signin.check(db, "someone-else", "x" * 12, limits=LIMITS, source="192.0.2.7")


def test_the_application_cannot_read_or_forge_failures(db, world):
    with db.session(world.users["w-admin"]) as s:
        assert s.scalar(text("SELECT count(*) FROM core.signin_failures")) == 0
    with pytest.raises(PermissionDenied, match="row-level security"), \
            db.session(world.users["w-admin"]) as s:
        s.execute(text("INSERT INTO core.signin_failures (username) VALUES ('x')"))


def test_a_wrong_or_replayed_second_factor_counts_towards_the_lock_out(db, system):
    """Right password, bad code: the same refusal as a wrong password, counted alike, so a
    stolen password does not buy unlimited guesses at the code (or replays of a seen one)."""
    import pyotp

    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("lo-staff", "lo", "researcher",
                                                 password=PASSWORD))
        totp = pyotp.TOTP(pyotp.parse_uri(signin.enrol_totp(s, "lo-staff")).secret)
    code = totp.now()
    assert signin.check(db, "lo-staff", PASSWORD, code, limits=LIMITS).username == "lo-staff"
    messages = []
    for attempt in (code, code, "not-a-code"):  # two replays, one wrong code
        with pytest.raises(signin.SignInRefused) as refused:
            signin.check(db, "lo-staff", PASSWORD, attempt, limits=LIMITS, source="192.0.2.50")
        messages.append(str(refused.value))
    assert messages[:2] == [signin.WRONG_CREDENTIALS] * 2
    assert "Too many failed sign-ins" in messages[2]
