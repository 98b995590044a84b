"""Tell people about failed runs: always in the job record; by email when SMTP is set."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import text

from reprotech_core.db.session import Database, Identity
from reprotech_core.hub_services import dashboards_prefix
from reprotech_core.settings import Settings

log = logging.getLogger(__name__)


def run_link(settings: Settings, run_id: int) -> str:
    """The run's page on the staff dashboards, at the address people's browsers use
    (``public_url``), never the hub's bind address, which may be 0.0.0.0 or a pod's."""
    return f"{settings.public_base}{dashboards_prefix()}?page=jobs&run={run_id}"


def notify_failures(db: Database, identity: Identity, settings: Settings) -> int:
    """Email each newly failed run once (``notified_at`` marks it); returns how many."""
    if not settings.smtp_host or not settings.notify_emails:
        return 0
    with db.session(identity) as session:
        runs = session.execute(text(
            "SELECT id, job, attempts, error, error_cell, output_html, finished_at "
            "FROM core.job_runs WHERE status = 'failed' AND notified_at IS NULL "
            "ORDER BY id FOR UPDATE SKIP LOCKED")).all()
        for run in runs:
            msg = EmailMessage()
            msg["Subject"] = f"[Reprotech] job {run.job} failed (run {run.id})"
            msg["From"] = settings.smtp_sender
            msg["To"] = ", ".join(settings.notify_emails)
            msg.set_content(
                f"Run {run.id} of job {run.job} failed after {run.attempts} attempt(s) at "
                f"{run.finished_at:%Y-%m-%d %H:%M} UTC.\n\n"
                f"Error{f' in cell {run.error_cell}' if run.error_cell else ''}: {run.error}\n\n"
                f"Executed notebook: {run.output_html or '(none)'}\n"
                f"Details: {run_link(settings, run.id)} (or `reprotech jobs show {run.id}`)\n")
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                smtp.send_message(msg)
            session.execute(text("UPDATE core.job_runs SET notified_at = now() WHERE id = :i"),
                            {"i": run.id})
    return len(runs)
