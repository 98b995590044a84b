"""The audit trail (``?page=audit``) over the real audit log on PostgreSQL: an administrator
reads every farm's changes, a customer admin their own farm's only — by every filter, in the
table and in the CSV — with who, what, old → new and the reason; a filter naming another
farm's animal or a staff user is "not found", like one that does not exist."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import panel as pn
import pytest

from dashboards.app import NOT_FOUND, guarded, pages_for, registered_pages
from dashboards.pages import PageContext
from dashboards.customer import audit as page
from reprotech_core import accounts
from reprotech_core import audit_trail as views
from reprotech_core.animals import AnimalRecord, AnimalUpdate, register_animals, update_animals
from reprotech_core.errors import NotFound
from tests.dashboards.test_staff_pages import text_of

pytestmark = [pytest.mark.db]

USERS = {"au1-admin": ("customer_admin", "au-one"), "au1-user": ("customer_user", "au-one"),
         "au2-admin": ("customer_admin", "au-two"), "au-admin": ("admin", None),
         "au-vet": ("veterinarian", None)}


@pytest.fixture(scope="module")
def world(db, system, pg_settings):
    """Two farms; the farm admin, the farm's vet and the other farm's admin each rename an
    animal, with a reason."""
    with db.session(system, reason="audit page tests") as s:
        for code in ("au-one", "au-two"):
            accounts.create_customer(s, code=code, name=f"Audit {code}")
        for name, (role, customer) in USERS.items():
            accounts.create_user(s, accounts.NewUser(name, name, role, customer))
        ids = {**register_animals(s, accounts.customer_by_code(s, "au-one"), [
                   AnimalRecord("AU1-COW1", "Holstein", "F", date(2022, 3, 1))]),
               **register_animals(s, accounts.customer_by_code(s, "au-two"), [
                   AnimalRecord("AU2-COW1", "Jersey", "F", date(2021, 5, 2))])}
    with db.session(db.identity("au-admin"), reason="audit page tests") as s:
        accounts.assign(s, "au-vet", "au-one")
    for who, farm, animal, name, reason in (
            ("au1-admin", "au-one", "AU1-COW1", "Bella", "ear tag read wrong at birth"),
            ("au-vet", "au-one", "AU1-COW1", "Bella II", "second cow named Bella"),
            ("au2-admin", "au-two", "AU2-COW1", "Daisy", "named at the show")):
        with db.session(db.identity(who), reason=reason) as s:
            update_animals(s, accounts.customer_by_code(s, farm),
                           [AnimalUpdate(animal, {"name": name})])
    return ids


def ctx(db, pg_settings, name: str) -> PageContext:
    return PageContext(database=db, identity=db.identity(name), settings=pg_settings)


def events(db, name: str, **wanted):
    with db.session(db.identity(name)) as s:
        return views.audit_events(s, views.AuditFilter(**wanted))


def test_a_customer_admin_reads_their_own_farm_only(db, world):
    mine = events(db, "au1-admin", limit=2000)
    assert set(mine["customer"].dropna()) == {"au-one"}
    cow = events(db, "au1-admin", animal="AU1-COW1")
    renames = cow[cow["action"] == "update"]
    assert list(renames["who"]) == ["Reprotech staff", "au1-admin"]  # newest first
    assert list(renames["changes"]) == ["name: Bella → Bella II", "name: ∅ → Bella"]
    assert list(renames["reason"]) == ["second cow named Bella", "ear tag read wrong at birth"]
    inserted = cow[cow["action"] == "insert"]["changes"].iloc[0]
    assert "official_id: AU1-COW1" in inserted and "breed: Holstein" in inserted


def test_an_administrator_reads_every_farm_and_every_actor(db, world):
    vet = events(db, "au-admin", user="au-vet", table="core.animals")
    assert set(vet["who"]) == {"au-vet"} and set(vet["customer"]) == {"au-one"}
    other = events(db, "au-admin", animal="AU2-COW1")
    assert "au2-admin" in set(other["who"]) and set(other["customer"]) == {"au-two"}


@pytest.mark.parametrize("wanted", [{"animal": "AU2-COW1"}, {"animal": "NO-SUCH-COW"},
                                    {"user": "au-vet"}, {"user": "au2-admin"},
                                    {"user": "nobody-at-all"}])
def test_a_filter_on_what_a_customer_admin_cannot_see_is_not_found(db, world, wanted):
    with pytest.raises(NotFound, match="^no (animal|user) '"):
        events(db, "au1-admin", **wanted)


def test_dates_narrow_the_trail_and_an_empty_range_is_refused(db, world):
    today = date.today()
    assert events(db, "au1-admin", animal="AU1-COW1", since=today, until=today).shape[0] >= 3
    assert events(db, "au1-admin", animal="AU1-COW1",
                  until=today - timedelta(days=1)).empty
    with pytest.raises(ValueError, match="date range is empty"):
        views.AuditFilter(since=today, until=today - timedelta(days=1))


def test_the_limit_says_when_older_events_exist(db, world):
    few = events(db, "au1-admin", animal="AU1-COW1", limit=1)
    assert len(few) == 1 and few.attrs["more"]
    assert not events(db, "au1-admin", animal="AU1-COW1").attrs["more"]
    with pytest.raises(ValueError, match="limit"):
        views.AuditFilter(limit=views.MAX_ROWS + 1)


def test_the_page_shows_the_filtered_trail_and_its_csv(db, pg_settings, world):
    view = guarded(page.build, ctx(db, pg_settings, "au1-admin"))
    assert isinstance(view, page.AuditPage)
    view.animal.value_input = "AU1-COW1"
    view.refresh()
    shown = text_of(pn.panel(view))
    assert "Bella → Bella II" in shown and "Reprotech staff" in shown
    assert "AU2" not in shown and "Daisy" not in shown
    assert view.status == "3 event(s) of animal AU1-COW1."
    rows = list(csv.DictReader(io.StringIO(view.download.callback().getvalue().decode())))
    assert {r["who"] for r in rows} == {"Reprotech staff", "au1-admin"}
    assert {r["customer"] for r in rows} == {"au-one"} and len(rows) == 3


def test_the_page_refuses_a_foreign_animal_with_a_sentence_and_no_rows(db, pg_settings, world):
    view = page.AuditPage(ctx(db, pg_settings, "au1-admin"))
    view.animal.value_input = "AU2-COW1"
    view.refresh()
    assert view.status == "Nothing shown: no animal 'AU2-COW1'."
    assert not view.results.objects and view.events.empty and view.download.disabled


@pytest.mark.parametrize("name", ["au1-user", "au-vet"])
def test_users_without_audit_read_get_not_found_and_no_menu_entry(db, pg_settings, world,
                                                                   name):
    view = guarded(page.build, ctx(db, pg_settings, name))
    assert isinstance(view, pn.pane.Markdown) and view.object == NOT_FOUND
    assert page.SLUG not in {p.slug for p in pages_for(ctx(db, pg_settings, name),
                                                       registered_pages())}


def test_the_menu_offers_the_trail_to_admins(db, pg_settings, world):
    for name in ("au1-admin", "au-admin"):
        assert page.SLUG in {p.slug for p in pages_for(ctx(db, pg_settings, name),
                                                       registered_pages())}


def test_changes_and_actor_read_as_a_person_would():
    assert views.changes("UPDATE", {"name": "A", "sex": "F", "updated_at": 1},
                         {"name": "B", "sex": "F", "updated_at": 2}) == "name: A → B"
    assert views.changes("DELETE", {"name": "B", "dam_id": None}, None) == "name: B"
    assert views.changes("INSERT", None, {"traits": {"milk": 1.5}}) == 'traits: {"milk": 1.5}'
    assert views.actor(7, None, "rt_app") == views.STAFF
    assert views.actor(None, None, "reprotech_jobs") == "system (reprotech_jobs)"
    assert views.actor(7, "au1-admin", "rt_app") == "au1-admin"


def test_enter_in_a_field_or_a_choice_searches_at_once(db, pg_settings, world):
    view = page.AuditPage(ctx(db, pg_settings, "au1-admin"))
    view.animal.value = "AU1-COW1"  # what Enter (or leaving the field) sends
    assert view.status == "3 event(s) of animal AU1-COW1."
    view.table_choice.value = "core.herd_targets"
    assert view.status == "No events of animal AU1-COW1 in core.herd_targets."
