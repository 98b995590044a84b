"""The hub's password pages (local sign-in only; with OIDC the identity provider owns
passwords): change your own password while signed in, and reset a forgotten one through an
emailed link. The rules and the database steps are in :mod:`reprotech_core.passwords`; these
handlers only read the forms and show the outcome.

``/hub/password``              signed in: current password, new password twice
``/hub/password-reset``        a username or email address → an emailed single-use link
``/hub/password-reset/<token>`` the link: new password twice (spends the link)
``/hub/totp``                  signed in: enrol (or remove) one's own second factor

The forms post with JupyterHub's XSRF token; Argon2 and the database run in a thread, so the
hub's event loop stays free. Refusals name the rule's sentence and change nothing.
"""

from __future__ import annotations

import asyncio

from jupyterhub.handlers import BaseHandler
from tornado import web

from reprotech_core.errors import RuleViolation

TEMPLATE = "reprotech_password.html"


def _database():  # noqa: ANN202 - the process's Database, created on first use
    from reprotech_core.db.session import get_database

    return get_database()


def _settings():  # noqa: ANN202
    from reprotech_core.settings import get_settings

    return get_settings()


class _PasswordPage(BaseHandler):
    async def show(self, *, title: str, intro: str = "", fields: tuple[tuple[str, str], ...]
                   = (), error: str = "", done: str = "", action: str = "",
                   status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")  # a reset link's page is nobody's cache
        self.set_header("Referrer-Policy", "no-referrer")  # the token stays out of Referer
        self.finish(await self.render_template(
            TEMPLATE, title=title, intro=intro, fields=fields, error=error, done=done,
            action=action or self.request.path))


NEW_FIELDS = (("new", "New password (12 characters or more)"), ("again", "New password again"))


class ChangePasswordHandler(_PasswordPage):
    """A signed-in user changes their own password."""

    @web.authenticated
    async def get(self) -> None:
        await self.show(title="Change your password",
                        fields=(("current", "Current password"), *NEW_FIELDS))

    @web.authenticated
    async def post(self) -> None:
        from reprotech_core import passwords

        form = {k: self.get_body_argument(k, "") for k in ("current", "new", "again")}
        db, name = _database(), self.current_user.name

        def change() -> None:
            with db.session(db.identity(name)) as session:
                passwords.change_own_password(session, form["current"], form["new"],
                                              form["again"])

        try:
            await asyncio.to_thread(change)
        except RuleViolation as exc:
            self.log.info("password change refused for %s: %s", name, exc.rule)
            await self.show(title="Change your password", error=exc.message, status=400,
                            fields=(("current", "Current password"), *NEW_FIELDS))
            return
        self.log.info("password changed by %s", name)
        await self.show(title="Change your password",
                        done="Your password is changed. Use it the next time you sign in.")


class ResetRequestHandler(_PasswordPage):
    """Ask for a reset link; the answer is the same whether the account exists or not."""

    async def get(self) -> None:
        await self.show(title="Forgot your password?",
                        intro="Give your username or email address; we email you a link to "
                              "choose a new password.",
                        fields=(("login", "Username or email address"),))

    async def post(self) -> None:
        from reprotech_core import passwords

        login = self.get_body_argument("login", "")
        outcome = await asyncio.to_thread(passwords.request_reset, _database(), _settings(),
                                          login)
        if outcome.sent_to:
            self.log.info("password-reset link emailed for a reset request")
        await self.show(title="Forgot your password?", done=outcome.answer)


class ResetHandler(_PasswordPage):
    """The emailed link: choose the new password (the link is spent by the POST only, so a
    mail scanner opening it spends nothing)."""

    async def get(self, token: str) -> None:
        await self.show(title="Choose a new password", fields=NEW_FIELDS)

    async def post(self, token: str) -> None:
        from reprotech_core import passwords

        new, again = self.get_body_argument("new", ""), self.get_body_argument("again", "")
        try:
            who = await asyncio.to_thread(passwords.spend_reset, _database(), token, new, again)
        except RuleViolation as exc:
            self.log.info("password reset refused: %s", exc.rule)
            retry = () if exc.rule.startswith("password_reset.") else NEW_FIELDS
            await self.show(title="Choose a new password", error=exc.message, fields=retry,
                            status=400)
            return
        self.log.info("password reset through an emailed link for %s", who)
        await self.show(title="Choose a new password",
                        done=f"The password of {who} is changed. Sign in with it now.")


class TotpHandler(BaseHandler):
    """A signed-in user's own second factor (:mod:`reprotech_core.second_factor`)."""

    async def _show(self, *, error: str = "", done: str = "", status: int = 200) -> None:
        import base64

        from reprotech_core import second_factor

        db, name = _database(), self.current_user.name

        def state() -> tuple[bool, bool]:
            with db.session(db.identity(name)) as session:
                staff = db.identity(name).customer_id is None
                return second_factor.enrolled(session), staff

        enrolled, staff = await asyncio.to_thread(state)
        new = None if enrolled else second_factor.start(name)
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")  # the page holds a fresh secret
        self.finish(await self.render_template(
            "reprotech_totp.html", error=error, done=done, enrolled=enrolled,
            may_remove=not (staff and _settings().hub_staff_totp_required),
            secret=new.secret if new else "", action=self.request.path,
            qr=base64.b64encode(new.qr_svg.encode()).decode() if new else ""))

    @web.authenticated
    async def get(self) -> None:
        await self._show()

    @web.authenticated
    async def post(self) -> None:
        from reprotech_core import second_factor

        form = {k: self.get_body_argument(k, "") for k in ("do", "password", "code", "secret")}
        db, name = _database(), self.current_user.name

        def act() -> None:
            with db.session(db.identity(name)) as session:
                if form["do"] == "remove":
                    second_factor.remove(session, form["password"], form["code"],
                                         staff_required=_settings().hub_staff_totp_required)
                else:
                    second_factor.enrol(session, form["password"], form["secret"],
                                        form["code"])

        try:
            await asyncio.to_thread(act)
        except RuleViolation as exc:
            self.log.info("second factor change refused for %s: %s", name, exc.rule)
            await self._show(error=exc.message, status=400)
            return
        self.log.info("second factor %s by %s", "removed" if form["do"] == "remove"
                      else "enrolled", name)
        await self._show(done="Removed: signing in asks for your password only."
                         if form["do"] == "remove" else
                         "Enrolled: from now on, signing in asks for the code too.")


def handlers() -> list[tuple[str, type]]:
    """Routes (under the hub's prefix) for the authenticator's ``get_handlers``."""
    return [(r"/password", ChangePasswordHandler),
            (r"/password-reset", ResetRequestHandler),
            (r"/password-reset/([A-Za-z0-9_\-]{20,100})", ResetHandler),
            (r"/totp", TotpHandler)]
