"""Sign-in for the hub: the platform's local users (embedded default) and OIDC (production).

``ReprotechAuthenticator`` checks username, password and (staff with TOTP enrolled) a one-time
code against the platform users table through ``reprotech_core.signin``; ``oidc_groups``
documents how the production identity provider's groups map to the same hub groups. Either way
the user ends with the groups of ``hub.groups`` (role, customer) and, for admins, hub admin.
"""

from __future__ import annotations

import asyncio

from jupyterhub.auth import Authenticator
from tornado import web
from traitlets import Bool

from hub.groups import customer_group, role_group

ADMIN_ROLES = frozenset({"admin", "super_admin"})


class ReprotechAuthenticator(Authenticator):
    """Local sign-in against the platform users table (Argon2 passwords, TOTP for staff)."""

    request_otp = Bool(
        True,
        help="Show the one-time-code field (staff with TOTP enrolled must fill it).",
    ).tag(config=True)

    def _database(self):  # the process's Database, created on first sign-in
        from reprotech_core.db.session import get_database

        return get_database()

    async def authenticate(self, handler, data):  # noqa: ANN001, ANN201 (JupyterHub API)
        from reprotech_core import signin

        username = (data.get("username") or "").strip()
        password = data.get("password") or ""
        if not username or not password:
            return None
        try:
            # Argon2 and the database are blocking: keep the hub's event loop free.
            signed = await asyncio.to_thread(
                signin.check, self._database(), username, password, data.get("otp")
            )
        except signin.SignInRefused as exc:
            self.log.info("sign-in refused for %r: %s", username[:32], exc)
            raise web.HTTPError(403, str(exc)) from None
        groups = [role_group(signed.role.value)]
        if signed.customer_id is not None:
            groups.append(customer_group(signed.customer_id))
        return {
            "name": signed.username,
            "admin": signed.role.value in ADMIN_ROLES,
            "groups": groups,
            "auth_state": {"role": signed.role.value, "customer_id": signed.customer_id},
        }
