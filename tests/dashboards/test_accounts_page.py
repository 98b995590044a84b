"""Customers and staff (``?page=accounts``, administrators) on PostgreSQL: a farm created with
its first admin (invited through the outbox), a tier change refused when the farm would exceed
the new tier, vets assigned and unassigned, staff created, deactivated and reactivated; an
address in use, a customer role for staff, a super admin made by an admin and deactivating
oneself are refused by name, nothing written. A customer admin has no such page."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dashboards.app import NOT_FOUND, guarded
from dashboards.pages import PageContext
from dashboards.staff import accounts as page
from reprotech_core import accounts, mail
from reprotech_core.portal.tenancy import visible_farms
from reprotech_core.staffviews import accounts as views
from tests.dashboards.test_staff_pages import text_of


@pytest.fixture(scope="module")
def admin(db, system):
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("ac-admin", "Admin", "admin",
                                                 email="ac-admin@reprotech.example"))
    return db.identity("ac-admin")


@pytest.fixture
def settings(pg_settings, tmp_path):
    return pg_settings.model_copy(update={"data_dir": tmp_path, "smtp_host": None})


def exists(db, system, sql: str, **params) -> bool:
    with db.session(system) as s:
        return bool(s.scalar(text(f"SELECT EXISTS ({sql})"), params))  # noqa: S608


def test_an_admin_creates_a_farm_assigns_a_vet_and_changes_its_tier(db, system, admin,
                                                                    settings):
    view = guarded(page.build, PageContext(database=db, identity=admin, settings=settings))
    assert isinstance(view, page.AccountsPage)
    view.code.value_input, view.farm_name.value_input, view.tier.value = "ac-farm", "Acre", "basic"
    view.admin_username.value_input, view.admin_name.value_input = "ac-farm-admin", "Ann"
    view.admin_email.value_input = "ann@acre.example"
    view.create_customer()
    assert view.status.startswith("Farm created; ac-farm-admin was invited"), view.status
    [invitation] = mail.outbox(settings)
    assert invitation["To"] == "ann@acre.example"
    assert "ac-admin invited you to the herd portal of Acre" in invitation.get_content()
    assert "ac-farm" in text_of(view.customers_box)

    view.staff_username.value_input, view.staff_name.value_input = "ac-vet", "Vera"
    view.staff_email.value_input, view.staff_role.value = "vera@vets.example", "veterinarian"
    view.create_staff()
    assert view.status.startswith("ac-vet (veterinarian) was invited"), view.status
    view.farm.value, view.field.value = "ac-farm", "ac-vet"
    view.assign(True)
    with db.session(db.identity("ac-vet")) as s:
        assert "ac-farm" in {f.code for f in visible_farms(s)}
    view.assign(False)
    with db.session(db.identity("ac-vet")) as s:
        assert "ac-farm" not in {f.code for f in visible_farms(s)}

    view.new_tier.value = "enterprise"
    view.change_tier()
    assert view.status == "ac-farm is on the enterprise tier now.", view.status
    with db.session(system) as s:  # six active users: more than the basic tier's five
        for n in range(5):
            accounts.create_user(s, accounts.NewUser(f"ac-u{n}", "U", "customer_user",
                                                     "ac-farm"))
    view.new_tier.value = "basic"
    view.change_tier()
    assert "tier.max_users" in view.status and "6 users" in view.status, view.status
    assert exists(db, system, "SELECT 1 FROM core.customers WHERE code = 'ac-farm' AND "
                              "tier = 'enterprise'")


@pytest.mark.parametrize(("fields", "rule"), [
    ({"admin_email": "ac-admin@REPROTECH.example"}, "user.email_in_use"),
    ({"admin_email": "not-an-address"}, "user.email_format"),
    ({"tier": "platinum"}, "customer.tier"),
])
def test_a_refused_farm_leaves_nothing_behind(db, system, admin, settings, fields, rule):
    values = {"code": "ac-bad", "name": "Bad", "tier": "basic", "admin_username": "ac-bad-a",
              "admin_name": "B", "admin_email": "b@bad.example", **fields}
    with pytest.raises(Exception) as refused:
        views.new_customer(db, admin, settings, **values)
    assert rule in str(refused.value)
    assert not exists(db, system, "SELECT 1 FROM core.customers WHERE code = 'ac-bad'")
    assert not exists(db, system, "SELECT 1 FROM core.users WHERE username = 'ac-bad-a'")
    assert mail.outbox(settings) == []


def test_staff_rules_are_named(db, system, admin, settings):
    view = page.AccountsPage(PageContext(database=db, identity=admin, settings=settings))
    view.staff_username.value_input, view.staff_name.value_input = "ac-x", "X"
    view.staff_email.value_input = "x@reprotech.example"
    for role in ("customer_user", "super_admin"):
        view.staff_role.options = [role]
        view.staff_role.value = role
        view.create_staff()
        assert "user.role_not_allowed" in view.status, view.status
    assert not exists(db, system, "SELECT 1 FROM core.users WHERE username = 'ac-x'")
    with db.session(admin) as s, pytest.raises(Exception, match="user.deactivate_self"):
        views.set_staff_active(s, admin, "ac-admin", False)
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("ac-lab", "Lab", "lab_ops"))
    view.reload()
    view.who.value = "ac-lab"
    view.set_active(False)
    assert view.status == "ac-lab is deactivated.", view.status
    view.set_active(True)
    assert exists(db, system, "SELECT 1 FROM core.users WHERE username = 'ac-lab' AND active")


def test_a_customer_admin_has_no_such_page(db, system, settings):
    with db.session(system) as s:
        accounts.create_customer(s, code="ac-other", name="Other", tier="basic")
        accounts.create_user(s, accounts.NewUser("ac-other-admin", "O", "customer_admin",
                                                 "ac-other"))
    ctx = PageContext(database=db, identity=db.identity("ac-other-admin"), settings=settings)
    assert guarded(page.build, ctx).object == NOT_FOUND
