"""A user's own password on PostgreSQL: changing it (current password, the rules, compare and
swap), and the emailed reset link (single use, expiring, unknown accounts told nothing),
through the SECURITY DEFINER functions of migration 0024 and the file outbox."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from sqlalchemy import text

from reprotech_core import accounts, mail, passwords
from reprotech_core.errors import RuleViolation
from reprotech_core.signin import SignInRefused, check

pytestmark = [pytest.mark.db]

OLD = "first-password-123"
NEW = "second-password-456"


@pytest.fixture
def settings(pg_settings, tmp_path):
    return pg_settings.model_copy(update={"data_dir": tmp_path, "smtp_host": None})


@pytest.fixture
def user(db, system):
    name = f"pw-{uuid.uuid4().hex[:10]}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, "Password tester", "customer_user",
                                                 "w-a", email=f"{name}@farm.example",
                                                 password=OLD))
    return name


def signs_in(db, name: str, password: str) -> bool:
    try:
        check(db, name, password, require_staff_totp=False)
        return True
    except SignInRefused:
        return False


def change(db, name: str, current: str, new: str, again: str | None = None) -> None:
    with db.session(db.identity(name)) as s:
        passwords.change_own_password(s, current, new, new if again is None else again)


def test_a_user_changes_their_own_password_and_the_audit_says_so(db, system, world, user):
    change(db, user, OLD, NEW)
    assert signs_in(db, user, NEW) and not signs_in(db, user, OLD)
    with db.session(system) as s:
        row = s.execute(text(
            "SELECT actor_user_id, reason, old_values->>'password_hash' AS old, "
            "new_values->>'password_hash' AS new FROM audit.log WHERE table_name = 'core.users' "
            "AND row_id = (SELECT id::text FROM core.users WHERE username = :u) "
            "AND action = 'UPDATE' ORDER BY id DESC LIMIT 1"), {"u": user}).one()
    assert row.actor_user_id == db.identity(user).user_id
    assert row.reason == "password changed by its user"
    assert row.old == row.new == "[redacted]"


@pytest.mark.parametrize(("current", "new", "again", "rule"), [
    ("not-the-password", NEW, NEW, "user.wrong_password"),
    (OLD, NEW, NEW + "x", "user.password_mismatch"),
    (OLD, "short", "short", "user.password_length"),
    (OLD, OLD, OLD, "user.password_unchanged"),
])
def test_a_refused_change_names_its_rule_and_changes_nothing(db, world, user, current, new,
                                                            again, rule):
    with pytest.raises(RuleViolation) as refused:
        change(db, user, current, new, again)
    assert refused.value.rule == rule
    assert signs_in(db, user, OLD)


def test_the_password_may_not_be_the_username(db, system, world):
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser("pw-longusername", "X", "customer_user", "w-a",
                                                 password=OLD))
    with pytest.raises(RuleViolation, match="username"):
        change(db, "pw-longusername", OLD, "PW-LongUsername")


def test_a_stale_hash_changes_nothing(db, world, user):
    """The compare and swap: a change from a hash that is no longer stored is refused."""
    with db.session(db.identity(user)) as s:
        assert s.scalar(text("SELECT core.change_own_password('not-the-stored-hash', 'x')")) \
            is False
    assert signs_in(db, user, OLD)


def test_a_notebook_login_cannot_call_the_password_functions(db, world, user, settings,
                                                              notebook):
    passwords.request_reset(db, settings, user)
    conn = notebook("w-vet")
    for call in ("core.change_own_password('a', 'b')",
                 "core.password_reset_issue('w-vet', '\\x00'::bytea, 60)",
                 "core.password_reset_spend('\\x00'::bytea, 'b')"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT {call}")
    # row security with no policy: the rows are there (the reset tests issue them), not here
    assert conn.execute("SELECT count(*) FROM core.password_resets").fetchone()[0] == 0


def link_in(message) -> str:
    return re.search(r"https?://\S+/hub/password-reset/(\S+)", message.get_content()).group(1)


def test_a_reset_link_is_emailed_works_once_and_sets_the_password(db, system, world, user,
                                                                  settings):
    outcome = passwords.request_reset(db, settings, user)
    assert outcome.sent_to == f"{user}@farm.example"
    [message] = mail.outbox(settings)
    assert message["To"] == f"{user}@farm.example" and "new password" in message["Subject"]
    assert f"{settings.public_base}/hub/password-reset/" in message.get_content()
    token = link_in(message)
    assert passwords.spend_reset(db, token, NEW, NEW) == user
    assert signs_in(db, user, NEW) and not signs_in(db, user, OLD)
    with pytest.raises(RuleViolation) as again:
        passwords.spend_reset(db, token, "third-password-789", "third-password-789")
    assert again.value.rule == "password_reset.used"
    assert signs_in(db, user, NEW)
    with db.session(db.identity("w-admin")) as s:  # no policy: not even an admin reads tokens
        assert s.scalar(text("SELECT count(*) FROM core.password_resets")) == 0


def test_an_unknown_account_gets_the_same_answer_and_no_email(db, world, user, settings):
    known = passwords.request_reset(db, settings, f"{user}@FARM.example")  # email, any case
    unknown = passwords.request_reset(db, settings, "nobody-here@farm.example")
    no_email = passwords.request_reset(db, settings, "w-a-user")  # an account without email
    assert known.answer == unknown.answer == no_email.answer
    assert unknown.sent_to is None and no_email.sent_to is None
    assert len(mail.outbox(settings)) == 1


def test_an_expired_unknown_or_retired_link_is_refused_by_name(db, world, user, settings):
    passwords.request_reset(db, settings, user)
    first = link_in(mail.outbox(settings)[0])
    passwords.request_reset(db, settings, user)  # a new request retires the first link
    second = link_in(mail.outbox(settings)[1])
    with pytest.raises(RuleViolation) as short:  # the password rules come first
        passwords.spend_reset(db, second, "short", "short")
    assert short.value.rule == "user.password_length"
    with pytest.raises(RuleViolation) as retired:
        passwords.spend_reset(db, first, NEW, NEW)
    assert retired.value.rule == "password_reset.used"
    with pytest.raises(RuleViolation) as unknown:
        passwords.spend_reset(db, "A" * 43, NEW, NEW)
    assert unknown.value.rule == "password_reset.unknown"
    with db.engine.begin() as conn:  # a link issued with no time to live has expired
        conn.execute(text("SELECT * FROM core.password_reset_issue(:u, :t, 0)"),
                     {"u": user, "t": passwords.token_digest("expired-token-" + "x" * 30)})
    with pytest.raises(RuleViolation) as expired:
        passwords.spend_reset(db, "expired-token-" + "x" * 30, NEW, NEW)
    assert expired.value.rule == "password_reset.expired"
    with pytest.raises(RuleViolation) as retired_again:  # each request retires the older
        passwords.spend_reset(db, second, NEW, NEW)
    assert retired_again.value.rule == "password_reset.used"
    assert signs_in(db, user, OLD)


def test_reset_links_per_account_and_hour_are_limited_with_the_same_answer(db, world, user,
                                                                          settings):
    limited = settings.model_copy(update={"password_reset_per_hour": 2})
    answers = [passwords.request_reset(db, limited, user) for _ in range(4)]
    assert [a.sent_to for a in answers] == [f"{user}@farm.example"] * 2 + [None] * 2
    assert len({a.answer for a in answers}) == 1  # the requester cannot tell
    assert len(mail.outbox(limited)) == 2
    # the second link is still the live one: the refused requests retired nothing
    passwords.spend_reset(db, link_in(mail.outbox(limited)[1]), NEW, NEW)
    assert signs_in(db, user, NEW)
