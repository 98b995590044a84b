"""Orders priced from the price list, completed, invoiced per period: a month invoiced
already is skipped when invoicing everyone and refused by name for one customer."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from data_models.finance import ServiceOrder, ServicePrice
from reprotech_core.errors import RuleViolation
from reprotech_core.finance import (
    OrderEntry,
    complete_order,
    invoice_period,
    period_bounds,
    place_order,
)
from tests.reproduction.conftest import make_farm


def test_orders_are_priced_completed_and_invoiced_once(db, system, customer_of, reference_bull,
                                                      pg_settings):
    farm = make_farm(db, system, reference_bull, tier="enterprise")
    with db.session(system) as s:
        cust = customer_of(s, farm)
        s.add(ServicePrice(service="embryo_transfer", description="new price",
                           unit_price=Decimal("110.00"), currency="EUR",
                           valid_from=date(2026, 8, 1)))
        s.flush()
        old = place_order(s, cust, OrderEntry("embryo_transfer", date(2026, 7, 30), farm.cow(1),
                                              reference=f"{farm.code}-et1"))
        new = place_order(s, cust, OrderEntry("embryo_transfer", date(2026, 8, 2), farm.cow(2),
                                              quantity=2, reference=f"{farm.code}-et2"))
        again = place_order(s, cust, OrderEntry("embryo_transfer", date(2026, 8, 2),
                                                reference=f"{farm.code}-et2"))
        assert again.id == new.id
        assert (old.unit_price, new.unit_price) == (Decimal("95.00"), Decimal("110.00"))
        late = place_order(s, cust, OrderEntry("genotyping", date(2026, 8, 20), farm.cow(3),
                                               reference=f"{farm.code}-g"))
        for o, day in ((old, date(2026, 8, 5)), (new, date(2026, 8, 9))):
            complete_order(s, o.id, day)
        first = invoice_period(s, pg_settings, "2026-08", customer_id=farm.id,
                               issued_on=date(2026, 9, 1))
        assert [(i.orders, i.net, i.vat, i.total, i.created) for i in first] == [
            (2, Decimal("315.00"), Decimal("59.85"), Decimal("374.85"), True)]  # VAT 19 %
        assert re.fullmatch(r"RT-2026-\d{6}", first[0].number)
        with pytest.raises(RuleViolation) as again_refused:
            invoice_period(s, pg_settings, "2026-08", customer_id=farm.id)
        assert again_refused.value.rule == "invoice.period_invoiced"
        everyone = invoice_period(s, pg_settings, "2026-08")  # a retried job: nothing new
        assert [(i.number, i.created) for i in everyone if i.customer == farm.code] == [
            (first[0].number, False)]
        # Done late (after August was invoiced): it goes on September's invoice.
        complete_order(s, late.id, date(2026, 8, 30))
        sept = invoice_period(s, pg_settings, "2026-09", customer_id=farm.id)
        assert [(i.orders, i.net) for i in sept] == [(1, Decimal("38.00"))]
        assert s.scalar(select(ServiceOrder.invoice_id).where(ServiceOrder.id == late.id))


@pytest.mark.parametrize(("entry", "rule"), [
    (OrderEntry("massage", date(2026, 1, 1)), "order.no_price"),
    (OrderEntry("genotyping", date(2019, 1, 1)), "order.no_price"),
    (OrderEntry("genotyping", date(2026, 1, 1), animal="NOPE"), "order.animal_unknown"),
    (OrderEntry("genotyping", date(2026, 1, 1), quantity=0), "order.quantity"),
])
def test_bad_orders_are_refused(db, system, customer_of, farm, entry, rule):
    with pytest.raises(RuleViolation) as err:
        with db.session(system) as s:
            place_order(s, customer_of(s, farm), entry)
    assert err.value.rule == rule


def test_period_format():
    assert period_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_bounds("2026-13")
