"""Record events (``?page=events``) on PostgreSQL: a farmer records heats seen, inseminations
(heat or timed), calvings and exits of their own herd through the page's widgets, the audit
trail names them; a cow of another farm, an unknown cow, a cow that left the herd and a customer user's
live calf are refused by named rule with nothing written; a farm without the reproduction
module, and staff, get "Not found."."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import text

from dashboards.app import NOT_FOUND, guarded, pages_for, registered_pages
from dashboards.customer import events as page
from dashboards.pages import PageContext
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.reproduction import forms
from reprotech_core.reproduction.queries import load_frames, records_version
from tests.reproduction.conftest import make_farm

pytestmark = [pytest.mark.db]

SERVED = date(2024, 3, 4)
CALVED = date(2024, 12, 10)  # 281 days later: that service conceived the calf
LEFT = date(2025, 1, 20)
_users = itertools.count(1)
TABLES = ("core.heat_observations", "core.inseminations", "core.calvings", "core.animal_exits",
          "core.animals")
HEAT = date(2024, 2, 12)  # 21 days before the service


@pytest.fixture(scope="module")
def sire(db, system) -> str:
    """An AI bull of a reference catalogue of this module's own."""
    with db.session(system) as s:
        ref = accounts.create_customer(s, code="fe-sires", name="Events sires",
                                       tier="reference", kind="reference")
        register_animals(s, ref, [AnimalRecord("FE-AIBULL", "Holstein", "M", date(2012, 1, 1))])
    return "FE-AIBULL"


def farmer(db, system, farm, role: str) -> str:
    name = f"fe-{role.split('_')[1]}-{next(_users)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, f"Farmer {name}", role, farm.code))
    return name


def ctx(db, settings, name: str) -> PageContext:
    return PageContext(database=db, identity=db.identity(name), settings=settings)


def form_of(view: page.FarmEvents, event: str):
    """The event's form as shown after picking it, and its widgets by label."""
    form = view.choose(event)
    assert view.shown.objects == [form]
    return form, {w.label: w for w in form.objects if hasattr(w, "value") and w.label}


def record(view: page.FarmEvents, event: str, values: dict[str, object]) -> str:
    form, widgets = form_of(view, event)
    for label, value in values.items():
        widgets[label].value = value
    form.objects[-1].clicks += 1  # the Record button
    return view.status


def written(db, system, farm) -> dict[str, int]:
    """Rows of the farm per table (animals: the herd register)."""
    with db.session(system) as s:
        return {t: s.scalar(text(f"SELECT count(*) FROM {t} WHERE customer_id = :c"),  # noqa: S608
                            {"c": farm.id}) for t in TABLES}


def audit_actors(db, system, farm, table: str) -> set[int]:
    with db.session(system) as s:
        return set(s.scalars(text(
            "SELECT actor_user_id FROM audit.log WHERE table_name = :t AND action = 'INSERT' "
            "AND customer_id = :c"), {"t": table, "c": farm.id}))


def test_a_farmer_records_insemination_calving_and_exit_of_their_own_cow(
        db, system, pg_settings, sire):
    farm = make_farm(db, system, sire, cows=3)
    admin = farmer(db, system, farm, "customer_admin")
    view = guarded(page.build, ctx(db, pg_settings, admin))
    assert isinstance(view, page.FarmEvents) and view.customer_code() == farm.code
    assert list(page.CHOICES.values()) == ["heat", "insemination", "calving", "exit"]
    with db.session(db.identity(admin)) as s:
        before = records_version(s, farm.id)

    status = record(view, "heat", {"Cow (official ID)": farm.cow(1), "Date": HEAT,
                                   "Seen by (optional)": "Anna"})
    assert view.result.alert_type == "success" and "heat is recorded" in status, status
    with db.session(db.identity(admin)) as s:  # the KPIs read it, and cached KPIs refresh
        heats = load_frames(s, farm.id).heats
        assert records_version(s, farm.id) != before
    assert [d.date() for d in heats["date"]] == [HEAT]
    status = record(view, "insemination", {"Cow (official ID)": farm.cow(1), "Date": SERVED,
                                           "Bull (official ID)": sire, "Service": "heat"})
    assert view.result.alert_type == "success" and "insemination is recorded" in status, status
    status = record(view, "calving", {"Dam (official ID)": farm.cow(1), "Date": CALVED,
                                      "Calf sex": "F",
                                      "Calf's new official ID (live calf)": f"{farm.code}-K1"})
    assert view.result.alert_type == "success" and "calving is recorded" in status, status
    status = record(view, "exit", {"Animal (official ID)": farm.cow(2), "Date": LEFT,
                                   "Reason": "sold", "Cause (optional: infertility, mastitis, "
                                   "lameness, …)": "infertility"})
    assert view.result.alert_type == "success" and "exit is recorded" in status, status
    assert written(db, system, farm) == {"core.heat_observations": 1, "core.inseminations": 1,
                                         "core.calvings": 1, "core.animal_exits": 1,
                                         "core.animals": 3 + 1 + 1}
    me = db.identity(admin).user_id
    for table in TABLES[:4]:
        assert audit_actors(db, system, farm, table) == {me}, table
    assert me in audit_actors(db, system, farm, "core.animals")  # the calf, registered by them
    with db.session(system) as s:
        service = s.execute(text(
            "SELECT a.official_id, i.service_type FROM core.inseminations i JOIN core.animals a "
            "ON a.id = i.cow_id WHERE i.customer_id = :c"), {"c": farm.id}).one()
    assert tuple(service) == (farm.cow(1), "heat")

    # entered again: the same record, nothing new
    status = record(view, "insemination", {"Cow (official ID)": farm.cow(1), "Date": SERVED,
                                           "Bull (official ID)": sire})
    assert "already recorded" in status and written(db, system, farm)["core.inseminations"] == 1
    status = record(view, "heat", {"Cow (official ID)": farm.cow(1), "Date": HEAT})
    assert "already recorded" in status and written(db, system, farm)["core.heat_observations"] == 1


def test_a_customer_user_records_a_timed_service_but_not_a_calf(db, system, pg_settings, sire):
    farm = make_farm(db, system, sire, cows=2)
    user = farmer(db, system, farm, "customer_user")
    view = guarded(page.build, ctx(db, pg_settings, user))
    assert isinstance(view, page.FarmEvents)
    status = record(view, "insemination", {"Cow (official ID)": farm.cow(2), "Date": SERVED,
                                           "Bull (official ID)": sire, "Service": "timed"})
    assert "insemination is recorded" in status, status
    assert audit_actors(db, system, farm, "core.inseminations") == {db.identity(user).user_id}
    before = written(db, system, farm)
    assert "administrator or your vet" in view.forms["calving"].objects[0].object
    status = record(view, "calving", {"Dam (official ID)": farm.cow(2), "Date": CALVED,
                                      "Calf sex": "M",
                                      "Calf's new official ID (live calf)": f"{farm.code}-K2"})
    assert view.result.alert_type == "danger" and "calving.calf_not_allowed" in status, status
    assert written(db, system, farm) == before
    # a stillborn calf registers nothing: the customer user records it
    status = record(view, "calving", {"Calf's new official ID (live calf)": "",
                                      "Stillborn": "yes"})
    assert "calving is recorded" in status, status


def test_another_farms_unknown_and_departed_cows_are_refused_by_rule(
        db, system, pg_settings, sire):
    farm = make_farm(db, system, sire, cows=3)
    other = make_farm(db, system, sire, cows=1)
    admin = farmer(db, system, farm, "customer_admin")
    with db.session(system) as s:
        forms.record_event(s, farm.code, {"event": "exit", "animal": farm.cow(3),
                                          "date": date(2024, 1, 15), "reason": "slaughter"})
    view = guarded(page.build, ctx(db, pg_settings, admin))
    before, others = written(db, system, farm), written(db, system, other)
    for cow, rule in ((other.cow(1), "repro.animal_unknown"),
                      (f"{farm.code}-NOSUCH", "repro.animal_unknown"),
                      (farm.cow(3), "repro.after_exit")):
        status = record(view, "insemination", {"Cow (official ID)": cow, "Date": SERVED,
                                               "Bull (official ID)": sire})
        assert view.result.alert_type == "danger" and "Not recorded" in status, status
        assert f"(`{rule}`)" in status and cow in status, status
    status = record(view, "heat", {"Cow (official ID)": farm.cow(3), "Date": SERVED})
    assert "(`repro.after_exit`)" in status, status
    record(view, "heat", {"Cow (official ID)": farm.cow(2), "Date": SERVED})
    before = written(db, system, farm)
    status = record(view, "exit", {"Animal (official ID)": farm.cow(2), "Date": HEAT})
    assert "(`exit.events_after`)" in status and "heat" in status, status
    status = record(view, "exit", {"Animal (official ID)": other.cow(1), "Date": LEFT})
    assert "(`repro.animal_unknown`)" in status, status
    assert "Repro farm " + other.code not in status  # no other tenant's name
    assert written(db, system, farm) == before and written(db, system, other) == others

    # Another herd named around the page: its customer is not one the farmer sees, and row
    # security refuses a write into it whatever the caller sends.
    with db.session(db.identity(admin)) as s, pytest.raises(NotFound):
        forms.record_event(s, other.code, {"event": "insemination", "animal": other.cow(1),
                                           "date": SERVED, "bull": sire})
    with db.session(system) as s:
        cow = s.scalar(text("SELECT id FROM core.animals WHERE official_id = :o"),
                       {"o": other.cow(1)})
    with pytest.raises(PermissionDenied, match="row-level security"):
        with db.session(db.identity(admin)) as s:
            s.execute(text("INSERT INTO core.inseminations (customer_id, cow_id, bull_id, "
                           "service_date) VALUES (:o, :cow, :cow, '2024-03-04')"),
                      {"o": other.id, "cow": cow})
    assert written(db, system, other) == others


def test_a_record_that_breaks_a_rule_of_the_form_is_refused(db, system, pg_settings, sire):
    farm = make_farm(db, system, sire, cows=1)
    admin = farmer(db, system, farm, "customer_admin")
    view = guarded(page.build, ctx(db, pg_settings, admin))
    status = record(view, "insemination", {"Cow (official ID)": farm.cow(1),
                                           "Date": date(2999, 1, 1), "Bull (official ID)": sire})
    assert "(`repro.future_date`)" in status, status
    assert written(db, system, farm)["core.inseminations"] == 0


def test_without_the_module_or_as_staff_the_page_is_not_found(db, system, pg_settings, sire):
    basic = make_farm(db, system, sire, tier="basic", cows=1)
    pro = make_farm(db, system, sire, cows=1)
    vet = f"fe-vet-{next(_users)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(vet, vet, "veterinarian"))
        accounts.assign(s, vet, pro.code)
    for name in (farmer(db, system, basic, "customer_admin"),
                 farmer(db, system, basic, "customer_user"), vet):
        c = ctx(db, pg_settings, name)
        shown = guarded(page.build, c)
        assert getattr(shown, "object", None) == NOT_FOUND, name
        assert "events" not in {p.slug for p in pages_for(c, registered_pages())}, name
    for role in ("customer_admin", "customer_user"):
        c = ctx(db, pg_settings, farmer(db, system, pro, role))
        assert "events" in {p.slug for p in pages_for(c, registered_pages())}, role


def test_the_database_refuses_a_heat_after_the_exit_and_an_exit_before_a_heat(db, system, sire):
    """The backstop for every writer (migration 0028): the same rules as the other records."""
    farm = make_farm(db, system, sire, cows=2)
    heat = ("INSERT INTO core.heat_observations (customer_id, cow_id, heat_date) "
            "SELECT customer_id, id, :d FROM core.animals WHERE official_id = :a")
    leave = ("INSERT INTO core.animal_exits (customer_id, animal_id, exit_date, reason) "
             "SELECT customer_id, id, :d, 'sold' FROM core.animals WHERE official_id = :a")
    with db.session(system) as s:
        s.execute(text(leave), {"a": farm.cow(1), "d": HEAT})
        s.execute(text(heat), {"a": farm.cow(2), "d": SERVED})
    with pytest.raises(RuleViolation) as err, db.session(system) as s:
        s.execute(text(heat), {"a": farm.cow(1), "d": SERVED})
    assert err.value.rule == "repro.after_exit"
    assert f"heat of {farm.cow(1)} on {SERVED}: {farm.cow(1)} left the herd" in str(err.value)
    with pytest.raises(RuleViolation) as err, db.session(system) as s:
        s.execute(text(leave), {"a": farm.cow(2), "d": HEAT})
    assert err.value.rule == "exit.events_after" and "heat recorded on" in str(err.value)
    assert written(db, system, farm)["core.heat_observations"] == 1


def test_heats_come_in_a_file_like_the_other_events(db, system, sire, tmp_path):
    from data_models.tenancy import Customer
    from reprotech_core.reproduction import import_events

    farm = make_farm(db, system, sire, cows=2)
    path = tmp_path / "heats.csv"
    path.write_text(f"event,animal,date,bull,technician\nheat,{farm.cow(1)},{HEAT},,Anna\n"
                    f"insemination,{farm.cow(1)},{SERVED},{sire},\n")
    for imported in ({"heat": 1, "insemination": 1}, {}):
        with db.session(system) as s:
            report = import_events(s, s.get(Customer, farm.id), path)
        assert report.ok and report.imported == imported, report
    with db.session(system) as s:
        assert s.execute(text("SELECT technician FROM core.heat_observations WHERE "
                              "customer_id = :c"), {"c": farm.id}).scalar_one() == "Anna"
