"""The "Herd files" page without a browser: a customer admin and a vet check a herd register
or a records file (a dry run that writes nothing), read the report, commit; the same file again
is "nothing to write", a corrected one lists its changes; a refused file names every rule with
line and column and cannot be committed; a customer user does not get the page, a vet sees only
assigned customers, and a forged customer code is "not found" and writes nothing."""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pandas as pd
import panel as pn
import psycopg
import pytest

from dashboards.app import pages_for, registered_pages
from dashboards.customer import herd_files as page
from dashboards.pages import PageContext
from reprotech_core import accounts
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.herd import web_upload as views
from reprotech_core.herd.register import COLUMNS
from reprotech_core.records.performance_import import KINDS
from reprotech_core.settings import get_settings
from tests import support

pytestmark = pytest.mark.db

WATCHED = ("herds", "animals", "phenotypes")
REGISTER_HEADER = "official_id,name,sex,birth_date,breed,sire,dam,herd\n"
USERS = {"hf-admin": ("customer_admin", "hf-one"), "hf-user": ("customer_user", "hf-one"),
         "hf-vet": ("veterinarian", None), "hf-tech": ("technician", None),
         "hf-staff": ("admin", None)}
ASSIGNED = {"hf-vet": ("hf-one", "hf-three"), "hf-tech": ("hf-two",)}
_ids = itertools.count(1)


@dataclass(frozen=True)
class HerdFilesWorld:
    users: dict[str, Identity]


_cache: dict[str, HerdFilesWorld] = {}


def herd_files_world(db: Database, system: Identity) -> HerdFilesWorld:
    """Three farms (hf-one on the basic tier: the page is for a customer admin on every tier),
    each with herd ``main``, and a sire catalogue (hf-ref); a customer admin and a customer
    user of hf-one; a vet assigned to hf-one and hf-three, a technician to hf-two; an
    administrator. Built once a session."""
    key = str(db.engine.url)
    if key not in _cache:
        with db.session(system, reason="herd files tests") as s:
            for code, tier in (("hf-one", "basic"), ("hf-two", "enterprise"),
                               ("hf-three", "professional")):
                farm = accounts.create_customer(s, code=code, name=f"Farm {code}", tier=tier)
                accounts.create_herd(s, customer=farm, code="main", name="Main")
            accounts.create_customer(s, code="hf-ref", name="Herd files sires", tier="reference",
                                     kind="reference")
            for name, (role, customer) in USERS.items():
                accounts.create_user(s, accounts.NewUser(name, name, role, customer))
            for name, customers in ASSIGNED.items():
                for code in customers:
                    accounts.assign(s, name, code)
        _cache[key] = HerdFilesWorld({name: db.identity(name) for name in USERS})
    return _cache[key]


@pytest.fixture(scope="module")
def hw(db, system) -> HerdFilesWorld:
    return herd_files_world(db, system)


def new_ids(n: int) -> list[str]:
    """Fresh ISO 11784 tag numbers (15 digits) no other test uses."""
    return [f"2760009180{next(_ids):05d}" for _ in range(n)]


def register_csv(rows: list[tuple[str, ...]]) -> bytes:
    return (REGISTER_HEADER + "".join(",".join(r) + "\n" for r in rows)).encode()


def family(cow: str, calf: str, cow_name: str = "Berta") -> list[tuple[str, ...]]:
    return [(cow, cow_name, "F", "2018-04-12", "Holstein", "", "", "main"),
            (calf, "Clara", "F", "2021-02-03", "Holstein", "", cow, "main")]


def viewer(db, hw, user: str) -> page.HerdFiles:
    return page.HerdFiles(PageContext(database=db, identity=hw.users[user],
                                      settings=get_settings()))


def choose(view: page.HerdFiles, name: str, content: bytes, kind: str = "register",
           farm: str | None = None) -> None:
    if farm is not None:
        view.farm.value = farm
    view.kind.value = kind
    view.file.filename, view.file.value = name, content


def unchanged(conninfo: str) -> AbstractContextManager[None]:
    """Assert the block changes no herd, animal or phenotype, nor the audit log."""
    return support.unchanged(conninfo, WATCHED)


def plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def stored(admin_conninfo: str, ids: list[str]) -> dict[str, str | None]:
    with psycopg.connect(admin_conninfo) as conn:
        return dict(conn.execute("SELECT official_id, name FROM core.animals "
                                 "WHERE official_id = ANY(%s)", (ids,)).fetchall())


def test_who_gets_the_page(db, hw):
    pages = registered_pages()
    for user in ("hf-admin", "hf-vet", "hf-tech", "hf-staff"):
        ctx = PageContext(database=db, identity=hw.users[user], settings=get_settings())
        assert page.SLUG in {p.slug for p in pages_for(ctx, pages)}, user  # hf-one: basic tier
    ctx = PageContext(database=db, identity=hw.users["hf-user"], settings=get_settings())
    assert page.SLUG not in {p.slug for p in pages_for(ctx, pages)}
    with pytest.raises(PermissionDenied):  # a forged ?page=herd-files reads "Not found."
        viewer(db, hw, "hf-user")


def test_each_user_picks_only_the_customers_they_may_import_for(db, hw):
    admin = viewer(db, hw, "hf-admin")
    assert admin._farms == [("hf-one", "Farm hf-one")] and not admin.farm.visible
    assert "Customer: **Farm hf-one**" in support_text(admin)
    vet = viewer(db, hw, "hf-vet")
    assert sorted(vet.farm.options.values()) == ["hf-one", "hf-three"] and vet.farm.visible
    assert list(viewer(db, hw, "hf-tech").farm.options.values()) == ["hf-two"]
    staff = set(viewer(db, hw, "hf-staff").farm.options.values())
    assert {"hf-one", "hf-two", "hf-three"} <= staff


def support_text(view: page.HerdFiles) -> str:
    tree = pn.panel(view.__panel__())
    return "\n".join(str(o.object) for o in tree.select(pn.pane.Markdown))


def test_customer_admin_checks_commits_reimports_and_corrects_a_register(
        db, hw, admin_conninfo):
    cow, calf = new_ids(2)
    view = viewer(db, hw, "hf-admin")
    choose(view, "register.csv", register_csv(family(cow, calf)))
    with unchanged(admin_conninfo):  # the dry run writes nothing, not even an audit row
        view.check()
    assert view.result.alert_type == "info", view.status
    assert "Dry run: nothing written yet" in view.status
    assert "2 new, 0 changed, 0 unchanged; would be written (dry run)" in plain(view.status)
    assert view.report.value["outcome"].tolist() == ["new", "new"]
    assert not view.commit_button.disabled and view.download.visible
    report = pd.read_csv(view.download.callback())
    assert sorted(report["official_id"].astype(str)) == sorted([cow, calf])

    view.commit()
    assert view.result.alert_type == "success", view.status
    assert "2 new, 0 changed, 0 unchanged; written" in plain(view.status)
    assert view.commit_button.disabled
    assert stored(admin_conninfo, [cow, calf]) == {cow: "Berta", calf: "Clara"}
    with psycopg.connect(admin_conninfo) as conn:
        reasons = {r for (r,) in conn.execute(
            "SELECT reason FROM audit.log WHERE table_name = 'core.animals' "
            "AND new_values->>'official_id' = ANY(%s)", ([cow, calf],))}
    assert reasons == {"herd register uploaded from register.csv (page)"}

    view.file.value = register_csv(family(cow, calf))  # the same file again
    with unchanged(admin_conninfo):
        view.check()
    assert "Nothing to write" in view.status and "nothing to write" in plain(view.status)
    assert view.commit_button.disabled

    choose(view, "register-corrected.csv", register_csv(family(cow, calf, "Bertha")))
    view.check()
    changed = view.report.value
    assert changed[["official_id", "outcome", "column", "old", "new"]].values.tolist() == [
        [cow, "changed", "name", "Berta", "Bertha"]]
    assert "0 new, 1 changed, 1 unchanged; would be written" in plain(view.status)
    view.commit()
    assert view.result.alert_type == "success", view.status
    assert stored(admin_conninfo, [cow]) == {cow: "Bertha"}


def test_vet_checks_and_commits_lactations_for_an_assigned_customer(db, hw, admin_conninfo):
    cow, calf = new_ids(2)
    vet = viewer(db, hw, "hf-vet")
    choose(vet, "herd.csv", register_csv(family(cow, calf)), farm="hf-three")
    vet.check()
    vet.commit()
    assert vet.result.alert_type == "success", vet.status
    lactations = (f"animal,lactation,calving_date,milk_kg,fat_kg,protein_kg\n"
                  f"{cow},1,2020-05-01,8100,330,280\n{cow},2,2021-06-02,9350,381,322\n").encode()
    choose(vet, "lactations.csv", lactations, kind="lactations")
    with unchanged(admin_conninfo):
        vet.check()
    assert "6 new, 0 changed, 0 unchanged, 0 refused; would be written" in plain(vet.status)
    assert not vet.commit_button.disabled
    vet.commit()
    assert "6 new" in vet.status and "written" in vet.status and vet.result.alert_type == "success"
    with psycopg.connect(admin_conninfo) as conn:
        (n,) = conn.execute("SELECT count(*) FROM core.phenotypes p JOIN core.animals a "
                            "ON a.id = p.animal_id WHERE a.official_id = %s", (cow,)).fetchone()
    assert n == 6
    vet.file.value = lactations
    with unchanged(admin_conninfo):
        vet.check()
    assert "0 new, 0 changed, 6 unchanged" in plain(vet.status) and vet.commit_button.disabled
    assert vet.report.value.empty  # unchanged values are in the download only
    assert len(pd.read_csv(vet.download.callback())) == 6


R = REGISTER_HEADER
LACTATIONS = "animal,lactation,calving_date,milk_kg\n"


@pytest.mark.parametrize(("kind", "content", "encoding", "rule", "line", "column"), [
    ("register", R + "{cow},Berta,F,2018-04-12,Holstein,,,main\n12345,X,F,2019-01-01,Holstein,,,"
     "main\n", "utf-8", "register.id_format", 3, "official_id"),
    ("register", R + "{cow},Berta,F,2022-04-12,Holstein,,,main\n{calf},Clara,F,2021-02-03,"
     "Holstein,,{cow},main\n", "utf-8", "register.parent_born_after_calf", 3, "dam"),
    ("register", R + "{cow},Berta,M,2018-04-12,Holstein,,,main\n{calf},Clara,F,2021-02-03,"
     "Holstein,,{cow},main\n", "utf-8", "register.parent_sex", 3, "dam"),
    ("register", R + "{cow},Berta,F,2018-04-12,Holstein,,,main\n{cow},Berta,F,2018-04-12,"
     "Holstein,,,main\n", "utf-8", "register.duplicate", 3, "official_id"),
    ("register", R.replace(",", ";") + "{cow};Berta;F;2018-04-12;Holstein;;;main\n", "utf-8",
     "table.delimiter", 1, ""),  # European Excel, refused by the one table reader
    ("lactations", LACTATIONS + "NO-SUCH-COW,1,2020-05-01,8100\n", "utf-8",
     "records.unknown_animal", 2, "animal"),
    ("lactations", LACTATIONS + "{cow},1,03/04/2020,8100\n", "utf-8", "records.date_format", 2,
     "calving_date"),
    ("lactations", LACTATIONS + "B\xe9a,1,2020-05-01,8100\n", "latin-1", "table.encoding", 2,
     "2"),  # Latin-1 is refused by name, not guessed
    ("health", "animal,date,event\n{cow},2020-01-01,mastitis\n", "utf-16",
     "records.unknown_event", 2, "event"),  # UTF-16 (Excel's "Unicode text") is read
])
def test_a_refused_file_names_its_rules_and_cannot_be_committed(
        db, hw, admin_conninfo, kind, content, encoding, rule, line, column):
    cow, calf = new_ids(2)
    data = content.format(cow=cow, calf=calf).encode(encoding)
    view = viewer(db, hw, "hf-admin")
    choose(view, "bad.csv", data, kind=kind)
    with unchanged(admin_conninfo):
        view.check()
        assert view.result.alert_type == "danger" and "nothing written" in view.status
        assert view.commit_button.disabled
        refused = view.report.value
        view.commit()  # a forged click does not write either
    assert "Check the file first" in view.status
    status = "outcome" if kind == "register" else "status"
    hits = refused[(refused[status] == "refused") & (refused["rule"] == rule)]
    assert len(hits) >= 1, refused
    assert int(hits.iloc[0]["line"]) == line, refused
    assert str(hits.iloc[0]["column"]).startswith(column), refused


@pytest.mark.parametrize(("name", "content", "rule"), [
    ("herd.pdf", b"%PDF-1.4", "upload.file_type"),
    ("herd.csv", b"", "upload.empty"),
    ("herd.csv", b"x" * (get_settings().web_upload_max_bytes + 1), "upload.file_size"),
    ("herd.csv", b"PK\x03\x04 a workbook named .csv", "upload.refused"),
])
def test_an_upload_refused_before_reading_writes_nothing(db, hw, admin_conninfo, name,
                                                         content, rule):
    view = viewer(db, hw, "hf-admin")
    choose(view, name, content)
    with unchanged(admin_conninfo):
        view.check()
    if rule == "upload.empty":  # the browser sends no bytes: the page asks for a file
        assert view.result.alert_type == "warning"
        with pytest.raises(RuleViolation) as refused:
            views.judge_upload(db, hw.users["hf-admin"], "hf-one", views.Upload(name, content),
                               kind="register", commit=True)
        assert refused.value.rule == rule
        return
    assert view.result.alert_type == "danger" and "Nothing written" in view.status
    assert f"[rule {rule}]" in plain(view.status) and name in plain(view.status)
    assert view.commit_button.disabled and not view.report.visible
    with pytest.raises(RuleViolation) as refused:
        views.judge_upload(db, hw.users["hf-admin"], "hf-one", views.Upload(name, content),
                           kind="register", commit=True)
    assert refused.value.rule == rule
    assert "reprotech-upload-" not in view.status  # never the private folder's name


def test_a_forged_customer_is_not_found_and_writes_nothing(db, hw, admin_conninfo):
    cow, calf = new_ids(2)
    content = register_csv(family(cow, calf))
    vet = viewer(db, hw, "hf-vet")
    vet.farm.options = {**vet.farm.options, "forged": "hf-two"}  # as a crafted message would
    choose(vet, "register.csv", content, farm="hf-two")
    with unchanged(admin_conninfo):
        vet.check()
        assert vet.result.alert_type == "danger" and "Not found" in vet.status
        assert vet.commit_button.disabled
        for user, code in (("hf-vet", "hf-two"), ("hf-admin", "hf-two"), ("hf-admin", "h-none"),
                           ("hf-tech", "hf-one")):
            with pytest.raises(NotFound):
                views.judge_upload(db, hw.users[user], code, views.Upload("r.csv", content),
                                   kind="register", commit=True)
    with unchanged(admin_conninfo), pytest.raises(NotFound):  # a catalogue is shown to all,
        views.judge_upload(db, hw.users["hf-staff"], "hf-ref",  # but is nobody's herd
                           views.Upload("r.csv", content), kind="register", commit=True)


def test_changing_anything_after_the_check_disables_commit(db, hw, admin_conninfo):
    cow, calf = new_ids(2)
    view = viewer(db, hw, "hf-vet")
    choose(view, "register.csv", register_csv(family(cow, calf)), farm="hf-one")
    view.check()
    assert not view.commit_button.disabled
    view.create_parents.value = True
    assert view.commit_button.disabled
    with unchanged(admin_conninfo):
        view.commit()
    assert "Check the file first" in view.status


def test_progress_is_reported_while_a_large_file_is_read(db, hw, admin_conninfo):
    rows = [(oid, "", "F", "2019-01-01", "Holstein", "", "", "main") for oid in new_ids(1200)]
    view = viewer(db, hw, "hf-admin")
    choose(view, "large.csv", register_csv(rows))
    steps, values = [], []
    view.step.param.watch(lambda e: steps.append(e.new), "object")
    view.progress.param.watch(lambda e: values.append(e.new), "value")
    with unchanged(admin_conninfo):
        view.check()
    assert "1,000 rows read; judging…" in steps and "1,200 rows read; judging…" in steps
    assert 0 < values[-1] <= 100 and values == sorted(values)
    assert "1200 new" in plain(view.status)


def test_templates_are_the_imports_own(db, hw, admin_conninfo):
    view = viewer(db, hw, "hf-admin")
    tree = pn.panel(view.__panel__())
    downloads = {w.filename: w for w in tree.select(pn.widgets.FileDownload)
                 if w.filename.endswith("-template.csv")}
    assert sorted(downloads) == sorted(f"{k}-template.csv" for k in views.KINDS)
    register = downloads["register-template.csv"].callback().getvalue().decode()
    assert register.splitlines()[0] == ",".join(COLUMNS)
    for kind, (required, optional) in KINDS.items():
        header = downloads[f"{kind}-template.csv"].callback().getvalue().decode().splitlines()[0]
        assert header.split(",") == [*required, *optional]
    choose(view, "register-template.csv", register.encode())
    with unchanged(admin_conninfo):  # the example rows are a clean register
        view.check()
    assert view.result.alert_type == "info" and "3 new" in plain(view.status), view.status


def test_a_commit_the_database_refuses_writes_nothing(db, hw, admin_conninfo):
    """hf-one is on the basic tier (500 animals): the file is clean, but the database's tier
    limit refuses the commit, and the page says so with the rule; nothing is half-written."""
    rows = [(oid, "", "F", "2019-01-01", "Holstein", "", "", "main") for oid in new_ids(501)]
    view = viewer(db, hw, "hf-admin")
    choose(view, "too-many.csv", register_csv(rows))
    view.check()
    assert not view.commit_button.disabled, view.status
    with unchanged(admin_conninfo):
        view.commit()
    assert view.result.alert_type == "danger" and "Nothing written" in view.status
    assert "tier limit of 500" in plain(view.status) and "[rule " in plain(view.status)
    assert not view.report.visible


def test_an_excel_register_is_checked_like_a_csv(db, hw, admin_conninfo):
    cow, calf = new_ids(2)
    header = REGISTER_HEADER.strip().split(",")
    book = support.workbook([header, *[list(r) for r in family(cow, calf)]])
    view = viewer(db, hw, "hf-admin")
    choose(view, "register.xlsx", book)
    values = []
    view.progress.param.watch(lambda e: values.append(e.new), "value")
    with unchanged(admin_conninfo):
        view.check()
    assert values[:1] == [-1]  # rows of a workbook are unknown before reading: indeterminate
    assert "2 new, 0 changed, 0 unchanged; would be written" in plain(view.status), view.status
    assert not view.commit_button.disabled
