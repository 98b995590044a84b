"""Users of my farm (a customer admin): who has an account, inviting someone, deactivating
and reactivating. The rules are :mod:`reprotech_core.farm_users` and row security; this page
lays out the forms and says what happened."""

from __future__ import annotations

import pandas as pd
import panel as pn

from dashboards.actions import ActionPage
from dashboards.pages import PageContext
from dashboards.staff.common import note, table
from reprotech_core import farm_users as views
from reprotech_core.errors import ReprotechError

SLUG = "users"
ROLE_LABELS = {"customer_user": "Farm user (sees the herd)",
               "customer_admin": "Farm admin (also manages users)"}


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        views.require_manager(s)
    return UsersPage(ctx)


class UsersPage(ActionPage):

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        self.users = pd.DataFrame(columns=views.USER_COLUMNS)
        self.username = pn.widgets.TextInput(label="Username", placeholder="e.g. anna.meier",
                                             css_classes=["rt-invite-username"])
        self.display_name = pn.widgets.TextInput(label="Name", css_classes=["rt-invite-name"])
        self.email = pn.widgets.TextInput(label="Email address", css_classes=["rt-invite-email"])
        self.role = pn.widgets.Select(label="Role", options={v: k for k, v in
                                                             ROLE_LABELS.items()},
                                      css_classes=["rt-invite-role"])
        self.invite_button = pn.widgets.Button(label="Invite", color="primary",
                                               css_classes=["rt-invite"])
        self.invite_button.on_click(lambda _: self.invite())
        self.who = pn.widgets.Select(label="User", options=[], css_classes=["rt-user-choice"])
        self.deactivate_button = pn.widgets.Button(label="Deactivate",
                                                   css_classes=["rt-deactivate"])
        self.deactivate_button.on_click(lambda _: self.set_active(False))
        self.reactivate_button = pn.widgets.Button(label="Reactivate",
                                                   css_classes=["rt-reactivate"])
        self.reactivate_button.on_click(lambda _: self.set_active(True))
        self.listing = pn.Column(sizing_mode="stretch_width")
        self.inputs(self.username, self.display_name, self.email, self.role, self.who)
        self.reload()

    def reload(self) -> None:
        with self.ctx.session() as s:
            self.users = views.farm_users(s, self.ctx.identity.customer_id)
            active, limit = views.user_limit(s, self.ctx.identity.customer_id)
        choices = [u for u in self.users["username"] if u != self.ctx.identity.username]
        self.who.options = choices
        if self.who.value not in choices:
            self.who.value = choices[0] if choices else None
        shown = self.users.assign(active=self.users["active"].map({True: "yes", False: "no"}),
                                  role=self.users["role"].map(ROLE_LABELS))
        self.listing.objects = [
            pn.pane.Markdown(f"**{active} of {limit}** active users your subscription allows.",
                             css_classes=["rt-user-count"]),
            table(shown, name="farm-users", titles={"display_name": "name"})]

    def invite(self) -> None:
        if not self.ready():
            return
        try:
            done = views.invite(  # value_input: what is typed now, Enter pressed or not
                self.ctx.database, self.ctx.identity, self.ctx.settings,
                username=self.username.value_input, display_name=self.display_name.value_input,
                email=self.email.value_input, role=self.role.value)
        except ReprotechError as exc:
            self.say("danger", f"Not invited. {exc}")
            return
        for field in (self.username, self.display_name, self.email):
            field.value = field.value_input = ""
        self.reload()
        self.say("success", f"Invited {done.username}: a link to choose a password went to "
                            f"{done.email}." if done.link_sent else
                 f"Created {done.username}, but no link could be sent.")

    def set_active(self, active: bool) -> None:
        if not self.ready():
            return
        name = self.who.value
        if not name:
            self.say("warning", "Choose a user first.")
            return
        try:
            with self.ctx.database.session(self.ctx.identity,
                                           reason="user (de)activated by the farm's admin") as s:
                views.set_active(s, self.ctx.identity, name, active)
        except ReprotechError as exc:
            self.say("danger", f"Not changed. {exc}")
            return
        self.reload()
        self.say("success", f"{name} is {'active again' if active else 'deactivated'}.")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## Users of my farm"),
            note("Invite the people who work with your herd; each gets an email with a link to "
                 "choose their password. Deactivated users cannot sign in."),
            self.outcome, self.listing,
            pn.pane.Markdown("#### Invite someone"),
            pn.FlexBox(self.username, self.display_name, self.email, self.role,
                       self.invite_button, sizing_mode="stretch_width"),
            pn.pane.Markdown("#### Deactivate or reactivate"),
            pn.FlexBox(self.who, self.deactivate_button, self.reactivate_button,
                       sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
