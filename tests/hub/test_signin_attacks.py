"""Sign-in attacks through the real proxy and hub: forged forwarding headers and a replayed
one-time code (issue #15, item 3).

One hub for the module, with the per-address limit set low. Lock-outs live in the session's
database, which every hub of the session shares: each test lifts the address's lock-out before
and after itself, so the other hub tests (all from 127.0.0.1) are not locked out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pyotp
import pytest
import requests

from reprotech_core import accounts, signin
from reprotech_core.ops import lockout
from tests.hub.conftest import PASSWORD, Hub, running_hub
from tests.hub.test_hub import XSRF

PER_SOURCE = 3
CLIENT = "127.0.0.1"  # where the test client really is


@pytest.fixture(scope="module")
def attack_hub(pg_settings) -> Iterator[Hub]:
    with running_hub(pg_settings, "signin-attacks",
                     REPROTECH_SIGNIN_MAX_FAILURES_PER_SOURCE=str(PER_SOURCE)) as running:
        yield running


@pytest.fixture(scope="module")
def victims(db, system, world) -> pyotp.TOTP:
    """A staff user with TOTP and a customer user, both with the hub tests' password."""
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("atk-staff", "Attacked researcher",
                                                 "researcher", password=PASSWORD))
        accounts.create_user(s, accounts.NewUser("atk-cust", "Attacked farmer", "customer_user",
                                                 "w-a", password=PASSWORD))
        return pyotp.TOTP(pyotp.parse_uri(signin.enrol_totp(s, "atk-staff")).secret)


@pytest.fixture
def unlocked_client(db, world) -> Iterator[None]:
    """The client's address starts and ends without failures or lock-out (audited lifts)."""
    def lift() -> None:
        with db.session(world.users["w-admin"], reason="hub sign-in attack test") as s:
            lockout.unlock(s, CLIENT)

    lift()
    yield
    lift()


def post_login(hub: Hub, username: str, password: str, otp: str | None = None,
               headers: dict[str, str] | None = None) -> requests.Response:
    """The login form as a browser (or a script) posts it, with whatever headers it likes."""
    browser = requests.Session()
    browser.headers.update(headers or {})
    page = browser.get(f"{hub.url}/hub/login", timeout=30)
    form = {"username": username, "password": password,
            "_xsrf": XSRF.search(page.text).group(1)}
    if otp is not None:
        form["otp"] = otp
    return browser.post(f"{hub.url}/hub/login", data=form, allow_redirects=False, timeout=60)


def rows(admin_conninfo: str, query: str, **params: object) -> list[tuple]:
    """What is stored, as the superuser sees it (no row security in the way)."""
    with psycopg.connect(admin_conninfo) as conn:
        return conn.execute(query, params).fetchall()


def test_forged_forwarding_headers_do_not_dodge_the_per_address_lock_out(
        attack_hub, victims, unlocked_client, admin_conninfo) -> None:
    """Each try claims another client address (X-Real-Ip, which tornado's xheaders would
    believe, and X-Forwarded-For entries before the proxy's own); every failure still counts
    against 127.0.0.1, which is locked after the limit, right password or not."""
    began = datetime.now(UTC)
    for i in range(PER_SOURCE):
        forged = {"X-Real-Ip": f"198.51.100.{i + 1}",
                  "X-Forwarded-For": f"203.0.113.{i + 1}, 192.0.2.{i + 1}"}
        answer = post_login(attack_hub, f"atk-nobody-{i}", "wrong-password-1", headers=forged)
        assert answer.status_code == 403
    answer = post_login(attack_hub, "atk-cust", PASSWORD,
                        headers={"X-Real-Ip": "198.51.100.99", "X-Forwarded-For": "192.0.2.99"})
    assert answer.status_code == 403 and "Too many failed sign-ins" in answer.text

    sources = rows(admin_conninfo, "SELECT DISTINCT source FROM core.signin_failures "
                   "WHERE failed_at >= %(t)s", t=began)
    assert sources == [(CLIENT,)]
    locks = rows(admin_conninfo, "SELECT username, source, failures FROM core.signin_lockouts "
                 "WHERE locked_at >= %(t)s", t=began)
    assert locks == [(None, CLIENT, PER_SOURCE)]


def test_a_replayed_code_is_refused_through_the_login_form(
        attack_hub, victims, unlocked_client, admin_conninfo) -> None:
    step = victims.timecode(datetime.now(UTC))
    code = victims.generate_otp(step)
    first = post_login(attack_hub, "atk-staff", PASSWORD, code)
    assert first.status_code == 302, first.text[-2000:]
    replay = post_login(attack_hub, "atk-staff", PASSWORD, code)
    assert replay.status_code == 403
    assert signin.WRONG_CREDENTIALS in replay.text
    assert rows(admin_conninfo, "SELECT totp_last_step FROM core.users WHERE username = %(u)s",
                u="atk-staff") == [(step,)]
