"""Tenant isolation of reproduction records, orders and invoices, as each kind of login.

Farm B's insemination is the target: no login that may not see farm B reads or changes it.
Orders and invoices are read only by those who may open the financial module."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from sqlalchemy import select, text

from data_models.finance import Invoice, ServiceOrder
from reprotech_core import accounts
from reprotech_core.errors import PermissionDenied
from reprotech_core.finance import OrderEntry, complete_order, invoice_period, place_order
from reprotech_core.reproduction import InseminationEntry, record_insemination

DAY = date(2022, 6, 1)


@pytest.fixture(scope="module")
def services(db, system, world):
    """One insemination on each world farm (WA-COW, WB-COW with the reference bull)."""
    with db.session(system) as s:
        for code, cow in (("w-a", "WA-COW"), ("w-b", "WB-COW")):
            record_insemination(s, accounts.customer_by_code(s, code),
                                InseminationEntry(cow, "W-BULL", DAY))
    return {"WA-COW", "WB-COW"}


COWS = ("SELECT a.official_id FROM core.inseminations i JOIN core.animals a ON a.id = i.cow_id")


def seen(session) -> set[str]:
    return set(session.scalars(text(COWS)))


def test_customer_sees_own_services_only(db, world, services):
    with db.session(world.users["w-a-user"]) as s:
        assert seen(s) == {"WA-COW"}
        view = set(s.scalars(text("SELECT customer_id FROM core.reproduction_services")))
    assert view == {world.farm_a}


def test_customer_narrowed_to_another_tenant_sees_nothing(db, world, services):
    with db.session(world.users["w-a-user"], tenant_id=world.farm_b) as s:
        assert seen(s) == set()


def test_vet_sees_and_writes_assigned_customers_only(db, world, services):
    with db.session(world.users["w-vet"]) as s:
        assert seen(s) == {"WA-COW"}
        assert s.execute(text("UPDATE core.inseminations SET technician = 'x' WHERE cow_id = :c"),
                         {"c": world.animals["WB-COW"]}).rowcount == 0
    with pytest.raises(PermissionDenied, match="row-level security"):
        with db.session(world.users["w-vet"]) as s:
            s.execute(text("INSERT INTO core.inseminations (customer_id, cow_id, bull_id, "
                           "service_date) VALUES (:c, :cow, :bull, '2022-07-01')"),
                      {"c": world.farm_b, "cow": world.animals["WB-COW"],
                       "bull": world.animals["W-BULL"]})


def test_customer_roles_write_their_own_farms_records_only(db, world, services):
    """Farmers record their own events (migration 0028); another farm stays out of reach."""
    with db.session(world.users["w-a-user"]) as s:
        assert s.execute(text("UPDATE core.inseminations SET technician = 'x' WHERE cow_id = :c"),
                         {"c": world.animals["WB-COW"]}).rowcount == 0
    with pytest.raises(PermissionDenied, match="row-level security"):
        with db.session(world.users["w-a-admin"]) as s:
            s.execute(text("INSERT INTO core.inseminations (customer_id, cow_id, bull_id, "
                           "service_date) VALUES (:c, :cow, :bull, '2022-07-01')"),
                      {"c": world.farm_b, "cow": world.animals["WB-COW"],
                       "bull": world.animals["W-BULL"]})
    class Undo(Exception):
        """Leaves the shared world as it was: the session rolls back."""

    with pytest.raises(Undo), db.session(world.users["w-a-admin"]) as s:
        assert record_insemination(s, accounts.customer_by_code(s, "w-a"),
                                   InseminationEntry("WA-COW", "W-BULL", date(2022, 7, 1)))
        raise Undo


@pytest.mark.parametrize("statement", ["SET app.tenant_id = '{farm_b}'",
                                       "SET app.user_id = '{admin_id}'"])
def test_notebook_settings_cannot_widen_reproduction_records(notebook, world, services,
                                                             statement):
    conn = notebook("w-vet")
    conn.execute(statement.format(farm_b=world.farm_b, admin_id=world.users["w-admin"].user_id))
    assert {r[0] for r in conn.execute(COWS)} == {"WA-COW"}
    assert conn.execute("SELECT count(*) FROM core.reproduction_services WHERE customer_id = %s",
                        (world.farm_b,)).fetchone()[0] == 0


def test_notebook_cannot_write_another_customers_records(notebook, world, services):
    conn = notebook("w-vet", autocommit=False)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO core.pregnancy_diagnoses (customer_id, cow_id, diagnosis_date, "
                     "method, result) VALUES (%s, %s, '2022-07-10', 'ultrasound', 'open')",
                     (world.farm_b, world.animals["WB-COW"]))
    conn.rollback()


# -- orders and invoices ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def finance_world(db, system, world, pg_settings):
    """Two enterprise farms with orders, one professional farm, and their users."""
    with db.session(system) as s:
        farms = {}
        for code, tier in (("fin-a", "enterprise"), ("fin-b", "enterprise"),
                           ("fin-p", "professional")):
            c = accounts.create_customer(s, code=code, name=code, tier=tier)
            farms[code] = c.id
            o = place_order(s, c, OrderEntry("genotyping", date(2026, 9, 3), quantity=3,
                                             reference=f"{code}-g1"))
            complete_order(s, o.id, date(2026, 9, 20))
            place_order(s, c, OrderEntry("embryo_flush", date(2026, 9, 25),
                                         reference=f"{code}-f1"))
        for name, role, cust in (("fin-a-admin", "customer_admin", "fin-a"),
                                 ("fin-a-user", "customer_user", "fin-a"),
                                 ("fin-p-admin", "customer_admin", "fin-p"),
                                 ("fin-vet", "veterinarian", None)):
            accounts.create_user(s, accounts.NewUser(name, name, role, cust))
        accounts.assign(s, "fin-vet", "fin-a")
        invoice_period(s, pg_settings, "2026-09", customer_id=farms["fin-a"],
                       issued_on=date(2026, 10, 1))
    return farms, {n: db.identity(n) for n in ("fin-a-admin", "fin-a-user", "fin-p-admin",
                                               "fin-vet")}


def orders_seen(db, identity) -> set[str]:
    with db.session(identity) as s:
        return set(s.scalars(select(ServiceOrder.reference)))


def test_customer_admin_sees_own_orders_and_invoices_only(db, finance_world):
    farms, users = finance_world
    assert orders_seen(db, users["fin-a-admin"]) == {"fin-a-g1", "fin-a-f1"}
    with db.session(users["fin-a-admin"]) as s:
        [number] = s.scalars(select(Invoice.number)).all()
        assert number.startswith("RT-2026-")
        assert set(s.scalars(select(ServiceOrder.customer_id))) == {farms["fin-a"]}


@pytest.mark.parametrize("who", ["fin-a-user", "fin-vet", "fin-p-admin"])
def test_no_financial_module_no_orders(db, finance_world, who):
    # A customer user's role, a vet's role, a professional tier: none opens "financial".
    farms, users = finance_world
    assert orders_seen(db, users[who]) == set()
    with db.session(users[who]) as s:
        assert s.scalar(text("SELECT count(*) FROM core.invoices")) == 0
        assert s.scalar(text("SELECT count(*) FROM core.service_prices")) >= 5  # public list


def test_staff_see_all_orders_and_customers_cannot_write_them(db, world, finance_world):
    farms, users = finance_world
    assert {"fin-a-g1", "fin-b-g1", "fin-p-g1"} <= orders_seen(db, world.users["w-admin"])
    with db.session(users["fin-a-admin"]) as s:
        assert s.execute(text("UPDATE core.service_orders SET unit_price = 0 "
                              "WHERE reference = 'fin-a-g1'")).rowcount == 0
    with pytest.raises(PermissionDenied):
        with db.session(users["fin-a-admin"]) as s:
            s.execute(text("INSERT INTO core.service_orders (customer_id, service, unit_price, "
                           "currency, ordered_on) VALUES (:c, 'genotyping', 0, 'EUR', "
                           "'2026-09-01')"), {"c": farms["fin-a"]})
