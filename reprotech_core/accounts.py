"""Customers, herds, users, staff assignments and notebook logins: the administration the CLI
and hub use.

Writes go through row security like any other: an admin session may create a customer, a
customer admin may add users to their own organisation only, and the database refuses the rest.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.tenancy import Customer, Herd, SubscriptionTier, User, UserCustomerAssignment
from reprotech_core.db import logins
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.roles import Role
from reprotech_core.textfields import (
    CODE,
    CUSTOMER_CODE,
    FREE_TEXT,
    NAME,
    USERNAME,
    normalized,
    require,
)

_hasher = PasswordHasher()


@dataclass(frozen=True)
class NewUser:
    username: str
    display_name: str
    role: Role
    customer_code: str | None = None
    email: str | None = None
    password: str | None = None


def customer_by_code(session: Session, code: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.code == code))
    if customer is None:
        raise NotFound(f"no customer {code!r}")
    return customer


def create_customer(
    session: Session, *, code: str, name: str, tier: str = "professional", kind: str = "farm"
) -> Customer:
    require([(CUSTOMER_CODE, code, "code"), (NAME, name, "name")], record=f"customer {code!r}",
            required=("code", "name"))
    name = normalized(name)
    if session.get(SubscriptionTier, tier) is None:
        tiers = ", ".join(session.scalars(select(SubscriptionTier.code)))
        raise RuleViolation("customer.tier", f"unknown subscription tier {tier!r} (one of {tiers})")
    customer = Customer(code=code, name=name, tier=tier, kind=kind)
    session.add(customer)
    session.flush()
    return customer


def set_tier(session: Session, code: str, tier: str) -> Customer:
    customer = customer_by_code(session, code)
    if session.get(SubscriptionTier, tier) is None:
        raise RuleViolation("customer.tier", f"unknown subscription tier {tier!r}")
    customer.tier = tier
    session.flush()
    return customer


def create_herd(session: Session, *, customer: Customer, code: str, name: str) -> Herd:
    require([(CODE, code, "code"), (NAME, name, "name")], record=f"herd {code!r}",
            required=("code", "name"))
    name = normalized(name)
    herd = Herd(customer_id=customer.id, code=code, name=name)
    session.add(herd)
    session.flush()
    return herd


def create_user(session: Session, new: NewUser) -> User:
    require([(USERNAME, new.username, "username"), (NAME, new.display_name, "display_name"),
             (FREE_TEXT.longest(254), new.email, "email")], record=f"user {new.username!r}",
            required=("username", "display_name"))
    role = Role(new.role)
    customer_id = None
    if role.customer_scoped:
        if not new.customer_code:
            raise RuleViolation(
                "user.customer_required", f"user {new.username!r}: role {role} needs a customer"
            )
        customer_id = customer_by_code(session, new.customer_code).id
    elif new.customer_code:
        raise RuleViolation(
            "user.staff_has_no_customer",
            f"user {new.username!r}: staff role {role} belongs to no customer; "
            "assign customers with `reprotech user assign` instead",
        )
    user = User(
        username=new.username,
        display_name=normalized(new.display_name),
        email=new.email,
        role=role.value,
        customer_id=customer_id,
        password_hash=_hasher.hash(new.password) if new.password else None,
    )
    session.add(user)
    session.flush()
    return user


def user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def set_password(session: Session, username: str, password: str) -> None:
    if len(password) < 12:
        raise RuleViolation("user.password_length", "passwords need at least 12 characters")
    user_by_name(session, username).password_hash = hash_password(password)
    session.flush()


def hash_password(password: str) -> str:
    """The Argon2 hash stored for ``password`` (the hasher's parameters, a fresh salt)."""
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check a password against the stored Argon2 hash (constant-time in argon2).

    A user without a password costs one Argon2 verification too (:func:`spend_password_check`),
    so timing does not tell such accounts apart."""
    if not user.password_hash:
        return spend_password_check(password)
    try:
        return _hasher.verify(user.password_hash, password)
    except VerifyMismatchError:
        return False


def spend_password_check(password: str) -> bool:
    """Verify ``password`` against a hash nobody knows the password of; always ``False``.

    Sign-in calls this for unknown and deactivated usernames so that they take as long as a
    wrong password of a real account (same hasher, same Argon2 parameters): otherwise the
    response time tells which usernames exist.
    """
    try:
        _hasher.verify(_dummy_hash(), password)
    except VerifyMismatchError:
        pass
    return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))


def assign(session: Session, username: str, customer_code: str) -> None:
    """Assign a veterinarian or technician to a customer they then see."""
    user = user_by_name(session, username)
    if user.role not in (Role.VETERINARIAN, Role.TECHNICIAN):
        raise RuleViolation(
            "assignment.role",
            f"user {username!r} is {user.role}; only veterinarians and technicians are assigned",
        )
    customer = customer_by_code(session, customer_code)
    if session.get(UserCustomerAssignment, (user.id, customer.id)) is None:
        session.add(UserCustomerAssignment(user_id=user.id, customer_id=customer.id))
        session.flush()


def deactivate(session: Session, username: str) -> None:
    user_by_name(session, username).active = False
    session.flush()


def provision_db_login(db: Database, admin_url: str, actor: Identity, username: str
                       ) -> logins.DbLogin:
    """Create (or rotate the password of) ``username``'s notebook login.

    Staff only, and active: a customer works in the dashboards, never in SQL. The mapping
    (``users.db_login``) is recorded as ``actor`` first (audited), then the PostgreSQL role is
    made with the administrative login.
    """
    with db.session(actor) as session:
        user = user_by_name(session, username)
        role = Role(user.role)
        if not role.may_run_sql:
            raise PermissionDenied(
                f"user {username!r} is a {role}: customer users get dashboards, not SQL logins"
            )
        if not user.active:
            raise PermissionDenied(f"user {username!r} is deactivated")
        user.db_login = logins.login_name(username)
    return logins.create_or_rotate(admin_url, username, role)
