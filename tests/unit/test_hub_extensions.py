"""Hub extensions without a hub: role groups, secrets files, OIDC settings."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from hub.groups import customer_group, role_group, role_of
from reprotech_core.hub_services import secret_file
from reprotech_core.settings import Settings


def test_role_of_needs_exactly_one_role_group() -> None:
    assert role_of([role_group("researcher"), customer_group(3), "other"]) == "researcher"
    assert role_of([customer_group(3)]) is None
    assert role_of([role_group("admin"), role_group("customer_user")]) is None


def test_secret_file_is_created_once_and_private(tmp_path) -> None:
    path = tmp_path / "secrets" / "hub_cookie_secret"
    first = secret_file(path)
    assert len(bytes.fromhex(first)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_file(path) == first


def test_oidc_needs_its_endpoints(tmp_path) -> None:
    with pytest.raises(ValidationError, match="hub_oidc_token_url"):
        Settings(home=tmp_path, hub_authenticator="oidc", hub_oidc_client_id="hub",
                 hub_oidc_authorize_url="https://idp/authorize",
                 hub_oidc_userinfo_url="https://idp/userinfo")


def test_unknown_role_is_refused_with_a_message() -> None:
    from reprotech_core.db.session import Identity
    from reprotech_core.signin import SignInRefused, _role

    with pytest.raises(SignInRefused, match="role this platform does not know"):
        _role(Identity(1, "someone", "farm_hand"))
