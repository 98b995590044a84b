"""Which customer a portal page is about.

A customer user's pages are always about their own customer. A veterinarian or technician
sees the customers assigned to them and picks one (``?customer=<id>``); row security decides
which customers are visible, so an id that is not theirs is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.db.session import Identity
from reprotech_core.errors import NotFound


@dataclass(frozen=True)
class CustomerRef:
    id: int
    code: str
    name: str
    tier: str


def visible_farms(session: Session) -> list[CustomerRef]:
    """The farm customers this session's identity may see, by code (never the catalogue)."""
    rows = session.execute(text(
        "SELECT id, code, name, tier FROM core.customers WHERE kind = 'farm' ORDER BY code"))
    return [CustomerRef(r.id, r.code, r.name, r.tier) for r in rows]


def parse_id(value: str | int | None, what: str) -> int | None:
    """A record id from a URL parameter; anything that is not a positive integer is not found
    (so a forged URL gets the same answer as a foreign id)."""
    if value is None or value == "":
        return None
    text_value = str(value).strip()
    if not text_value.isdigit() or int(text_value) <= 0 or len(text_value) > 18:
        raise NotFound(f"{what} {text_value[:20]!r} is not a record id")
    return int(text_value)


def resolve_customer(session: Session, identity: Identity, requested: str | None = None
                     ) -> CustomerRef:
    """The customer a page shows: a customer user's own; for staff, the requested visible
    farm or else the first one. Raises ``NotFound`` when nothing (or not that) is visible."""
    farms = visible_farms(session)
    if identity.customer_id is not None:
        own = next((f for f in farms if f.id == identity.customer_id), None)
        if own is None:
            raise NotFound("your customer account is not active")
        return own
    wanted = parse_id(requested, "customer")
    if wanted is not None:
        match = next((f for f in farms if f.id == wanted), None)
        if match is None:
            raise NotFound(f"customer {wanted}")
        return match
    if not farms:
        raise NotFound("no customers are assigned to you")
    return farms[0]
