"""Notices on PostgreSQL: releasing an evaluation and QC'ing a batch with failed samples write
the affected farms' news in the same transaction (triggers of migration 0025), whoever did it;
the overview shows a farm its own news only; ``dispatch`` emails each notice once, to the farm's
users and assigned vets who have not turned the topic off, one message each. A vet emails
themselves an assigned farm's to-do list for the herd visit."""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
import pytest
from sqlalchemy import text

from dashboards.app import guarded
from dashboards.customer import overview
from dashboards.pages import PageContext
from dashboards.staff.customers import CustomerPage
from reprotech_core import accounts, mail, notifications
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction.queries import worklist
from reprotech_core.staffviews import customers


@pytest.fixture(scope="module")
def people(db, system, portal):
    """pa's user nora (releases on), otto (turned releases off), pa's vet vera; pb's user."""
    with db.session(system) as s:
        for name, role, farm in (("pn-nora", "customer_user", "pa"),
                                 ("pn-otto", "customer_user", "pa"),
                                 ("pn-vera", "veterinarian", None),
                                 ("pn-pb", "customer_user", "pb")):
            accounts.create_user(s, accounts.NewUser(name, name, role, farm,
                                                     email=f"{name}@farms.example"))
        accounts.assign(s, "pn-vera", "pa")
    otto = db.identity("pn-otto")
    with db.session(otto) as s:
        notifications.set_mine(s, otto, "evaluation_released", False)
    return {n: db.identity(n) for n in ("pn-nora", "pn-otto", "pn-vera", "pn-pb")}


@pytest.fixture
def settings(pg_settings, tmp_path):
    return pg_settings.model_copy(update={"data_dir": tmp_path, "smtp_host": None})


def test_a_release_is_news_for_each_farm_in_it_and_only_theirs(db, portal, people):
    """The portal's run was released through ``store.evaluations.release_run``."""
    for farm, other, user in (("pa", "pb", "pn-nora"), ("pb", "pa", "pn-pb")):
        with db.session(people[user]) as s:
            mine = notifications.recent(s, portal.farms[farm].id)
            assert notifications.recent(s, portal.farms[other].id).empty  # row security
        [body] = mine.loc[mine["body"].str.startswith(
            f"Evaluation run {portal.run_id} was released"), "body"]
        assert f": {len(portal.farms[farm].evaluated)} animal(s) of your herd" in body


def test_failed_samples_are_news_naming_the_animals(db, system, portal, people, pg_settings):
    pa = portal.farms["pa"]
    official, animal = next(iter(pa.animals.items()))
    with db.session(system, reason="test batch") as s:
        panel = s.scalar(text("SELECT id FROM core.snp_panels ORDER BY id LIMIT 1"))
        batch = s.scalar(text(
            "INSERT INTO core.genotyping_batches (name, panel_id, stage) "
            "VALUES ('pn-B1', :p, 'genotyped') RETURNING id"), {"p": panel})
        sample = s.scalar(text(
            "INSERT INTO core.samples (customer_id, animal_id, barcode, batch_id) "
            "VALUES (:c, :a, 'pn-S1', :b) RETURNING id"), {"c": pa.id, "a": animal, "b": batch})
        s.execute(text(
            "INSERT INTO core.qc_results (customer_id, sample_id, batch_id, call_rate, "
            "decision, reasons, decided_at) VALUES (:c, :s, :b, 0.71, 'fail', "
            "ARRAY['call_rate'], now())"), {"c": pa.id, "s": sample, "b": batch})
        s.execute(text("UPDATE core.genotyping_batches SET stage = 'qc' WHERE id = :b"),
                  {"b": batch})
    with db.session(people["pn-nora"]) as s:
        news = notifications.recent(s, pa.id)
    failed = news[(news["topic"] == "qc_failed") & news["body"].str.contains("batch pn-B1 ")]
    assert len(failed) == 1  # one notice per farm and batch
    assert f"batch pn-B1 failed genotype QC: {official} (call_rate)" in failed["body"].item()
    with db.session(people["pn-pb"]) as s:
        assert notifications.recent(s, pa.id).empty
    view = guarded(overview.build, PageContext(database=db, identity=people["pn-nora"],
                                               settings=pg_settings))
    [shown] = [a.object for a in view.select(pn.pane.Alert)
               if "rt-herd-notice" in a.css_classes and "pn-B1" in a.object]
    assert shown.startswith("**Samples failed genotype QC**")
    assert f"{official} (call\\_rate)" in shown  # the reasons, as Markdown text


def test_dispatch_emails_each_notice_once_to_who_wants_it(db, system, portal, people,
                                                          settings):
    sent = notifications.dispatch(db, system, settings)
    assert sent >= 1
    to = sorted(m["To"] for m in mail.outbox(settings)
                if m["Subject"] == f"New breeding values released: {portal_name(db, system)}")
    assert "pn-nora@farms.example" in to and "pn-vera@farms.example" in to
    assert "pn-otto@farms.example" not in to  # turned off
    assert "pn-pb@farms.example" not in to  # another farm's news
    assert all("," not in t for t in to)  # one recipient per message
    assert notifications.dispatch(db, system, settings) == 0  # each notice once
    with db.session(system) as s:
        assert s.scalar(text("SELECT count(*) FROM core.notices WHERE emailed_at IS NULL")) == 0


def portal_name(db, system) -> str:
    with db.session(system) as s:
        return s.scalar(text("SELECT name FROM core.customers WHERE code = 'pa'"))


def test_a_vet_emails_themselves_the_to_do_list_of_an_assigned_farm_only(
        db, portal, people, settings):
    vera = people["pn-vera"]
    page = CustomerPage(PageContext(database=db, identity=vera, settings=settings),
                        portal.farms["pa"].id, "pa")
    page.email_todo()
    assert page.sent.alert_type == "success", page.sent.object
    [message] = mail.outbox(settings)
    assert message["To"] == "pn-vera@farms.example"
    with db.session(vera) as s:
        todo = worklist(s, portal.farms["pa"].id)
    assert len(todo) > 0  # pa has a reproduction history
    body = message.get_body(("plain",)).get_content()
    assert all(f"{r.official_id}  {r.action}: {r.reason}" in body for r in todo.itertuples())
    [sheet] = list(message.iter_attachments())
    rows = pd.read_csv(io.StringIO(sheet.get_content()))  # text/csv reads back as text
    assert list(rows["official_id"]) == list(todo["official_id"])
    with db.session(vera) as s, pytest.raises(NotFound):  # not assigned to pb
        customers.email_todo(s, settings, vera, portal.farms["pb"].id)
    with db.session(portal.users["p-vet"]) as s, \
            pytest.raises(RuleViolation, match="notification.no_address"):
        customers.email_todo(s, settings, portal.users["p-vet"], portal.farms["pa"].id)
    assert len(mail.outbox(settings)) == 1  # nothing more sent
