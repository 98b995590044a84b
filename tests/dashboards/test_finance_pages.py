"""The Invoices page (a farm's admin, the financial module) and the Finance page
(administrators) on PostgreSQL: a farm sees and downloads its own invoices only; a tier
without the financial module sees none; an administrator records a payment and credits an
invoice, and the farm then sees the credit note."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from dashboards.customer import invoices as invoices_page
from dashboards.pages import PageContext
from dashboards.staff import finance as finance_page
from data_models.tenancy import Customer
from reprotech_core import accounts, finance
from tests.dashboards.test_staff_pages import text_of


@pytest.fixture(scope="module")
def farms(db, system, pg_settings):
    """fp-a and fp-b (enterprise: financial module), fp-pro (professional), each invoiced for
    November 2026; their admins and an administrator."""
    numbers = {}
    with db.session(system) as s:
        for code, tier in (("fp-a", "enterprise"), ("fp-b", "enterprise"),
                           ("fp-pro", "professional")):
            c = accounts.create_customer(s, code=code, name=f"Farm {code}", tier=tier)
            accounts.create_user(s, accounts.NewUser(f"{code}-admin", "A", "customer_admin",
                                                     code))
            o = finance.place_order(s, c, finance.OrderEntry("genotyping", date(2026, 11, 3),
                                                             quantity=4))
            finance.complete_order(s, o.id, date(2026, 11, 4))
            [made] = finance.invoice_period(s, pg_settings, "2026-11", customer_id=c.id,
                                            issued_on=date(2026, 12, 1))
            numbers[code] = made.number
        accounts.create_user(s, accounts.NewUser("fp-staff", "Staff", "admin"))
    return numbers, {n: db.identity(n) for n in ("fp-a-admin", "fp-b-admin", "fp-pro-admin",
                                                 "fp-staff")}


def ctx(db, settings, identity) -> PageContext:
    return PageContext(database=db, identity=identity, settings=settings)


def test_a_farm_sees_and_downloads_its_own_invoices_only(db, system, farms, pg_settings):
    numbers, users = farms
    view = invoices_page.build(ctx(db, pg_settings, users["fp-a-admin"]))
    shown = text_of(view)
    assert numbers["fp-a"] in shown and numbers["fp-b"] not in shown
    [download] = view.select(lambda o: "rt-invoice-download" in getattr(o, "css_classes", []))
    assert download.filename == f"{numbers['fp-a']}.pdf"
    with db.session(system) as s:
        stored = s.scalar(text("SELECT pdf FROM core.invoices WHERE number = :n"),
                          {"n": numbers["fp-a"]})
    assert download.callback().getvalue() == bytes(stored)
    with db.session(users["fp-a-admin"]) as s:  # another farm's invoice by its id
        other = s.scalar(text("SELECT id FROM core.invoices WHERE number = :n"),
                         {"n": numbers["fp-b"]})
        assert other is None
    pro = text_of(invoices_page.build(ctx(db, pg_settings, users["fp-pro-admin"])))
    assert "No invoice has been issued" in pro  # no financial module: row security shows none


def test_an_administrator_records_a_payment_and_credits_an_invoice(db, system, farms,
                                                                   pg_settings):
    numbers, users = farms
    page = finance_page.build(ctx(db, pg_settings, users["fp-staff"]))
    assert numbers["fp-a"] in page.which.options.values()
    page.which.value, page.paid_on.value = numbers["fp-a"], date(2026, 12, 10)
    page.mark_paid()
    assert page.status == f"{numbers['fp-a']} paid on 2026-12-10.", page.status
    assert numbers["fp-a"] not in page.which.options.values()
    page.which.value = numbers["fp-b"]
    page.reason.value_input = ""
    page.credit()
    assert "invoice.reason" in page.status
    page.reason.value_input = "four samples were three"
    page.credit()
    assert page.status.startswith("Credit note RT-"), page.status
    farm_b = text_of(invoices_page.build(ctx(db, pg_settings, users["fp-b-admin"])))
    assert "credit note" in farm_b and numbers["fp-b"] in farm_b
    with db.session(system) as s:
        b = s.scalar(select(Customer.id).where(Customer.code == "fp-b"))
        assert s.scalar(text("SELECT count(*) FROM core.service_orders WHERE customer_id = :c "
                             "AND invoice_id IS NULL"), {"c": b}) == 1  # freed to correct
    with pytest.raises(Exception, match="the finance page is for administrators"):
        finance_page.build(ctx(db, pg_settings, users["fp-a-admin"]))
