"""A farm's own export and erasure requests on PostgreSQL: a customer admin asks from the
portal (``?page=my-data``), an administrator carries the request out or declines it
(``?page=data-requests``), and the farm's admin downloads the finished export. One pending
request of a kind, an erasure without the farm's code typed, a decline without a reason and
another farm's export are refused by name or "not found", nothing written."""

from __future__ import annotations

import zipfile

import panel as pn
import pytest
from sqlalchemy import text

from dashboards.app import NOT_FOUND, guarded
from dashboards.customer import my_data
from dashboards.pages import PageContext
from dashboards.staff import data_requests as admin_page
from data_models.security import DataRequest
from reprotech_core import accounts, data_requests
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from tests.dashboards.test_staff_pages import text_of


@pytest.fixture(scope="module")
def farms(db, system):
    with db.session(system) as s:
        for code in ("dr-one", "dr-two", "dr-gone"):
            accounts.create_customer(s, code=code, name=f"Farm {code}", tier="basic")
            accounts.create_user(s, accounts.NewUser(f"{code}-admin", "Admin", "customer_admin",
                                                     code))
        accounts.create_user(s, accounts.NewUser("dr-one-user", "User", "customer_user",
                                                 "dr-one"))
        accounts.create_user(s, accounts.NewUser("dr-admin", "Staff admin", "admin"))
    return {n: db.identity(n) for n in ("dr-one-admin", "dr-two-admin", "dr-gone-admin",
                                        "dr-one-user", "dr-admin")}


@pytest.fixture
def settings(pg_settings, tmp_path):
    return pg_settings.model_copy(update={"data_dir": tmp_path})


def ctx(db, settings, identity) -> PageContext:
    return PageContext(database=db, identity=identity, settings=settings)


def requests_of(db, system, code: str) -> list[tuple]:
    with db.session(system) as s:
        return s.execute(text(
            "SELECT r.kind, r.status FROM core.data_requests r JOIN core.customers c "
            "ON c.id = r.customer_id WHERE c.code = :c ORDER BY r.id"), {"c": code}).all()


def test_an_export_asked_for_on_the_portal_is_carried_out_by_an_admin_and_downloaded(
        db, system, farms, settings):
    farm = guarded(my_data.build, ctx(db, settings, farms["dr-one-admin"]))
    assert isinstance(farm, my_data.MyDataPage)
    farm.export_reason.value_input = "moving to another herd book"
    farm.ask("export")
    assert farm.status.startswith("Request no."), farm.status
    farm.export_reason.value_input = "again"
    farm.ask("export")
    assert "data_request.pending" in farm.status or "already waiting" in farm.status
    assert requests_of(db, system, "dr-one") == [("export", "pending")]

    staff = guarded(admin_page.build, ctx(db, settings, farms["dr-admin"]))
    assert isinstance(staff, admin_page.DataRequestsPage)
    [(label, rid)] = [(k, v) for k, v in staff.which.options.items() if "dr-one" in k]
    assert "moving to another herd book" in label
    staff.which.value = rid
    staff.carry_out()
    assert staff.status.startswith("Export of dr-one written"), staff.status
    assert requests_of(db, system, "dr-one") == [("export", "done")]  # no second record

    farm.reload()
    assert farm.exports.value == rid and farm.download.visible
    with zipfile.ZipFile(farm.download.file) as archive:
        assert "dr-one/manifest.json" in archive.namelist()
    assert "done" in text_of(pn.panel(farm))
    with db.session(farms["dr-two-admin"]) as s:  # another farm's export, by its id
        for customer in (farms["dr-two-admin"].customer_id, farms["dr-one-admin"].customer_id):
            with pytest.raises(NotFound):
                data_requests.export_file(s, settings, customer, rid)
    with db.session(farms["dr-one-user"]) as s:  # the farm's plain users: not theirs either
        with pytest.raises(PermissionDenied):
            data_requests.export_file(s, settings, farms["dr-one-user"].customer_id, rid)
    assert guarded(my_data.build, ctx(db, settings, farms["dr-one-user"])).object == NOT_FOUND


def test_a_declined_request_says_why_and_a_decline_needs_a_reason(db, system, farms, settings):
    with db.session(farms["dr-two-admin"]) as s:
        rid = data_requests.ask(s, farms["dr-two-admin"], "export", reason="audit by the bank")
    with db.session(farms["dr-admin"]) as s, pytest.raises(RuleViolation) as no_reason:
        data_requests.decline(s, farms["dr-admin"], rid, reason="  ")
    assert no_reason.value.rule == "data_request.reason"
    with db.session(farms["dr-two-admin"]) as s, pytest.raises(PermissionDenied):
        data_requests.decline(s, farms["dr-two-admin"], rid, reason="I changed my mind")
    staff = admin_page.DataRequestsPage(ctx(db, settings, farms["dr-admin"]))
    staff.which.value, staff.reason.value_input = rid, "the bank must ask us directly"
    staff.decline()
    assert staff.status.startswith("Declined"), staff.status
    with db.session(farms["dr-two-admin"]) as s:
        [row] = data_requests.listing(s, farms["dr-two-admin"].customer_id).itertuples()
    assert (row.status, row.outcome, row.decided_by) == (
        "declined", "the bank must ask us directly", "Reprotech staff")


def test_an_erasure_needs_the_farms_code_and_an_admin_to_carry_it_out(db, system, farms,
                                                                      settings):
    who = farms["dr-gone-admin"]
    with db.session(who) as s, pytest.raises(RuleViolation) as unconfirmed:
        data_requests.ask(s, who, "erasure", reason="selling the herd", confirm_code="dr-one")
    assert unconfirmed.value.rule == "data_request.confirm"
    assert requests_of(db, system, "dr-gone") == []
    with db.session(who) as s:
        rid = data_requests.ask(s, who, "erasure", reason="selling the herd",
                                confirm_code="dr-gone")
    done = data_requests.carry_out(db, farms["dr-admin"], settings, rid)
    assert done.kind == "erasure" and done.customer == "dr-gone"
    with db.session(system) as s:
        request = s.get(DataRequest, rid)
        assert request.status == "done" and request.decided_by == farms["dr-admin"].user_id
        assert request.details["reason"] == "requested by the farm: selling the herd"
        assert s.scalar(text("SELECT active FROM core.users WHERE id = :u"),
                        {"u": who.user_id}) is False
    with pytest.raises(NotFound):  # carried out once
        data_requests.carry_out(db, farms["dr-admin"], settings, rid)


def test_a_farm_admin_asks_only_for_their_own_farm(db, system, farms):
    before = requests_of(db, system, "dr-two")
    with pytest.raises(Exception, match="row-level security"), \
            db.session(farms["dr-one-admin"]) as s:
        s.add(DataRequest(customer_id=farms["dr-two-admin"].customer_id, kind="export",
                          status="pending", requested_by=farms["dr-one-admin"].user_id))
    assert requests_of(db, system, "dr-two") == before
    with db.session(farms["dr-one-user"]) as s, pytest.raises(PermissionDenied):
        data_requests.ask(s, farms["dr-one-user"], "export", reason="curious")
