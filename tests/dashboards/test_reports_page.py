"""Reports delivered (``?page=reports``) on PostgreSQL: the reports job stores each farm's PDF
for its portal and emails it to those who asked (the outbox); a farm reads only its own
reports, by any id; a mail server that refuses leaves nothing half-delivered; only the newest
``reports_kept_per_customer`` are kept; each user sets their own email choices, audited."""

from __future__ import annotations

import io
import socket

import panel as pn
import pytest
from pypdf import PdfReader
from sqlalchemy import text

from dashboards.app import NOT_FOUND, guarded
from dashboards.customer import reports as page
from dashboards.pages import PageContext
from reprotech_core import accounts, mail, notifications, report_delivery
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.portal import herd
from reprotech_core.results.released import released_results
from tests.dashboards.test_staff_pages import text_of


@pytest.fixture(scope="module")
def people(db, system, portal):
    """pa's users with addresses: anna asks for reports by email, bert does not; pa's vet asks
    too; pb's user asks too (and must never get pa's)."""
    with db.session(system) as s:
        for name, role, farm in (("pr-anna", "customer_user", "pa"),
                                 ("pr-bert", "customer_user", "pa"),
                                 ("pr-vet", "veterinarian", None),
                                 ("pr-pb", "customer_user", "pb")):
            accounts.create_user(s, accounts.NewUser(name, name, role, farm,
                                                     email=f"{name}@farms.example"))
        accounts.assign(s, "pr-vet", "pa")
    for name in ("pr-anna", "pr-vet", "pr-pb"):
        with db.session(db.identity(name)) as s:
            notifications.set_mine(s, db.identity(name), "report", True)
    return {n: db.identity(n) for n in ("pr-anna", "pr-bert", "pr-vet", "pr-pb")}


@pytest.fixture
def settings(pg_settings, tmp_path):
    return pg_settings.model_copy(update={"data_dir": tmp_path, "smtp_host": None})


def ctx(db, settings, identity) -> PageContext:
    return PageContext(database=db, identity=identity, settings=settings)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_a_delivered_report_is_on_the_portal_and_in_the_inbox_of_who_asked(
        db, system, portal, people, settings):
    [done] = report_delivery.deliver(db, system, settings, customer_code="pa")
    assert done.customer == "pa" and done.emailed_to == 2
    messages = mail.outbox(settings)
    assert sorted(m["To"] for m in messages) == ["pr-anna@farms.example",
                                                 "pr-vet@farms.example"]
    with db.session(people["pr-anna"]) as s:
        listing = report_delivery.listing(s, portal.farms["pa"].id)
        name, pdf = report_delivery.fetch(s, portal.farms["pa"].id, done.report_id)
    assert done.report_id in set(listing["id"])
    assert listing.loc[listing["id"] == done.report_id, "evaluation_run_id"].item() \
        == portal.run_id
    [attached] = list(messages[0].iter_attachments())
    assert attached.get_filename() == name and name.startswith("pa-herd-report-")
    assert attached.get_content() == pdf  # the email carries the stored document
    body = pdf_text(pdf)
    assert "Herd report" in body and "Best animals by index" in body
    with db.session(people["pr-anna"]) as s:  # the herd's best animal, as the portal ranks it
        pa = portal.farms["pa"].id
        table = herd.herd_table(herd.herd_animals(s, pa), released_results(s, pa),
                                settings.index_weights)
    assert herd.top_animals(table, 1)["official_id"].item() in body
    with db.session(system) as s:
        audit = s.execute(text(
            "SELECT new_values->'pdf' AS pdf, reason FROM audit.log WHERE table_name = "
            "'core.customer_reports' AND action = 'INSERT' AND row_id = :r"),
            {"r": str(done.report_id)}).one()
    assert audit.pdf["bytes"] == len(pdf)  # the trail records a digest, not the document
    assert audit.reason == "scheduled herd report delivered"


def test_a_farm_reads_only_its_own_reports_by_any_id(db, system, portal, people, settings):
    [done] = report_delivery.deliver(db, system, settings, customer_code="pa")
    pa, pb = portal.farms["pa"].id, portal.farms["pb"].id
    with db.session(people["pr-pb"]) as s:
        assert done.report_id not in set(report_delivery.listing(s, pb)["id"])
        assert report_delivery.listing(s, pa).empty  # row security, whatever id is asked
        for customer, report in ((pb, done.report_id), (pa, done.report_id),
                                 (pb, f"{done.report_id} OR 1=1"), (pb, "-1"), (pb, "")):
            with pytest.raises(NotFound):
                report_delivery.fetch(s, customer, report)
    with db.session(people["pr-vet"]) as s:  # the assigned vet reads pa's
        assert report_delivery.fetch(s, pa, done.report_id)[1].startswith(b"%PDF")


def test_a_refusing_mail_server_leaves_nothing_half_delivered(db, system, portal, people,
                                                             settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refusing = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    with db.session(system) as s:
        before = s.scalar(text("SELECT count(*) FROM core.customer_reports"))
    with pytest.raises(OSError):
        report_delivery.deliver(db, system, refusing, customer_code="pa")
    with db.session(system) as s:
        assert s.scalar(text("SELECT count(*) FROM core.customer_reports")) == before


def test_only_the_newest_reports_are_kept(db, system, portal, people, settings):
    kept = settings.model_copy(update={"reports_kept_per_customer": 2})
    ids = [report_delivery.deliver(db, system, kept, customer_code="pb")[0].report_id
           for _ in range(3)]
    with db.session(people["pr-pb"]) as s:
        assert list(report_delivery.listing(s, portal.farms["pb"].id)["id"]) \
            == ids[:0:-1]


def test_an_unknown_farm_is_named(db, system, settings):
    with pytest.raises(NotFound, match="no-such-farm"):
        report_delivery.deliver(db, system, settings, customer_code="no-such-farm")


def test_the_page_lists_downloads_and_saves_the_users_own_email_choices(
        db, system, portal, people, settings):
    [done] = report_delivery.deliver(db, system, settings, customer_code="pa")
    view = guarded(page.build, ctx(db, settings, people["pr-bert"]))
    assert isinstance(view, page.ReportsPage)
    shown = text_of(pn.panel(view))
    assert f"Herd report {done.customer}" not in shown and "Herd report 20" in shown
    assert "pr-bert@farms\\.example" in shown  # Markdown-escaped
    assert view.choice.value == done.report_id  # the newest first
    assert view.download.filename.startswith("pa-herd-report-")
    assert view._pdf().getvalue().startswith(b"%PDF")
    assert view.boxes["report"].value is False and view.boxes["evaluation_released"].value
    view.boxes["report"].value = True
    assert view.status.startswith("Saved"), view.status
    with db.session(people["pr-bert"]) as s:
        assert notifications.my_settings(s, people["pr-bert"])["report"] is True
    with db.session(system) as s:
        row = s.execute(text(
            "SELECT actor_user_id, reason FROM audit.log WHERE table_name = "
            "'core.notification_settings' AND row_id = :r ORDER BY id DESC LIMIT 1"),
            {"r": f"{people['pr-bert'].user_id}:report"}).one()
    assert (row.actor_user_id, row.reason) == (people["pr-bert"].user_id,
                                               "email choice changed by its user")
    with db.session(system) as s:
        told = notifications.recipients(s, portal.farms["pa"].id, "report")
    assert [r.username for r in told] == ["pr-anna", "pr-bert", "pr-vet"]


def test_a_user_reads_and_changes_only_their_own_choices(db, portal, people):
    with db.session(people["pr-pb"]) as s:
        seen = s.execute(text("SELECT DISTINCT user_id FROM core.notification_settings")
                         ).scalars().all()
        assert seen == [people["pr-pb"].user_id]
        with pytest.raises(RuleViolation, match="notification.unknown_topic"):
            notifications.set_mine(s, people["pr-pb"], "sms", True)


def test_an_empty_herd_says_no_report_yet(db, portal, settings):
    view = guarded(page.build, ctx(db, settings, portal.users["pempty-user"]))
    assert isinstance(view, page.ReportsPage)
    shown = text_of(pn.panel(view))
    assert "No herd report has been delivered yet" in shown
    assert "no email address on record" in shown
    assert NOT_FOUND not in shown


def test_a_retried_run_delivers_each_farm_once(db, system, portal, people, settings):
    with db.session(system) as s:
        run = s.scalar(text("INSERT INTO core.job_runs (job, status) VALUES "
                            "('customer-reports', 'running') RETURNING id"))
    first = report_delivery.deliver(db, system, settings, customer_code="pa", job_run_id=run)
    again = report_delivery.deliver(db, system, settings, customer_code="pa", job_run_id=run)
    assert again == first  # the same report, not a second one
    assert len(mail.outbox(settings)) == first[0].emailed_to  # and its emails once
