"""Data entry by vets and technicians: the form functions and the "Record work" page.

The page is built in-process as the signed-in vet and driven through its widgets and buttons,
the way a browser session drives it; what it writes is read back from the database.
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import func, select

from dashboards.app import pages_for, registered_pages
from dashboards.entry.record import RecordWork
from dashboards.pages import PageContext
from data_models.reproduction import Insemination
from reprotech_core import accounts
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction import forms
from reprotech_core.reproduction.records import RecordRefused
from tests.reproduction.conftest import make_farm

_users = itertools.count(1)
DAY = date(2024, 3, 4)


@pytest.fixture
def vet(db, system, farm):
    """A vet assigned to ``farm`` (and to nothing else)."""
    name = f"entry-vet-{next(_users)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, name, "veterinarian"))
        accounts.assign(s, name, farm.code)
    return db.identity(name)


def services(db, system, farm) -> int:
    with db.session(system) as s:
        return s.scalar(select(func.count()).select_from(Insemination)
                        .where(Insemination.customer_id == farm.id))


def test_an_insemination_is_recorded_once(db, system, farm, vet):
    fields = {"event": "insemination", "animal": farm.cow(1), "date": DAY, "bull": farm.ref_bull,
              "service_type": "heat"}
    with db.session(vet) as s:
        first = forms.record_event(s, farm.code, fields)
    with db.session(vet) as s:
        again = forms.record_event(s, farm.code, fields)
    assert first.record_id is not None and "is recorded" in first.message
    assert again.record_id is None and "already recorded" in again.message
    assert services(db, system, farm) == 1


def test_a_refusal_names_the_record_and_the_rule(db, farm, vet):
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_event(s, farm.code, {"event": "insemination", "animal": farm.own_bull,
                                          "date": DAY, "bull": farm.ref_bull})
    assert farm.own_bull in str(refused.value)
    assert refused.value.problems[0].rule.startswith("repro.")


def test_an_unreadable_value_is_named_by_its_field(db, farm, vet):
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_event(s, farm.code, {"event": "pregnancy_check", "animal": farm.cow(1),
                                          "date": "2024-13-01", "method": "ultrasound",
                                          "result": "open"})
    problem = refused.value.problems[0]
    assert problem.rule == "entry.value" and problem.column == "date"
    assert "2024-13-01" in problem.message


def test_a_vet_cannot_record_for_a_customer_they_do_not_serve(db, system, reference_bull, vet):
    other = make_farm(db, system, reference_bull)
    with db.session(vet) as s:
        assert other.code not in {code for code, _ in forms.farms_for_entry(s)}
        with pytest.raises(NotFound):
            forms.record_event(s, other.code, {"event": "insemination", "animal": other.cow(1),
                                               "date": DAY, "bull": other.ref_bull})
    assert services(db, system, other) == 0


def test_an_upload_is_all_or_nothing_unless_asked(db, system, farm, vet):
    csv = (f"event,animal,date,bull\ninsemination,{farm.cow(1)},2024-03-04,{farm.ref_bull}\n"
           f"insemination,NO-SUCH-COW,2024-03-05,{farm.ref_bull}\n").encode()
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.csv", csv)
    assert not report.written and [e.line for e in report.errors] == [3]
    assert "NO-SUCH-COW" in report.errors[0].message
    assert services(db, system, farm) == 0
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, "events.csv", csv, clean_rows_only=True)
    assert report.written and report.imported == {"insemination": 1}
    assert services(db, system, farm) == 1


@pytest.mark.parametrize(("name", "content", "rule"), [
    ("events.exe", b"MZ...", "import.file_type"),
    ("events.csv", b"", "import.empty"),
    ("events.csv", b"x" * (forms.MAX_UPLOAD_BYTES + 1), "import.file_size"),
    ("events.xlsx", b"not a zip at all", "import.unreadable"),
])
def test_a_bad_upload_is_refused_before_parsing(db, farm, vet, name, content, rule):
    with db.session(vet) as s, pytest.raises(RuleViolation) as refused:
        forms.import_upload(s, farm.code, name, content)
    assert refused.value.rule == rule and name in str(refused.value)


# The page -----------------------------------------------------------------------------------
def page_as(db, pg_settings, identity) -> RecordWork:
    return RecordWork(PageContext(database=db, identity=identity, settings=pg_settings))


def test_the_page_records_through_its_form_and_shows_refusals(db, system, pg_settings, farm, vet):
    page = page_as(db, pg_settings, vet)
    assert page.farm.value == farm.code and list(page.farm.options.values()) == [farm.code]
    form = page._tabs[0]
    widgets = {w.label: w for w in form.objects if hasattr(w, "value")}
    widgets["Cow (official ID)"].value = farm.cow(2)
    widgets["Date"].value = DAY
    widgets["Bull (official ID)"].value = farm.ref_bull
    form.objects[-1].clicks += 1  # the Record button
    assert page.result.alert_type == "success" and "is recorded" in page.result.object
    assert services(db, system, farm) == 1
    widgets["Cow (official ID)"].value = farm.own_bull  # a bull cannot be inseminated
    form.objects[-1].clicks += 1
    assert page.result.alert_type == "danger" and "Not recorded" in page.result.object
    assert farm.own_bull in page.result.object
    assert services(db, system, farm) == 1


def test_the_page_imports_an_uploaded_file(db, system, pg_settings, farm, vet):
    page = page_as(db, pg_settings, vet)
    page.file.filename = "events.csv"
    page.file.value = (f"event,animal,date,bull\n"
                       f"insemination,{farm.cow(3)},2024-03-04,{farm.ref_bull}\n").encode()
    page.upload()
    assert page.result.alert_type == "success" and "Imported 1 insemination" in page.result.object
    page.upload()
    assert "1 row(s) were already recorded" in page.result.object
    assert services(db, system, farm) == 1


def test_the_page_is_for_staff_who_record_work(db, pg_settings, world, vet):
    pages = registered_pages(("dashboards.entry",))
    slugs = {p.slug for p in pages_for(
        PageContext(database=db, identity=vet, settings=pg_settings), pages)}
    assert "record" in slugs
    for customer_user in ("w-a-user", "w-a-admin"):
        ctx = PageContext(database=db, identity=world.users[customer_user], settings=pg_settings)
        assert "record" not in {p.slug for p in pages_for(ctx, pages)}
    unassigned = world.users["w-lab"]
    ctx = PageContext(database=db, identity=unassigned, settings=pg_settings)
    assert "record" not in {p.slug for p in pages_for(ctx, pages)}


def test_a_flush_and_an_ivf_session_from_the_forms(db, system, farm, vet):
    from data_models.reproduction import Embryo

    flush = {"donor": farm.cow(4), "sire": farm.ref_bull, "date": DAY,
             "embryos": "7/1, 7/2 3/4", "preservation": "frozen", "tank": "T1", "canister": "C2"}
    with db.session(vet) as s:
        outcome = forms.record_production(s, farm.code, "flush", flush)
    assert outcome.record_id is not None and "embryo flush is recorded" in outcome.message
    with db.session(system) as s:
        stock = s.scalars(select(Embryo.status).where(Embryo.customer_id == farm.id)).all()
    assert sorted(stock) == ["discarded", "in_stock", "in_stock"]  # 3/4 is not transferable
    ivf = {"donor": farm.cow(5), "sire": farm.ref_bull, "date": DAY, "oocytes_collected": "12",
           "oocytes_cleaved": "15", "blastocysts": "4", "embryos": "7/1"}
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "ivf", ivf)
    assert "cleaved" in str(refused.value)
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "flush", {**flush, "embryos": "7-1"})
    assert refused.value.problems[0].column == "embryos" and "'7-1'" in str(refused.value)
    with db.session(vet) as s, pytest.raises(RecordRefused) as refused:
        forms.record_production(s, farm.code, "ivf", {**ivf, "oocytes_cleaved": "ten"})
    assert refused.value.problems[0].column == "oocytes_cleaved"
