"""Which emails a user wants, and who gets one about a customer.

A topic has a default (:data:`TOPICS`); ``core.notification_settings`` keeps only a user's
choices, each their own to read and change (row security), and readable by whoever sends
(``notifications:send``: the jobs' system user, admins, lab ops). The people told about a
customer are the ones who see it: the farm's active users and the veterinarians assigned to
it, each with an email address and the topic not turned off.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from data_models.delivery import NOTIFICATION_TOPICS, NotificationSetting
from reprotech_core.db.session import Identity
from reprotech_core.errors import RuleViolation


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
