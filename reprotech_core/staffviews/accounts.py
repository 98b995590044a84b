"""Customers and staff, administered from a page (``customers:manage``): creating a farm with
its first admin (invited by email), changing its subscription tier, assigning vets and
technicians to farms, and creating, deactivating and reactivating staff.

The rules are the database's and :mod:`reprotech_core.accounts`'; this module adds the ones a
person meets first, by name: a tier change the farm's animals or active users would exceed
(``tier.max_animals`` / ``tier.max_users``, checked before the change), an address already in
use (``user.email_in_use``), a staff role that is not a staff role (``user.role_not_allowed``),
``super_admin`` granted by anyone but a super admin (``user.role_not_allowed``), deactivating
oneself (``user.deactivate_self``). Every change is audited by the tables' triggers.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from data_models.tenancy import SubscriptionTier, User, UserCustomerAssignment
from reprotech_core import accounts
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.farm_users import Invitation, send_invitation
from reprotech_core.roles import Role, has_permission
from reprotech_core.settings import Settings
from reprotech_core.textfields import FREE_TEXT, require

STAFF_ROLES = tuple(r.value for r in Role if not r.customer_scoped)
ASSIGNABLE = (Role.VETERINARIAN.value, Role.TECHNICIAN.value)


def require_admin(session: Session) -> None:
    if not has_permission(session, "customers:manage"):
        raise PermissionDenied("administering customers and staff needs customers:manage")


def customers(session: Session) -> pd.DataFrame:
    """Every customer: code, name, kind, tier, active, active users (of the tier's limit),
    animals (of the limit), and the vets and technicians assigned."""
    require_admin(session)
    rows = session.execute(text(
        """
        SELECT c.code, c.name, c.kind, c.tier, c.active,
               (SELECT count(*) FROM core.users u WHERE u.customer_id = c.id AND u.active)
                 || ' / ' || t.max_users AS users,
               (SELECT count(*) FROM core.animals a WHERE a.customer_id = c.id)
                 || ' / ' || t.max_animals AS animals,
               coalesce((SELECT string_agg(u.username, ', ' ORDER BY u.username)
                           FROM core.user_customer_assignments x
                           JOIN core.users u ON u.id = x.user_id
                          WHERE x.customer_id = c.id), '') AS assigned
          FROM core.customers c JOIN core.subscription_tiers t ON t.code = c.tier
         ORDER BY c.kind DESC, c.code
        """)).all()
    return pd.DataFrame(rows, columns=["code", "name", "kind", "tier", "active", "users",
                                       "animals", "assigned"])


def tiers(session: Session) -> list[str]:
    return list(session.scalars(select(SubscriptionTier.code).where(
        SubscriptionTier.code != "reference").order_by(SubscriptionTier.max_animals)))


def staff(session: Session) -> pd.DataFrame:
    """Every staff user: username, name, email, role, active, TOTP enrolled, assigned farms."""
    require_admin(session)
    rows = session.execute(text(
        """
        SELECT u.username, u.display_name, coalesce(u.email, ''), u.role, u.active,
               u.totp_secret IS NOT NULL,
               coalesce((SELECT string_agg(c.code, ', ' ORDER BY c.code)
                           FROM core.user_customer_assignments x
                           JOIN core.customers c ON c.id = x.customer_id
                          WHERE x.user_id = u.id), '')
          FROM core.users u
         WHERE u.customer_id IS NULL AND u.username <> 'system'
         ORDER BY u.active DESC, u.role, u.username
        """)).all()
    return pd.DataFrame(rows, columns=["username", "name", "email", "role", "active", "totp",
                                       "assigned"])


def _address(session: Session, email: str, who: str) -> str:
    email = (email or "").strip()
    require([(FREE_TEXT.longest(254), email, "email")], record=who, required=("email",))
    if "@" not in email.strip("@"):
        raise RuleViolation("user.email_format", f"{email!r} is not an email address")
    if session.scalar(text("SELECT core.email_in_use(:e)"), {"e": email}):
        raise RuleViolation("user.email_in_use", f"{email} is already the address of an "
                            "account")
    return email


def new_customer(db: Database, identity: Identity, settings: Settings, *, code: str,
                 name: str, tier: str, admin_username: str, admin_name: str,
                 admin_email: str) -> Invitation:
    """A farm and its first customer admin, in one transaction (both or neither); the admin is
    emailed a link to choose a password."""
    code, admin_username = (code or "").strip(), (admin_username or "").strip()
    with db.session(identity, reason="customer created by an administrator") as s:
        require_admin(s)
        email = _address(s, admin_email, f"user {admin_username!r}")
        accounts.create_customer(s, code=code, name=name, tier=tier)
        accounts.create_user(s, accounts.NewUser(admin_username, admin_name,
                                                 Role.CUSTOMER_ADMIN, code, email=email))
    return send_invitation(db, settings, inviter=identity.username, username=admin_username,
                           display_name=admin_name, where=f"the herd portal of {name}")


def change_tier(session: Session, code: str, tier: str) -> None:
    """Move a farm to ``tier``; refused by name when its animals or active users would exceed
    the new tier's limits (nothing changed)."""
    require_admin(session)
    customer = accounts.customer_by_code(session, code)
    target = session.get(SubscriptionTier, tier)
    if target is None or tier == "reference":
        raise RuleViolation("customer.tier", f"unknown subscription tier {tier!r} (one of "
                            f"{', '.join(tiers(session))})")
    animals, users = session.execute(text(
        "SELECT (SELECT count(*) FROM core.animals WHERE customer_id = :c), "
        "(SELECT count(*) FROM core.users WHERE customer_id = :c AND active)"),
        {"c": customer.id}).one()
    for what, n, limit in (("animals", animals, target.max_animals),
                           ("users", users, target.max_users)):
        if n > limit:
            raise RuleViolation(f"tier.max_{what}", f"customer {code}: {n} {what} exceed the "
                                f"{target.name} tier's limit of {limit}")
    accounts.set_tier(session, code, tier)


def assign(session: Session, username: str, code: str, assigned: bool) -> None:
    """Assign a vet or technician to a farm (or end the assignment)."""
    require_admin(session)
    if assigned:
        accounts.assign(session, username, code)
        return
    user = accounts.user_by_name(session, username)
    customer = accounts.customer_by_code(session, code)
    link = session.get(UserCustomerAssignment, (user.id, customer.id))
    if link is None:
        raise NotFound(f"{username} is not assigned to {code}")
    session.delete(link)
    session.flush()


def new_staff(db: Database, identity: Identity, settings: Settings, *, username: str,
              display_name: str, email: str, role: str) -> Invitation:
    """A staff user, emailed a link to choose a password (TOTP is enrolled at first sign-in's
    request, `reprotech user totp`, as the hub requires of staff)."""
    username = (username or "").strip()
    if role not in STAFF_ROLES:
        raise RuleViolation("user.role_not_allowed", f"{role!r} is not a staff role (one of "
                            f"{', '.join(STAFF_ROLES)})")
    if role == Role.SUPER_ADMIN and identity.role != Role.SUPER_ADMIN:
        raise RuleViolation("user.role_not_allowed", "only a super admin makes a super admin")
    with db.session(identity, reason="staff user created by an administrator") as s:
        require_admin(s)
        address = _address(s, email, f"user {username!r}")
        accounts.create_user(s, accounts.NewUser(username, display_name, Role(role),
                                                 email=address))
    return send_invitation(db, settings, inviter=identity.username, username=username,
                           display_name=display_name, where="Reprotech Analytics")


def set_staff_active(session: Session, identity: Identity, username: str,
                     active: bool) -> None:
    require_admin(session)
    if username == identity.username and not active:
        raise RuleViolation("user.deactivate_self", "you cannot deactivate your own account")
    user = session.scalar(select(User).where(User.username == username,
                                             User.customer_id.is_(None)))
    if user is None or username == "system":
        raise NotFound(f"no staff user {username!r}")
    if user.role == Role.SUPER_ADMIN and identity.role != Role.SUPER_ADMIN:
        raise RuleViolation("user.role_not_allowed", "only a super admin changes a super admin")
    user.active = active
    session.flush()
