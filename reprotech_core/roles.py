"""The business roles and what they open.

The role codes and their permissions live in the database (seeded by the migrations, named by
the row-security policies); this module names them for Python and answers module access,
which combines the role with the customer's subscription tier.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    VETERINARIAN = "veterinarian"
    TECHNICIAN = "technician"
    RESEARCHER = "researcher"
    LAB_OPS = "lab_ops"
    CUSTOMER_ADMIN = "customer_admin"
    CUSTOMER_USER = "customer_user"

    @property
    def customer_scoped(self) -> bool:
        return self in (Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER)

    @property
    def may_run_sql(self) -> bool:
        """Roles that may get a notebook database login (customers never do)."""
        return not self.customer_scoped


def modules_for(session: Session) -> set[str]:
    """Modules the session's identity may open: its role's, cut to its customer's tier."""
    rows = session.execute(
        text(
            """
            SELECT rm.module
              FROM core.users u
              JOIN core.role_modules rm ON rm.role = u.role
              LEFT JOIN core.customers c ON c.id = u.customer_id
              LEFT JOIN core.subscription_tiers t ON t.code = c.tier
             WHERE u.id = core.actor_id()
               AND (u.customer_id IS NULL OR rm.module = ANY (t.modules))
            """
        )
    )
    return {r.module for r in rows}


def has_permission(session: Session, permission: str) -> bool:
    return bool(session.scalar(text("SELECT core.actor_has_permission(:p)"), {"p": permission}))
