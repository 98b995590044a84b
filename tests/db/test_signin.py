"""Local sign-in rules (reprotech_core.signin) against the real database, without a hub."""

from __future__ import annotations

import pyotp
import pytest

from reprotech_core import accounts, signin
from reprotech_core.errors import PermissionDenied
from reprotech_core.roles import Role

PASSWORD = "signin-test-password"


@pytest.fixture(scope="module")
def users(db, system, world):
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("si-res", "si", "researcher", password=PASSWORD))
        accounts.create_user(s, accounts.NewUser("si-cust", "si", "customer_user", "w-b",
                                                 password=PASSWORD))
        uri = signin.enrol_totp(s, "si-res")
    return pyotp.parse_uri(uri).secret


def test_password_and_totp(db, users) -> None:
    code = pyotp.TOTP(users).now()
    signed = signin.check(db, "si-res", PASSWORD, code)
    assert signed.role is Role.RESEARCHER and signed.customer_id is None
    with pytest.raises(signin.SignInRefused, match="authenticator app"):
        signin.check(db, "si-res", PASSWORD)
    with pytest.raises(signin.SignInRefused, match="Invalid username or password"):
        signin.check(db, "si-res", PASSWORD + "x", code)


def test_customer_user_gets_their_customer_and_no_totp(db, world, users) -> None:
    signed = signin.check(db, "si-cust", PASSWORD)
    assert signed.role is Role.CUSTOMER_USER and signed.customer_id == world.farm_b


def test_unknown_user_and_wrong_password_look_the_same(db, users) -> None:
    messages = set()
    for name, password in (("si-nobody", PASSWORD), ("si-cust", "wrong-password-123")):
        with pytest.raises(signin.SignInRefused) as refused:
            signin.check(db, name, password)
        messages.add(str(refused.value))
    assert messages == {signin.WRONG_CREDENTIALS}


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
