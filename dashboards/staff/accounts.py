"""Customers and staff (administrators): every farm with its tier, users and animals against
the tier's limits and its assigned vets; a new farm with its first admin (invited by email);
a tier change; assigning vets and technicians; staff users created (invited), deactivated and
reactivated. The rules are :mod:`reprotech_core.staffviews.accounts`."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from dashboards.actions import ActionPage
from dashboards.pages import PageContext
from dashboards.staff.common import heading, note, table
from reprotech_core.errors import ReprotechError
from reprotech_core.staffviews import accounts as views

SLUG = "accounts"


def build(ctx: PageContext) -> pn.viewable.Viewable:
    with ctx.session() as s:
        views.require_admin(s)
    return AccountsPage(ctx)


def _text(label: str, css: str) -> pn.widgets.TextInput:
    return pn.widgets.TextInput(label=label, css_classes=[css])


def _button(label: str, css: str, action: Callable[[], None], primary: bool = False
            ) -> pn.widgets.Button:
    button = pn.widgets.Button(label=label, css_classes=[css],
                               color="primary" if primary else "default")
    button.on_click(lambda _: action())
    return button


class AccountsPage(ActionPage):

    def __init__(self, ctx: PageContext, **params) -> None:
        super().__init__(**params)
        self.ctx = ctx
        self.code, self.farm_name = _text("Code", "rt-new-code"), _text("Name", "rt-new-name")
        self.tier = pn.widgets.Select(label="Tier", options=[], css_classes=["rt-new-tier"])
        self.admin_username = _text("Admin's username", "rt-new-admin")
        self.admin_name = _text("Admin's name", "rt-new-admin-name")
        self.admin_email = _text("Admin's email", "rt-new-admin-email")
        self.farm = pn.widgets.Select(label="Farm", options=[], css_classes=["rt-farm"])
        self.new_tier = pn.widgets.Select(label="New tier", options=[],
                                          css_classes=["rt-change-tier"])
        self.field = pn.widgets.Select(label="Vet or technician", options=[],
                                       css_classes=["rt-field-staff"])
        self.staff_username = _text("Username", "rt-staff-username")
        self.staff_name = _text("Name", "rt-staff-name")
        self.staff_email = _text("Email", "rt-staff-email")
        self.staff_role = pn.widgets.Select(label="Role", options=list(views.STAFF_ROLES),
                                            value="veterinarian", css_classes=["rt-staff-role"])
        self.who = pn.widgets.Select(label="Staff user", options=[], css_classes=["rt-staff"])
        self.customers_box = pn.Column(sizing_mode="stretch_width")
        self.staff_box = pn.Column(sizing_mode="stretch_width")
        self.buttons = {
            "create": _button("Create the farm and invite its admin", "rt-create-customer",
                              self.create_customer, primary=True),
            "tier": _button("Change the tier", "rt-set-tier", self.change_tier),
            "assign": _button("Assign", "rt-assign", lambda: self.assign(True)),
            "unassign": _button("End the assignment", "rt-unassign", lambda: self.assign(False)),
            "staff": _button("Create and invite", "rt-create-staff", self.create_staff,
                             primary=True),
            "off": _button("Deactivate", "rt-staff-off", lambda: self.set_active(False)),
            "on": _button("Reactivate", "rt-staff-on", lambda: self.set_active(True)),
        }
        self.inputs(self.code, self.farm_name, self.tier, self.admin_username,
                    self.admin_name, self.admin_email, self.farm, self.new_tier, self.field,
                    self.staff_username, self.staff_name, self.staff_email, self.staff_role,
                    self.who)
        self.reload()

    def reload(self) -> None:
        with self.ctx.session() as s:
            farms, people, tiers = views.customers(s), views.staff(s), views.tiers(s)
        self.tier.options = self.new_tier.options = tiers
        self.tier.value = self.tier.value if self.tier.value in tiers else tiers[0]
        self.farm.options = list(farms.loc[farms["kind"] == "farm", "code"])
        self.field.options = list(people.loc[people["role"].isin(views.ASSIGNABLE)
                                             & people["active"], "username"])
        self.who.options = [u for u in people["username"] if u != self.ctx.identity.username]
        self.customers_box.objects = [table(farms, name="customers", page_size=12)]
        self.staff_box.objects = [table(people.assign(
            active=people["active"].map({True: "yes", False: "no"}),
            totp=people["totp"].map({True: "enrolled", False: "not yet"})), name="staff",
            page_size=12)]

    def _do(self, what: str, action: Callable[[], str]) -> None:
        if not self.ready():
            return
        try:
            message = action()
        except ReprotechError as exc:
            self.say("danger", f"{what}: not done. {exc}")
            return
        self.reload()
        self.say("success", message)

    def create_customer(self) -> None:
        def act() -> str:
            done = views.new_customer(
                self.ctx.database, self.ctx.identity, self.ctx.settings,
                code=self.code.value_input, name=self.farm_name.value_input, tier=self.tier.value,
                admin_username=self.admin_username.value_input,
                admin_name=self.admin_name.value_input,
                admin_email=self.admin_email.value_input)
            for w in (self.code, self.farm_name, self.admin_username, self.admin_name,
                      self.admin_email):
                w.value = w.value_input = ""
            return (f"Farm created; {done.username} was invited ({done.email})."
                    if done.link_sent else "Farm created, but no invitation could be sent.")
        self._do("New farm", act)

    def _session(self, reason: str):  # noqa: ANN202 (a context manager)
        return self.ctx.database.session(self.ctx.identity, reason=reason)

    def change_tier(self) -> None:
        def act() -> str:
            with self._session("tier changed by an administrator") as s:
                views.change_tier(s, self.farm.value or "", self.new_tier.value or "")
            return f"{self.farm.value} is on the {self.new_tier.value} tier now."
        self._do("Tier", act)

    def assign(self, on: bool) -> None:
        def act() -> str:
            with self._session("assignment changed by an administrator") as s:
                views.assign(s, self.field.value or "", self.farm.value or "", on)
            return (f"{self.field.value} {'is assigned to' if on else 'no longer sees'} "
                    f"{self.farm.value}.")
        self._do("Assignment", act)

    def create_staff(self) -> None:
        def act() -> str:
            done = views.new_staff(self.ctx.database, self.ctx.identity, self.ctx.settings,
                                   username=self.staff_username.value_input,
                                   display_name=self.staff_name.value_input,
                                   email=self.staff_email.value_input,
                                   role=self.staff_role.value)
            for w in (self.staff_username, self.staff_name, self.staff_email):
                w.value = w.value_input = ""
            return f"{done.username} ({self.staff_role.value}) was invited ({done.email})."
        self._do("New staff user", act)

    def set_active(self, active: bool) -> None:
        def act() -> str:
            with self._session("staff user (de)activated by an administrator") as s:
                views.set_staff_active(s, self.ctx.identity, self.who.value or "", active)
            return f"{self.who.value} is {'active again' if active else 'deactivated'}."
        self._do("Staff user", act)

    def __panel__(self) -> pn.viewable.Viewable:
        b = self.buttons
        row = lambda *w: pn.FlexBox(*w, sizing_mode="stretch_width")  # noqa: E731
        return pn.Column(
            pn.pane.Markdown("## Customers and staff"),
            note("Each change is audited. A new farm's admin and a new staff user get an email "
                 "with a link to choose their password; staff enrol TOTP at first sign-in."),
            self.outcome,
            heading("Customers"), self.customers_box,
            pn.pane.Markdown("#### A new farm"),
            row(self.code, self.farm_name, self.tier, self.admin_username, self.admin_name,
                self.admin_email, b["create"]),
            pn.pane.Markdown("#### A farm's tier and its vets"),
            row(self.farm, self.new_tier, b["tier"], self.field, b["assign"], b["unassign"]),
            heading("Staff"), self.staff_box,
            row(self.staff_username, self.staff_name, self.staff_email, self.staff_role,
                b["staff"]),
            row(self.who, b["off"], b["on"]),
            sizing_mode="stretch_width")
