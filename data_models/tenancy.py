"""Customers (tenants), their subscription tiers and herds; users, roles and permissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk

CUSTOMER_ROLES = ("customer_admin", "customer_user")


class Role(Base):
    """A business role. Seeded by the migrations; the policies name these codes."""

    __tablename__ = "roles"
    __table_args__ = {"schema": CORE}
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    customer_scoped: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Module(Base):
    """A product module (genomics, breeding, reproduction, financial, research, lab)."""

    __tablename__ = "modules"
    __table_args__ = {"schema": CORE}
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)


class RolePermission(Base):
    """What a role may do (``animals:write``, ``results:release`` …), checked by the policies."""

    __tablename__ = "role_permissions"
    __table_args__ = {"schema": CORE}
    role: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.roles.code"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)


class RoleModule(Base):
    """Modules a role may open (intersected with the customer's tier for customer users)."""

    __tablename__ = "role_modules"
    __table_args__ = {"schema": CORE}
    role: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.roles.code"), primary_key=True)
    module: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.modules.code"), primary_key=True)


class SubscriptionTier(Base):
    __tablename__ = "subscription_tiers"
    __table_args__ = (
        CheckConstraint("max_animals > 0", name="max_animals_positive"),
        CheckConstraint("max_users > 0", name="max_users_positive"),
        {"schema": CORE},
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    max_animals: Mapped[int] = mapped_column(Integer, nullable=False)
    max_users: Mapped[int] = mapped_column(Integer, nullable=False)
    modules: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)


class Customer(Base):
    """A tenant. ``kind='reference'`` is the shared AI-sire catalogue every tenant may read."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("kind IN ('farm', 'reference')", name="kind"),
        CheckConstraint("code ~ '^[A-Za-z0-9_-]{2,32}$'", name="code_format"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, server_default="farm")
    tier: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.subscription_tiers.code"), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()


class Herd(Base):
    __tablename__ = "herds"
    __table_args__ = (
        UniqueConstraint("customer_id", "code"),
        # Target of composite foreign keys that keep an animal in its own customer's herd.
        UniqueConstraint("id", "customer_id"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    location: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class User(Base):
    """A platform user. Customer roles belong to exactly one customer; staff roles to none.

    ``db_login`` is the PostgreSQL login of the user's notebook server, if any: row security
    maps that login back to this user, so what a notebook sees follows this row's role.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            f"(role IN {CUSTOMER_ROLES!r}) = (customer_id IS NOT NULL)".replace('"', "'"),
            name="customer_role_has_customer",
        ),
        CheckConstraint("username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'", name="username_format"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(ForeignKey(f"{CORE}.roles.code"), nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.customers.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    password_hash: Mapped[str | None] = mapped_column(Text)
    totp_secret: Mapped[str | None] = mapped_column(Text)
    # RFC 6238 step of the last accepted code: a code is accepted once (migration 0014).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    db_login: Mapped[str | None] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = created_at()


class UserCustomerAssignment(Base):
    """Veterinarians and technicians see the customers they are assigned to."""

    __tablename__ = "user_customer_assignments"
    __table_args__ = {"schema": CORE}
    user_id: Mapped[int] = mapped_column(ForeignKey(f"{CORE}.users.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = created_at()


class PseudonymKey(Base):
    """The secret key of research pseudonyms (one row; readable by the view owner only)."""

    __tablename__ = "pseudonym_key"
    __table_args__ = (CheckConstraint("id", name="pseudonym_key_id_check"), {"schema": CORE})
    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    key: Mapped[str] = mapped_column(Text, nullable=False)
