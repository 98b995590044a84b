"""Users of my farm (``?page=users``) on PostgreSQL: a customer admin invites (the email in
the outbox, its link sets the password), deactivates and reactivates their own farm's users,
within the basic tier's five active users; a staff role, an address already in use, another
farm's user and deactivating oneself are refused by name, nothing written."""

from __future__ import annotations

import re

import panel as pn
import pytest
from sqlalchemy import text

from dashboards.app import NOT_FOUND, guarded
from dashboards.customer import users as page
from dashboards.pages import PageContext
from reprotech_core import accounts, farm_users, mail, passwords
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.signin import check
from tests.dashboards.test_staff_pages import text_of

pytestmark = [pytest.mark.db]


@pytest.fixture(scope="module")
def farms(db, system):
    """fu-one (basic tier: 5 active users) with its admin; fu-two with a user."""
    with db.session(system) as s:
        accounts.create_customer(s, code="fu-one", name="Invite farm", tier="basic")
        accounts.create_customer(s, code="fu-two", name="Other farm", tier="basic")
        accounts.create_user(s, accounts.NewUser("fu1-admin", "Anna Admin", "customer_admin",
                                                 "fu-one", email="anna@fu-one.example"))
        accounts.create_user(s, accounts.NewUser("fu2-user", "Bert", "customer_user", "fu-two",
                                                 email="bert@fu-two.example"))


@pytest.fixture
def settings(pg_settings, tmp_path):
    return pg_settings.model_copy(update={"data_dir": tmp_path, "smtp_host": None})


def ctx(db, settings, name: str) -> PageContext:
    return PageContext(database=db, identity=db.identity(name), settings=settings)


def written(db, system) -> tuple:
    with db.session(system) as s:
        return tuple(s.execute(text(
            "SELECT username, active, email FROM core.users WHERE username LIKE 'fu%' "
            "ORDER BY username")).all())


def test_an_invitation_creates_the_user_and_its_link_sets_the_password(db, system, farms,
                                                                       settings):
    view = guarded(page.build, ctx(db, settings, "fu1-admin"))
    assert isinstance(view, page.UsersPage)
    view.username.value_input, view.display_name.value_input = "fu1-carla", "Carla Calf"
    view.email.value_input, view.role.value = "carla@fu-one.example", "customer_user"
    view.invite()
    assert view.status.startswith("Invited fu1-carla"), view.status
    assert "fu1-carla" in text_of(pn.panel(view)) and "fu2-user" not in text_of(pn.panel(view))
    [message] = mail.outbox(settings)
    assert message["To"] == "carla@fu-one.example"
    assert "fu1-admin invited you" in message.get_content()
    token = re.search(r"/hub/password-reset/(\S+)", message.get_content()).group(1)
    assert passwords.spend_reset(db, token, "carla-chooses-this-1", "carla-chooses-this-1") \
        == "fu1-carla"
    assert check(db, "fu1-carla", "carla-chooses-this-1").customer_id is not None
    with db.session(system) as s:
        row = s.execute(text("SELECT actor_user_id, reason FROM audit.log WHERE "
                             "table_name = 'core.users' AND action = 'INSERT' AND "
                             "new_values->>'username' = 'fu1-carla'")).one()
    assert row.actor_user_id == db.identity("fu1-admin").user_id
    assert row.reason == "user invited by the farm's admin"


@pytest.mark.parametrize(("fields", "rule"), [
    ({"username": "fu1-vet", "email": "v@fu-one.example", "role": "veterinarian"},
     "user.role_not_allowed"),
    ({"username": "fu1-dup", "email": "BERT@fu-two.example", "role": "customer_user"},
     "user.email_in_use"),
    ({"username": "fu1-noat", "email": "not-an-address", "role": "customer_user"},
     "user.email_format"),
    ({"username": "fu1 bad name", "email": "ok@fu-one.example", "role": "customer_user"},
     "id.characters"),
])
def test_a_refused_invitation_names_its_rule_and_writes_nothing(db, system, farms, settings,
                                                                fields, rule):
    before = written(db, system)
    with pytest.raises(RuleViolation) as refused:
        farm_users.invite(db, db.identity("fu1-admin"), settings, display_name="Someone",
                          **fields)
    assert rule in (refused.value.rule, str(refused.value))
    assert written(db, system) == before and mail.outbox(settings) == []


def test_the_tier_limit_counts_active_users(db, system, farms, settings):
    """Basic allows 5 active users: fu1-admin, fu1-carla (if the invitation test ran) and
    invitations up to the limit; the one over it is refused by rule tier.max_users."""
    admin = db.identity("fu1-admin")
    with db.session(admin) as s:
        active, limit = farm_users.user_limit(s, admin.customer_id)
    assert limit == 5
    for i in range(limit - active):
        farm_users.invite(db, admin, settings, username=f"fu1-n{i}", display_name="N",
                          email=f"n{i}@fu-one.example", role="customer_user")
    before = written(db, system)
    with pytest.raises(RuleViolation) as over:
        farm_users.invite(db, admin, settings, username="fu1-over", display_name="Over",
                          email="over@fu-one.example", role="customer_user")
    assert over.value.rule == "tier.max_users" and written(db, system) == before
    view = page.UsersPage(ctx(db, settings, "fu1-admin"))
    assert "**5 of 5**" in text_of(pn.panel(view))
    view.who.value = "fu1-n0"
    view.set_active(False)  # deactivating frees a place ...
    assert view.status == "fu1-n0 is deactivated." and "**4 of 5**" in text_of(pn.panel(view))
    farm_users.invite(db, admin, settings, username="fu1-over", display_name="Over",
                      email="over@fu-one.example", role="customer_user")
    view.reload()
    view.who.value = "fu1-n0"
    view.set_active(True)  # ... which a reactivation then needs again
    assert view.status.startswith("Not changed.") and "tier" in view.status


def test_a_customer_admin_cannot_touch_another_farm_or_themselves(db, farms, settings):
    admin = db.identity("fu1-admin")
    with db.session(admin) as s, pytest.raises(NotFound):
        farm_users.set_active(s, admin, "fu2-user", False)
    with db.session(admin) as s, pytest.raises(RuleViolation, match="your own account"):
        farm_users.set_active(s, admin, "fu1-admin", False)
    assert db.identity("fu2-user").username == "fu2-user"  # still active


@pytest.mark.parametrize("name", ["fu2-user", "w-vet"])
def test_others_get_not_found(db, world, farms, settings, name):
    view = guarded(page.build, ctx(db, settings, name))
    assert isinstance(view, pn.pane.Markdown) and view.object == NOT_FOUND
