"""Values from the database are text on every page and in every download, whatever they hold.

A farm whose stored official IDs, names and customer name are markup or spreadsheet formulas —
written with SQL as the administrative login, the way old or imported data could hold them
(the application's own entry points refuse such values since reprotech_core.textfields) — is
shown by the real pages: in-process, every Markdown/HTML pane's rendered HTML holds the value
as text and no element or handler it names; in Chromium, no ``img[src=x]`` exists, the value is
visible literally and no dialog opens. The CSV and Excel downloads and the customer's
portability export neutralise cells starting with ``= + - @`` while negative GEBVs stay numbers.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser

import panel as pn
import psycopg
import pytest
from openpyxl import load_workbook

from dashboards.app import build_app
from dashboards.customer import animal, animals, downloads, overview
from dashboards.pages import PageContext
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal.herd import TRAIT_LABELS
from tests.dashboards.conftest import ARTIFACTS, deep_text, screenshot
from tests.dashboards.herds import REFERENCE, FarmSpec, add_user, build_farm
from tests.dashboards.server import PortalServer, running_server

IMG = "<img src=x onerror=alert(1)>"
MARKDOWN = "**bold** [link](javascript:alert(2))"
CUSTOMER = "<img src=x onerror=alert(3)> & Sons"
FORMULA_ID = '=HYPERLINK("http://evil.example","x")'
AT_ID = "@SUM(1+1)"
PLUS_NAME = "+cmd|' /C calc'!A0"
MINUS_NAME = "-2+3"
GEBV = -1.5
USER = "xss-user"


@dataclass(frozen=True)
class Hostile:
    customer_id: int
    code: str
    img: int  # the animal whose official ID is IMG and name MARKDOWN
    child: int  # an animal whose dam is ``img``: her ID shows in its pedigree
    formula: int  # official ID FORMULA_ID, name PLUS_NAME, GEBVs of GEBV
    at: int  # official ID AT_ID, name MINUS_NAME


@pytest.fixture(scope="module")
def hostile(db, system, portal, admin_conninfo) -> Hostile:
    """A farm of the portal's catalogue with hostile stored values and released GEBVs (added
    to the portal's released run, so the population comparison keeps its customers)."""
    farm = build_farm(db, system, FarmSpec("xss", 12, genotyped_share=0.5), REFERENCE, seed=97)
    add_user(db, system, USER, "customer_user", "xss")
    with psycopg.connect(admin_conninfo) as conn:
        dam, child = conn.execute(
            "SELECT dam_id, id FROM core.animals WHERE customer_id = %s AND dam_id IS NOT NULL "
            "ORDER BY id LIMIT 1", (farm.id,)).fetchone()
        others = [r[0] for r in conn.execute(
            "SELECT id FROM core.animals WHERE customer_id = %s AND id <> ALL(%s) ORDER BY id",
            (farm.id, [dam, child]))][:2]
        for aid, oid, name in ((dam, IMG, MARKDOWN), (others[0], FORMULA_ID, PLUS_NAME),
                               (others[1], AT_ID, MINUS_NAME)):
            conn.execute("UPDATE core.animals SET official_id = %s, name = %s WHERE id = %s",
                         (oid, name, aid))
        conn.execute("UPDATE core.customers SET name = %s WHERE id = %s", (CUSTOMER, farm.id))
        for aid in (dam, *others):
            for trait in TRAITS:
                conn.execute(
                    "INSERT INTO core.evaluation_results (run_id, customer_id, animal_id, trait, "
                    "gebv, reliability, released) VALUES (%s, %s, %s, %s, %s, 0.6, true) "
                    "ON CONFLICT (run_id, animal_id, trait) DO UPDATE SET gebv = EXCLUDED.gebv",
                    (portal.run_id, farm.id, aid, trait, GEBV))
    return Hostile(farm.id, "xss", dam, child, others[0], others[1])


@pytest.fixture(scope="module")
def ctx(db, pg_settings, hostile) -> PageContext:
    return PageContext(database=db, identity=db.identity(USER), settings=pg_settings)


# -- in-process: the panes' rendered HTML ------------------------------------------------------
class Elements(HTMLParser):
    """The tags, attributes and text of an HTML fragment, as a browser would parse it."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.first_text: list[tuple[str, str]] = []  # (tag, the text right inside it)
        self._opened: str | None = None
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append((tag, dict(attrs)))
        self._opened = tag

    def handle_data(self, data):  # noqa: ANN001
        self.text.append(data)
        if self._opened:
            self.first_text.append((self._opened, data))
            self._opened = None


def rendered(view: pn.viewable.Viewable) -> Iterator[Elements]:
    """Each Markdown, Alert or HTML pane of a Panel tree as the HTML the browser receives."""
    import html

    for pane in view.select(lambda o: isinstance(o, (pn.pane.Markdown, pn.pane.HTML))):
        if isinstance(pane, pn.pane.Markdown):
            yield Elements(html.unescape(pane._transform_object(pane.object)["object"]))
        else:
            yield Elements(str(pane.object))


def assert_inert(view: pn.viewable.Viewable, *values: str) -> None:
    """No pane renders an element or handler from ``values``, and each value is shown whole."""
    panes = list(rendered(view))
    tags = [t for p in panes for t in p.tags]
    assert not [t for t in tags if t[0] in ("img", "script", "iframe")]
    assert ("strong", "bold") not in [t for p in panes for t in p.first_text]
    assert not [t for t in tags if any(k.startswith("on") for k in t[1])]
    assert not [t for t in tags if t[0] == "a"
                and (t[1].get("href") or "").strip().lower().startswith("javascript")]
    shown = " ".join(" ".join(p.text) for p in panes)
    for value in values:
        assert value in shown, value


def test_the_animal_page_shows_markup_ids_and_names_as_text(ctx, hostile, monkeypatch):
    monkeypatch.setattr(animal, "query_param",
                        lambda name: str(hostile.img) if name == "animal" else None)
    assert_inert(animal.build(ctx), IMG, MARKDOWN)
    monkeypatch.setattr(animal, "query_param",
                        lambda name: str(hostile.child) if name == "animal" else None)
    assert_inert(animal.build(ctx), IMG)  # the dam in the pedigree (an HTML table)


def test_the_overview_lookup_and_heading_show_them_as_text(ctx, hostile):
    assert_inert(overview.build(ctx), CUSTOMER, IMG, FORMULA_ID)  # heading, best animals
    lookup = animal.lookup(ctx)
    box = lookup.select(pn.widgets.TextInput)[0]
    box.value_input = "img"
    assert_inert(lookup, IMG, MARKDOWN)


def test_the_frame_escapes_the_signed_in_username(db, ctx, hostile):
    odd = PageContext(database=db, settings=ctx.settings,
                      identity=replace(ctx.identity, username=IMG))
    assert_inert(pn.Column(*build_app(odd).header.objects), IMG)


def test_mating_choices_are_escaped_for_choices_js(ctx, hostile):
    """Bokeh's MultiChoice hands labels to Choices.js with ``allowHTML``: they must be HTML
    text already, so the browser shows the ID and builds no element from it."""
    from dashboards.customer import mating

    page = mating.build(ctx)
    cows = page.select(pn.widgets.MultiChoice)[0]
    labels = [label for label in cows.options if "img" in label]
    assert labels and all(label.startswith("&lt;img src=x onerror=alert(1)&gt;")
                          for label in labels)


# -- downloads ---------------------------------------------------------------------------------
def download(view: pn.viewable.Viewable, label: str) -> bytes:
    (button,) = [w for w in view.select(pn.widgets.FileDownload) if w.label == label]
    return button.callback().getvalue()


def test_herd_table_csv_and_excel_neutralise_formulas_and_keep_negative_gebvs(ctx, hostile):
    page = downloads.build(ctx)
    milk = TRAIT_LABELS["milk_production"]
    rows = list(csv.DictReader(io.StringIO(download(page, "Herd table (CSV)").decode())))
    by_id = {r["Animal"]: r for r in rows}
    assert by_id["'" + FORMULA_ID]["Name"] == "'" + PLUS_NAME
    assert by_id["'" + AT_ID]["Name"] == "'" + MINUS_NAME
    assert float(by_id["'" + FORMULA_ID][milk]) == GEBV
    assert by_id["'" + FORMULA_ID][milk] == str(GEBV)  # written as a number, no quote
    for row in rows:
        for value in row.values():
            if value and value[0] in "=+-@\t\r":
                float(value)  # only numbers may start like a formula
    sheet = load_workbook(io.BytesIO(download(page, "Herd table (Excel)"))).active
    header = [c.value for c in sheet[1]]
    cells = {r[0].value: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2)}
    assert cells["'" + FORMULA_ID]["Name"].value == "'" + PLUS_NAME
    assert cells["'" + AT_ID]["Name"].value == "'" + MINUS_NAME
    gebv = cells["'" + FORMULA_ID][milk]
    assert gebv.value == GEBV and gebv.data_type == "n"
    assert not [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]


def test_the_animals_view_downloads_neutralise_too(ctx, hostile):
    page = animals.build(ctx)
    text = download(page, "CSV of this view").decode()
    quoted = '"\'' + FORMULA_ID.replace('"', '""') + '"'  # CSV quoting of '=HYPERLINK("…")
    assert quoted in text and f"'{AT_ID}" in text
    assert "\n=" not in text and ",=" not in text and ",@" not in text and ",+" not in text


def test_the_portability_export_neutralises_its_csv(db, system, pg_settings, hostile, tmp_path):
    from reprotech_core.ops.portability import export_customer

    out = tmp_path / "xss.zip"
    export_customer(db, system, pg_settings, hostile.code, out)
    with zipfile.ZipFile(out) as archive:
        name = next(n for n in archive.namelist() if n.endswith("records/animals.csv"))
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        results = next(n for n in archive.namelist()
                       if n.endswith("records/evaluation_results.csv"))
        gebvs = list(csv.DictReader(io.StringIO(archive.read(results).decode())))
    ids = {r["official_id"]: r for r in rows}
    assert ids["'" + FORMULA_ID]["name"] == "'" + PLUS_NAME and "'" + AT_ID in ids
    assert IMG in ids  # markup is not a formula: stored text, exported as it is
    assert {float(g["gebv"]) for g in gebvs if g["animal_id"] == str(hostile.formula)} == {GEBV}


# -- in Chromium -------------------------------------------------------------------------------
LOAD_MS = 20_000


@pytest.fixture(scope="module")
def xss_server(pg_settings, hostile) -> Iterator[PortalServer]:
    with running_server(pg_settings, (USER,), ARTIFACTS / "encoding-server.log") as server:
        yield server


def open_watched(pg, url: str, wait_for: str) -> list[str]:
    """Open ``url``, wait for ``wait_for`` (literal text) and return the dialogs that opened."""
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(url)
    pg.get_by_text(wait_for, exact=False).first.wait_for(timeout=LOAD_MS)
    pg.wait_for_timeout(500)  # an onerror handler would have run by now
    return dialogs


def assert_no_markup_from_data(pg) -> None:
    assert pg.locator("img[src=x]").count() == 0
    assert pg.locator("a[href^='javascript']").count() == 0
    assert pg.locator("strong", has_text="bold").count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_browser_animal_page_shows_the_markup_as_text(page, xss_server, hostile):
    dialogs = open_watched(page, xss_server.of(USER, f"page=animal&animal={hostile.img}"),
                           "Pedigree")
    assert_no_markup_from_data(page)
    shown = deep_text(page)
    assert IMG in shown and MARKDOWN in shown and dialogs == []
    screenshot(page, "encoding-animal")
    dialogs = open_watched(page, xss_server.of(USER, f"page=animal&animal={hostile.child}"),
                           "Pedigree")
    assert_no_markup_from_data(page)
    assert IMG in deep_text(page) and dialogs == []


@pytest.mark.browser
@pytest.mark.slow
def test_browser_overview_and_animals_table_show_the_markup_as_text(page, xss_server, hostile):
    dialogs = open_watched(page, xss_server.of(USER, "page=overview"), "Herd overview")
    page.get_by_text("Best animals by selection index").wait_for(timeout=LOAD_MS)
    assert_no_markup_from_data(page)
    shown = deep_text(page)
    assert f"Herd overview · {CUSTOMER}" in shown and IMG in shown and FORMULA_ID in shown
    screenshot(page, "encoding-overview")
    dialogs += open_watched(page, xss_server.of(USER, "page=animals"), "animals (")
    page.locator(".tabulator-row").first.wait_for(timeout=LOAD_MS)
    page.locator(".tabulator-cell", has_text=IMG).first.wait_for(timeout=LOAD_MS)
    assert_no_markup_from_data(page)
    cells = page.locator(".tabulator-row").all_inner_texts()
    assert any(IMG in c and MARKDOWN in c for c in cells)
    screenshot(page, "encoding-animals")
    assert dialogs == []


@pytest.mark.browser
@pytest.mark.slow
def test_browser_mating_choices_show_the_markup_as_text(page, xss_server, hostile):
    dialogs = open_watched(page, xss_server.of(USER, "page=mating"), "Plan matings")
    assert_no_markup_from_data(page)
    assert IMG in deep_text(page) and dialogs == []
    screenshot(page, "encoding-mating")
