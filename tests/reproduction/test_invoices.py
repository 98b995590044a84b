"""Invoices as documents on PostgreSQL: the work recorded becomes orders once; a month's
invoice is numbered without gaps, carries VAT in exact decimals, prints every customer's name
(DejaVu Sans) and equals its orders — read back from the PDF's text and rendered to PNG by
pdftoppm as a reader sees it; the database keeps an issued invoice as issued; a correction is
a credit note, after which the month is invoiced again; prices with more than two decimals
are refused by name."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select, text

from data_models.finance import Invoice
from data_models.tenancy import Customer
from reprotech_core import finance
from reprotech_core.errors import RuleViolation
from reprotech_core.reproduction.entry import record_diagnosis, record_insemination
from reprotech_core.reproduction.records import DiagnosisEntry, InseminationEntry
from reprotech_core.settings import PROJECT_HOME
from tests.reproduction.conftest import make_farm

ARTIFACTS = PROJECT_HOME / "tests" / "artifacts" / "finance"
NAME = "Ferme Łódź · Ørsted · Ферма «Зоря» · Φάρμα"  # accents, Cyrillic, Greek: all print


@pytest.fixture
def billed(db, system, reference_bull, pg_settings):
    """A farm with two pregnancy diagnoses on one visit and a done flush order, all in
    October 2026; its October invoice."""
    farm = make_farm(db, system, reference_bull, tier="enterprise")
    with db.session(system) as s:
        s.execute(text("UPDATE core.customers SET name = :n WHERE id = :c"),
                  {"n": NAME, "c": farm.id})
        cust = s.scalar(select(Customer).where(Customer.id == farm.id))
        for cow in (farm.cow(1), farm.cow(2)):
            record_insemination(s, cust, InseminationEntry(cow, farm.ref_bull,
                                                           date(2026, 8, 20)))
            record_diagnosis(s, cust, DiagnosisEntry(cow, date(2026, 10, 7), "ultrasound",
                                                     "open"))
        order = finance.place_order(s, cust, finance.OrderEntry(
            "embryo_flush", date(2026, 10, 1), farm.cow(3), reference=f"{farm.code}-flush"))
        finance.complete_order(s, order.id, date(2026, 10, 2))
        work = finance.orders_from_work(s, until=date(2026, 10, 31), customer_id=farm.id)
        again = finance.orders_from_work(s, until=date(2026, 10, 31), customer_id=farm.id)
        [made] = finance.invoice_period(s, pg_settings, "2026-10", customer_id=farm.id,
                                        issued_on=date(2026, 11, 2))
    return farm, made, work, again


def pdf_of(db, system, number: str) -> bytes:
    with db.session(system) as s:
        return bytes(s.scalar(select(Invoice.pdf).where(Invoice.number == number)))


def test_the_work_recorded_is_ordered_once_and_invoiced_with_vat(db, system, billed,
                                                                 pg_settings):
    farm, made, work, again = billed
    assert (work.created, again.created) == (3, 0)  # 2 diagnoses + their visit; then none
    # 2 × 12.50 + one visit 45.00 + the flush 260.00
    assert (made.orders, made.net) == (4, Decimal("330.00"))
    assert made.vat == Decimal("62.70") and made.total == Decimal("392.70")
    with db.session(system) as s:
        lines = s.execute(text(
            "SELECT sum(l.net) FROM core.invoice_lines l JOIN core.invoices i ON i.id = "
            "l.invoice_id WHERE i.number = :n"), {"n": made.number}).scalar()
        orders = s.execute(text(
            "SELECT sum(o.unit_price * o.quantity) FROM core.service_orders o JOIN "
            "core.invoices i ON i.id = o.invoice_id WHERE i.number = :n"),
            {"n": made.number}).scalar()
    assert lines == orders == made.net


def test_the_pdf_prints_every_name_and_its_totals_equal_the_orders(db, system, billed,
                                                                   tmp_path):
    farm, made, _, _ = billed
    pdf = pdf_of(db, system, made.number)
    body = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", " ", body)
    assert f"Invoice {made.number}" in flat
    assert NAME in flat  # the font has every glyph: nothing replaced by "?"
    assert "Pregnancy diagnosis by ultrasound" in flat and farm.cow(1) in flat
    for figure in ("330.00 EUR", "62.70 EUR", "392.70 EUR"):
        assert figure in flat, figure
    assert "Due on 2026-12-02" in flat  # 30 days after issue
    (tmp_path / "invoice.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(tmp_path / "invoice.pdf"),
                    str(tmp_path / "invoice")], check=True)
    page = Image.open(tmp_path / "invoice.png").convert("L")
    assert page.size[0] > 400 and page.getextrema()[0] < 64  # ink on the page, not blank
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save(ARTIFACTS / "invoice.png")


def test_an_issued_invoice_is_kept_as_issued(db, system, billed):
    farm, made, _, _ = billed
    for statement, rule in (
            ("UPDATE core.invoices SET total = total + 1, net = net + 1 WHERE number = :n",
             "invoice.immutable"),
            ("DELETE FROM core.invoices WHERE number = :n", "invoice.immutable"),
            ("UPDATE core.invoice_lines SET description = 'x' WHERE invoice_id = "
             "(SELECT id FROM core.invoices WHERE number = :n)", "invoice.immutable"),
            ("UPDATE core.service_orders SET unit_price = 1 WHERE invoice_id = "
             "(SELECT id FROM core.invoices WHERE number = :n)", "order.invoiced"),
            ("UPDATE core.service_orders SET invoice_id = NULL WHERE invoice_id = "
             "(SELECT id FROM core.invoices WHERE number = :n)", "order.invoiced")):
        with pytest.raises(RuleViolation) as refused, db.session(system) as s:
            s.execute(text(statement), {"n": made.number})
        assert refused.value.rule == rule, statement
    with db.session(system) as s:
        finance.mark_paid(s, made.number, date(2026, 11, 20))  # the one change it takes
    with db.session(system) as s, pytest.raises(RuleViolation, match="invoice.paid"):
        finance.mark_paid(s, made.number, date(2026, 11, 21))
    with db.session(system) as s:
        assert s.scalar(select(Invoice.paid_on).where(Invoice.number == made.number)) \
            == date(2026, 11, 20)


def test_a_credit_note_corrects_an_invoice_and_the_month_is_invoiced_again(
        db, system, billed, pg_settings):
    farm, made, _, _ = billed
    with db.session(system) as s, pytest.raises(RuleViolation, match="invoice.reason"):
        finance.credit_note(s, pg_settings, made.number, reason=" ")
    with db.session(system) as s:
        note = finance.credit_note(s, pg_settings, made.number, reason="wrong flush price",
                                   issued_on=date(2026, 11, 5))
    assert (note.orders, note.total) == (4, made.total)
    body = re.sub(r"\s+", " ", PdfReader(io.BytesIO(pdf_of(db, system, note.number)))
                  .pages[0].extract_text())
    assert f"Credit note {note.number}" in body and f"Credits invoice {made.number}" in body
    assert "-392.70 EUR" in body and "wrong flush price" in body
    with db.session(system) as s, pytest.raises(RuleViolation, match="invoice.credited"):
        finance.credit_note(s, pg_settings, made.number, reason="again")
    with db.session(system) as s:  # the freed flush corrected, the month invoiced again
        s.execute(text("UPDATE core.service_orders SET unit_price = 240.00 WHERE reference = "
                       ":r"), {"r": f"{farm.code}-flush"})
        [redo] = finance.invoice_period(s, pg_settings, "2026-10", customer_id=farm.id,
                                        issued_on=date(2026, 11, 5))
        listing = finance.invoices(s, pg_settings, customer_id=farm.id)
        unpaid = finance.invoices(s, pg_settings, customer_id=farm.id, unpaid_only=True)
    assert redo.net == Decimal("310.00") and redo.number != made.number
    assert set(listing["number"]) == {redo.number, note.number, made.number}
    assert listing.set_index("number").at[made.number, "credited_by"] == note.number
    assert list(unpaid["number"]) == [redo.number]  # the credited one is not owed


def test_numbers_have_no_gaps_within_a_year(db, system, reference_bull, pg_settings):
    numbers = []
    for _ in range(3):
        farm = make_farm(db, system, reference_bull, tier="enterprise", cows=1)
        with db.session(system) as s:
            cust = s.scalar(select(Customer).where(Customer.id == farm.id))
            o = finance.place_order(s, cust, finance.OrderEntry("genotyping", date(2027, 1, 4)))
            finance.complete_order(s, o.id, date(2027, 1, 5))
            [made] = finance.invoice_period(s, pg_settings, "2027-01", customer_id=farm.id,
                                            issued_on=date(2027, 2, 1))
            numbers.append(made.number)
    seqs = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert all(n.startswith("RT-2027-") for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 3))


def test_a_name_the_font_cannot_print_is_refused_and_nothing_is_issued(
        db, system, reference_bull, pg_settings):
    farm = make_farm(db, system, reference_bull, tier="enterprise", cows=1)
    with db.session(system) as s:
        s.execute(text("UPDATE core.customers SET name = '牧場 Hokkaido' WHERE id = :c"),
                  {"c": farm.id})
        cust = s.scalar(select(Customer).where(Customer.id == farm.id))
        o = finance.place_order(s, cust, finance.OrderEntry("genotyping", date(2026, 12, 1)))
        finance.complete_order(s, o.id, date(2026, 12, 2))
    with pytest.raises(RuleViolation) as refused, db.session(system) as s:
        finance.invoice_period(s, pg_settings, "2026-12", customer_id=farm.id)
    assert refused.value.rule == "invoice.glyphs" and "牧" in str(refused.value)
    with db.session(system) as s:
        assert s.scalar(text("SELECT count(*) FROM core.invoices WHERE customer_id = :c"),
                        {"c": farm.id}) == 0
        assert s.scalar(text("SELECT invoice_id FROM core.service_orders WHERE id = :o"),
                        {"o": o.id}) is None


@pytest.mark.parametrize(("price", "rule"), [("12.345", "price.decimals"),
                                             ("-1", "price.invalid"), ("ten", "price.invalid")])
def test_a_price_with_more_than_two_decimals_is_refused(db, system, price, rule):
    with db.session(system) as s:
        before = s.scalar(text("SELECT count(*) FROM core.service_prices"))
        with pytest.raises(RuleViolation) as refused:
            finance.set_price(s, "embryo_transfer", "x", price, date(2027, 3, 1))
        assert refused.value.rule == rule
        assert s.scalar(text("SELECT count(*) FROM core.service_prices")) == before


def test_a_chip_has_its_own_price_or_the_genotyping_price(db, system):
    with db.session(system) as s:
        finance.set_price(s, "genotyping:HD777", "Genomic test on the HD chip", "85.00",
                          date(2026, 1, 1))
        assert finance.price_of(s, "genotyping:HD777", date(2026, 6, 1)).unit_price \
            == Decimal("85.00")
        assert finance.price_of(s, "genotyping:Other50", date(2026, 6, 1)).unit_price \
            == Decimal("38.00")
