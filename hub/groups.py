"""Hub group names that carry the platform role and customer of a user.

Both sign-ins (local and OIDC) give the user groups ``reprotech-role-<role>`` and, for
customer users, ``reprotech-customer-<customer id>`` (``Authenticator.manage_groups``); the
spawner and hub services read role and customer from them, never from the request.
"""

from __future__ import annotations

from collections.abc import Iterable

ROLE_PREFIX = "reprotech-role-"
CUSTOMER_PREFIX = "reprotech-customer-"


def role_group(role: str) -> str:
    return ROLE_PREFIX + role


def customer_group(customer_id: int) -> str:
    return f"{CUSTOMER_PREFIX}{customer_id}"


def role_of(groups: Iterable[str]) -> str | None:
    """The platform role named by the groups; ``None`` when there is none or more than one."""
    roles = {g[len(ROLE_PREFIX):] for g in groups if g.startswith(ROLE_PREFIX)}
    return roles.pop() if len(roles) == 1 else None
