"""Which emails a user wants, and who gets one about a customer.

A topic has a default (:data:`TOPICS`); ``core.notification_settings`` keeps only a user's
choices, each their own to read and change (row security), and readable by whoever sends
(``notifications:send``: the jobs' system user, admins, lab ops). The people told about a
customer are the ones who see it: the farm's active users and the veterinarians assigned to
it, each with an email address and the topic not turned off.

News for a customer is a row of ``core.notices``, written by the database's triggers in the
transaction that made it (migration 0025). :func:`dispatch` emails each notice once: it takes
an unsent notice with ``FOR UPDATE SKIP LOCKED`` (several schedulers on several hosts never
send one twice), sends one message per recipient (no farm learns another's address) and marks
it sent in the same transaction; a mail server that refuses leaves it unsent, for the next
pass. The overview shows a customer's recent notices (:func:`recent`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from data_models.delivery import NOTIFICATION_TOPICS, NotificationSetting
from reprotech_core import mail
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import RuleViolation
from reprotech_core.hub_services import dashboards_prefix
from reprotech_core.settings import Settings


@dataclass(frozen=True)
class Topic:
    code: str
    label: str
    default: bool


TOPICS: dict[str, Topic] = {t.code: t for t in (
    Topic("report", "Email me each new herd report (PDF attached)", False),
    Topic("evaluation_released", "Email me when new breeding values are released", True),
    Topic("qc_failed", "Email me when a genotyping batch of my herd fails QC", True),
)}
assert tuple(TOPICS) == NOTIFICATION_TOPICS, "the model's check and the topics must agree"


def _topic(code: str) -> Topic:
    try:
        return TOPICS[code]
    except KeyError:
        raise RuleViolation("notification.unknown_topic",
                            f"no notification topic {code!r} (known: {', '.join(TOPICS)})"
                            ) from None


def my_settings(session: Session, identity: Identity) -> dict[str, bool]:
    """Every topic with the signed-in user's choice (the default where they made none)."""
    chosen = dict(session.execute(text(
        "SELECT topic, email FROM core.notification_settings WHERE user_id = :u"),
        {"u": identity.user_id}).all())
    return {code: chosen.get(code, t.default) for code, t in TOPICS.items()}


def set_mine(session: Session, identity: Identity, topic: str, email: bool) -> None:
    """Record the signed-in user's choice for ``topic`` (row security: their own row only)."""
    _topic(topic)
    stmt = insert(NotificationSetting).values(user_id=identity.user_id, topic=topic,
                                              email=email)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["user_id", "topic"], set_={"email": stmt.excluded.email}))


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    email: str


def recipients(session: Session, customer_id: int, topic: str) -> list[Recipient]:
    """Who is told about ``customer_id`` on ``topic``: its active users and assigned vets with
    an address and the topic on, by username."""
    default = _topic(topic).default
    rows = session.execute(text(
        """
        SELECT u.id, u.username, u.email
          FROM core.users u
         WHERE u.active AND u.email IS NOT NULL
           AND (u.customer_id = :c
                OR (u.role = 'veterinarian' AND EXISTS (
                      SELECT 1 FROM core.user_customer_assignments a
                       WHERE a.user_id = u.id AND a.customer_id = :c)))
           AND coalesce((SELECT n.email FROM core.notification_settings n
                          WHERE n.user_id = u.id AND n.topic = :t), :d)
         ORDER BY u.username
        """), {"c": customer_id, "t": topic, "d": default}).all()
    return [Recipient(*r) for r in rows]


def dispatch(db: Database, identity: Identity, settings: Settings, *,
             progress: Callable[[str], None] = lambda _: None) -> int:
    """Email every unsent notice once; returns how many notices were sent (a notice nobody
    wants by email is marked sent to nobody)."""
    sent = 0
    while True:
        with db.session(identity, reason="notice emailed") as s:
            notice = s.execute(text(
                "SELECT n.id, n.customer_id, n.topic, n.subject, n.body, c.name "
                "FROM core.notices n JOIN core.customers c ON c.id = n.customer_id "
                "WHERE n.emailed_at IS NULL ORDER BY n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED"
            )).one_or_none()
            if notice is None:
                return sent
            to = recipients(s, notice.customer_id, notice.topic)
            for r in to:
                mail.send(settings, to=[r.email], subject=f"{notice.subject}: {notice.name}",
                          body=_email_body(settings, notice.body, notice.topic))
            s.execute(text("UPDATE core.notices SET emailed_at = clock_timestamp(), "
                           "emailed_to = :n WHERE id = :i"), {"n": len(to), "i": notice.id})
        sent += 1
        progress(f"notice {notice.id} ({notice.topic}, {notice.name}): {len(to)} email(s)")


def _email_body(settings: Settings, body: str, topic: str) -> str:
    label = TOPICS[topic].label
    return (f"{body}\n\nYour herd on the portal: {settings.public_base}{dashboards_prefix()}"
            f"?page=overview\n\nYou get this email because \"{label}\" is on for you; turn "
            f"it off on the portal's Reports page ({settings.public_base}{dashboards_prefix()}"
            "?page=reports).\n")


NOTICE_DAYS = 30
"""How long a notice stays on the customer's overview."""


def recent(session: Session, customer_id: int, *, days: int = NOTICE_DAYS) -> pd.DataFrame:
    """The customer's notices of the last ``days``, newest first (``created_at, topic,
    subject, body``); row security: only a customer the reader sees."""
    rows = session.execute(text(
        "SELECT created_at, topic, subject, body FROM core.notices "
        "WHERE customer_id = :c AND created_at >= :since ORDER BY created_at DESC, id DESC"),
        {"c": customer_id, "since": datetime.now(UTC) - timedelta(days=days)}).all()
    return pd.DataFrame(rows, columns=["created_at", "topic", "subject", "body"])
