"""Every customer page in headless Chromium, as real users of the test farms; screenshots in
tests/artifacts/dashboards/. Includes the isolation checks: another customer's animal reads
"Not found." and shows none of its data; customers never see staff pages."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import text

from dashboards.customer import PAGES
from reprotech_core.roles import Role
from tests.dashboards.conftest import deep_text, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAD_MS = 20_000
CUSTOMER_SLUGS = [p.slug for p in PAGES if Role.CUSTOMER_USER in p.roles]  # pa-user's


def open_page(pg, server, user: str, query: str, wait_for: str):
    pg.goto(server.of(user, query))
    pg.get_by_text(wait_for).first.wait_for(timeout=LOAD_MS)
    return pg


def nav_slugs(pg) -> list[str]:
    hrefs = pg.locator(".rt-nav a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return [re.search(r"page=([\w-]+)", h).group(1) for h in hrefs]


def test_overview_figures_results_kpis_and_changes(page, portal_server, portal, db, system):
    with db.session(system) as s:
        in_herd, genotyped = s.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE a.id = ANY(:g)) FROM core.animals a "
            "WHERE a.customer_id = :c AND NOT EXISTS (SELECT 1 FROM core.animal_exits x "
            "WHERE x.animal_id = a.id)"),
            {"c": portal.farms["pa"].id, "g": portal.farms["pa"].genotyped}).one()
    open_page(page, portal_server, "pa-admin", "page=overview", "Herd overview · Farm pa")
    page.get_by_text("Reproduction KPIs").wait_for(timeout=LOAD_MS)
    page.get_by_text("To do today").wait_for(timeout=LOAD_MS)
    shown = deep_text(page)
    assert "first visit" in shown
    assert "Best animals by selection index" in shown and "Conception rate" in shown
    assert re.search(rf"\b{in_herd}\s+In the herd", shown), shown[:2000]
    assert f"{genotyped} animals in the herd" in shown
    screenshot(page, "overview-customer")
    open_page(page, portal_server, "pa-admin", "page=overview", "Herd overview · Farm pa")
    page.get_by_text("since your last visit").first.wait_for(timeout=LOAD_MS)


def test_animals_table_sorts_filters_pages_and_downloads_the_view(page, portal_server, portal):
    every = len(portal.farms["pa"].every_animal)  # registered, and calves of recorded calvings
    open_page(page, portal_server, "pa-user", "page=animals", f"{every} animals (")
    rows = page.locator(".tabulator-row")
    rows.first.wait_for(timeout=LOAD_MS)
    assert rows.count() == 25  # first page of 25, served page by page
    page.locator(".tabulator-page[data-page='2']").click()
    page.wait_for_function("() => true")
    page.get_by_text("PA-0000").first.wait_for()
    box = page.get_by_placeholder("Search animal, name, sire or dam…")
    box.fill("PA-00001")  # PA-000010 .. PA-000019 (and their progeny by sire/dam)
    # The filter runs on the server: wait until the table shows only matching rows (a fixed
    # sleep fails on a loaded machine).
    deadline = time.monotonic() + LOAD_MS / 1000
    while True:
        texts = page.locator(".tabulator-row").all_inner_texts()
        if texts and all("PA-00001" in t for t in texts) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert 1 <= len(texts) <= 25 and all("PA-00001" in t for t in texts)
    assert all("in herd" in t for t in texts)  # the table opens on the animals in the herd
    page.locator("input[type=checkbox]").first.click()  # and those that left
    deadline = time.monotonic() + LOAD_MS / 1000
    while True:
        everyone = page.locator(".tabulator-row").all_inner_texts()
        if any("in herd" not in t for t in everyone) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert any("in herd" not in t for t in everyone) and all("PA-00001" in t for t in everyone)
    with page.expect_download() as download:
        page.get_by_text("CSV of this view").click()
    lines = open(download.value.path()).read().splitlines()
    assert lines[0].startswith("Animal,Name,Sex,Born,Herd,Status,Left")
    assert ",Index,Values," in lines[0]  # genomic or pedigree-based, explained under the table
    assert "Pedigree-based: the animal is not genotyped" in deep_text(page)
    assert all("PA-00001" in line for line in lines[1:])
    screenshot(page, "animals-customer")


def test_animal_page_pedigree_genotype_results_history(page, portal_server, portal):
    farm = portal.farms["pa"]
    cow = max(farm.genotyped)  # youngest genotyped: full pedigree
    open_page(page, portal_server, "pa-user", f"page=animal&animal={cow}", "Pedigree")
    text = deep_text(page)
    for heading in ("Identity", "Genotype", "Parentage", "Breeding values",
                    "Inbreeding", "Reproduction history", "Sire's sire's dam"):
        assert heading in text
    assert "QC status" in text and "Reliability" in text and "Basis" in text
    screenshot(page, "animal-customer")
    # a cow never genotyped: her single-step values say they are pedigree-based, and why
    typed = set(farm.genotyped)
    other = max(a for a in farm.evaluated if a not in typed)
    open_page(page, portal_server, "pa-user", f"page=animal&animal={other}", "Pedigree")
    text = deep_text(page)
    assert "pedigree-based" in text and "Pedigree-based: the animal is not genotyped" in text
    screenshot(page, "animal-pedigree-based")


def test_customer_cannot_open_another_customers_animal(page, portal_server, portal):
    secret = portal.farms["pb"].evaluated[0]
    secret_names = [oid for oid, aid in portal.farms["pb"].animals.items()]
    for query in (f"page=animal&animal={secret}", "page=animal&animal=999999999",
                  "page=animal&animal=1%20OR%201=1"):
        open_page(page, portal_server, "pa-user", query, "Not found.")
        text = deep_text(page)
        assert not any(oid in text for oid in secret_names), query
        assert "Farm pb" not in text
    screenshot(page, "isolation-foreign-animal")
    # The owner does see it (the page works; it is row security that hides it).
    open_page(page, portal_server, "pb-user", f"page=animal&animal={secret}", "Pedigree")


def test_customer_never_sees_staff_pages(page, portal_server, portal):
    from dashboards.app import registered_pages

    open_page(page, portal_server, "pa-user", "", "Herd overview · Farm pa")
    assert nav_slugs(page) == CUSTOMER_SLUGS
    staff = [p.slug for p in registered_pages() if p.slug not in CUSTOMER_SLUGS]
    for slug in [*staff, "lab", "admin", "jobs", "population"]:
        open_page(page, portal_server, "pa-user", f"page={slug}", "Not found.")
    # A staff identity's URL parameter cannot widen a customer's view either.
    open_page(page, portal_server, "pa-user",
              f"page=overview&customer={portal.farms['pb'].id}", "Herd overview · Farm pa")


def test_rankings_reweight_and_plots(page, portal_server, portal, db, system):
    from sqlalchemy import text

    with db.session(system) as s:
        best_milk = s.scalar(text(
            "SELECT a.official_id FROM core.evaluation_results r JOIN core.animals a "
            "ON a.id = r.animal_id WHERE r.run_id = :r AND r.customer_id = :c "
            "AND r.trait = 'milk_production' ORDER BY r.gebv DESC LIMIT 1"),
            {"r": portal.run_id, "c": portal.farms["pa"].id})
    open_page(page, portal_server, "pa-user", "page=rankings", "animals ranked")
    for label, value in (("Milk (kg) weight", "1"), ("Fertility weight", "0"),
                         ("Disease resistance weight", "0"), ("Longevity (months) weight", "0")):
        page.get_by_label(label).fill(value)
        page.get_by_label(label).press("Enter")
    page.wait_for_function(
        "() => true", timeout=LOAD_MS)
    page.locator(".tabulator-row").first.get_by_text(best_milk).wait_for(timeout=LOAD_MS)
    page.locator("canvas").nth(1).wait_for(timeout=LOAD_MS)  # trend and distribution plots
    page.get_by_text("of all evaluated animals").wait_for(timeout=LOAD_MS)
    screenshot(page, "rankings-customer")


def test_mating_plan(page, portal_server, portal, db, system):
    with db.session(system) as s:  # the evaluated cows still in the herd are the candidates
        cows = s.scalar(text(
            "SELECT count(*) FROM core.animals a WHERE a.id = ANY(:ids) AND a.sex = 'F' "
            "AND NOT EXISTS (SELECT 1 FROM core.animal_exits x WHERE x.animal_id = a.id)"),
            {"ids": portal.farms["pa"].evaluated})
    assert cows > 0
    open_page(page, portal_server, "pa-user", "page=mating", "Plan matings")
    page.get_by_role("button", name="Plan matings").click()
    page.get_by_text("mean expected progeny index").wait_for(timeout=LOAD_MS)
    assert f"{min(20, cows)} matings" in deep_text(page)
    screenshot(page, "mating-customer")


def test_downloads_pdf_and_excel(page, portal_server, portal):
    open_page(page, portal_server, "pa-user", "page=downloads", "Herd report (PDF)")
    with page.expect_download() as pdf:
        page.get_by_text("Herd report (PDF)").last.click()
    assert open(pdf.value.path(), "rb").read(5) == b"%PDF-"
    with page.expect_download() as xlsx:
        page.get_by_text("Herd table (Excel)").click()
    assert open(xlsx.value.path(), "rb").read(2) == b"PK"
    screenshot(page, "downloads-customer")


def test_empty_herd_says_so(page, portal_server):
    for slug in ("overview", "animals", "rankings", "mating"):
        open_page(page, portal_server, "pempty-user", f"page={slug}", "no animals in this herd")
    screenshot(page, "empty-herd")


def test_single_animal_without_genotype_or_pedigree(page, portal_server, portal):
    open_page(page, portal_server, "pone-user", "page=overview", "a single animal")
    assert "No released genomic results yet" in deep_text(page)
    (only,) = portal.farms["pone"].animals.values()
    open_page(page, portal_server, "pone-user", f"page=animal&animal={only}",
              "has not been genotyped")
    text = deep_text(page)
    assert "No parents are recorded" in text and "No released breeding values" in text
    screenshot(page, "single-animal")


def test_basic_tier_has_no_breeding_pages(page, portal_server):
    open_page(page, portal_server, "pbasic-user", "", "Herd overview · Farm pbasic")
    assert "rankings" not in nav_slugs(page) and "mating" not in nav_slugs(page)
    open_page(page, portal_server, "pbasic-user", "page=rankings", "Not found.")


def test_vet_switches_between_assigned_customers_only(page, portal_server, portal):
    open_page(page, portal_server, "p-vet", "page=animals", "Animals · Farm pa")
    page.get_by_role("link", name="pone").click()
    page.get_by_text("Animals · Farm pone").wait_for(timeout=LOAD_MS)
    open_page(page, portal_server, "p-vet", f"page=animals&customer={portal.farms['pb'].id}",
              "Not found.")
    screenshot(page, "vet-animals")
