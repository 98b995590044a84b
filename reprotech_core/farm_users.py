"""A customer admin's own farm's users: who they are, inviting a new one, deactivating and
reactivating — self-service that needs no operator at a shell.

Row security decides whose users these are (policy ``org_manage`` on ``core.users``: a holder
of ``users:manage`` reads and writes their own organisation's users, and only with a customer
role); the tier's ``max_users`` counts active users (trigger ``core.enforce_tier_limits``,
rule ``tier.max_users``). This module adds the rules a person meets before the database's:

- a customer admin grants customer roles only (``user.role_not_allowed``): a staff role is
  refused by name before any write (the database would refuse it too);
- one email address, one account, across every farm and the staff (``user.email_in_use``,
  asked through ``core.email_in_use``: a customer admin sees no other farm's users);
- nobody deactivates themselves (``user.deactivate_self``): a farm is never left without the
  admin who could undo it.

An invitation creates the user without a password and emails a single-use link (valid
``invitation_hours``) to choose one — the same link mechanism as a password reset
(:mod:`reprotech_core.passwords`). Every change is audited by the users table's trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from data_models.tenancy import Customer, User
from reprotech_core import accounts, mail, passwords
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.roles import Role, has_permission
from reprotech_core.settings import Settings
from reprotech_core.textfields import FREE_TEXT, require

CUSTOMER_ROLES = (Role.CUSTOMER_USER.value, Role.CUSTOMER_ADMIN.value)
USER_COLUMNS = ["username", "display_name", "email", "role", "active"]


def require_manager(session: Session) -> None:
    if not has_permission(session, "users:manage"):
        raise PermissionDenied("managing a farm's users needs the users:manage permission")


def farm_users(session: Session, customer_id: int) -> pd.DataFrame:
    """The customer's users (``USER_COLUMNS``), active first, by username."""
    require_manager(session)
    rows = session.execute(select(User.username, User.display_name, User.email, User.role,
                                  User.active).where(User.customer_id == customer_id)
                           .order_by(User.active.desc(), User.username)).all()
    return pd.DataFrame(rows, columns=USER_COLUMNS)


def user_limit(session: Session, customer_id: int) -> tuple[int, int]:
    """(active users, the tier's ``max_users``) of the customer."""
    return tuple(session.execute(text(
        "SELECT (SELECT count(*) FROM core.users WHERE customer_id = c.id AND active), "
        "t.max_users FROM core.customers c JOIN core.subscription_tiers t ON t.code = c.tier "
        "WHERE c.id = :c"), {"c": customer_id}).one())


@dataclass(frozen=True)
class Invitation:
    username: str
    email: str
    link_sent: bool


def invite(db: Database, identity: Identity, settings: Settings, *, username: str,
           display_name: str, email: str, role: str) -> Invitation:
    """Create a user of the inviting admin's own farm and email them a link to choose their
    password. Refusals are named rules; nothing is written when one is refused."""
    if identity.customer_id is None:
        raise PermissionDenied("inviting to a farm is for the farm's customer admin")
    if role not in CUSTOMER_ROLES:
        raise RuleViolation("user.role_not_allowed",
                            f"a customer admin grants {' or '.join(CUSTOMER_ROLES)} only, "
                            f"not {role!r}")
    email = (email or "").strip()
    require([(FREE_TEXT.longest(254), email, "email")], record=f"user {username!r}",
            required=("email",))
    if "@" not in email.strip("@"):
        raise RuleViolation("user.email_format", f"{email!r} is not an email address")
    with db.session(identity, reason="user invited by the farm's admin") as session:
        require_manager(session)
        if session.scalar(text("SELECT core.email_in_use(:e)"), {"e": email}):
            raise RuleViolation("user.email_in_use",
                                f"{email} is already the address of an account")
        code = session.scalar(select(Customer.code).where(Customer.id == identity.customer_id))
        accounts.create_user(session, accounts.NewUser(username.strip(), display_name,
                                                       Role(role), code, email=email))
    return send_invitation(db, settings, inviter=identity.username,
                           username=username.strip(), display_name=display_name,
                           where="your farm's herd portal")


def send_invitation(db: Database, settings: Settings, *, inviter: str, username: str,
                    display_name: str, where: str) -> Invitation:
    """Email a new user (created without a password) a single-use link, valid
    ``invitation_hours``, to choose their password."""
    issued = passwords.issue_link(db, settings, username,
                                  minutes=60 * settings.invitation_hours)
    if issued is None:  # created and committed by the caller: only a concurrent deactivation
        return Invitation(username, "", False)
    name, address, link = issued
    mail.send(settings, to=[address], subject="[Reprotech] Your account on Reprotech Analytics",
              body=(f"Hello {display_name},\n\n{inviter} invited you to {where} on Reprotech "
                    f"Analytics as {name!r}.\n"
                    f"Choose your password here within {settings.invitation_hours} hours:\n\n"
                    f"  {link}\n\nThe link works once. Then sign in at "
                    f"{settings.public_base}/hub/login\n"))
    return Invitation(name, address, True)


def set_active(session: Session, identity: Identity, username: str, active: bool) -> None:
    """Deactivate (or reactivate) a user of the admin's farm; a reactivation counts against
    the tier's ``max_users`` like a new user."""
    require_manager(session)
    if username == identity.username and not active:
        raise RuleViolation("user.deactivate_self", "you cannot deactivate your own account")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    user.active = active
    session.flush()
