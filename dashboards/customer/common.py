"""What every customer page shares: which herd, its cached table, and plain-language states.

Pages stay thin: they ask ``reprotech_core.portal`` for data (in ``ctx.session()``, as the
signed-in user) and lay it out. Tenant data is cached per process by tenant *and* data version
(``dashboards.cache``), read only after a query under the user's own row security has shown
the user may see that tenant. Slow sections load after the page shows (``dashboards.deferred``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

import pandas as pd
import panel as pn

from dashboards.app import query_param
from dashboards.cache import SHARED
from dashboards.pages import PageContext
from dashboards.text import md_text
from reprotech_core.portal import herd
from reprotech_core.portal.tenancy import CustomerRef, resolve_customer, visible_farms
from reprotech_core.reproduction.kpis import HerdKpis
from reprotech_core.reproduction.queries import herd_kpis, records_version, worklist
from reprotech_core.results.released import released_results, released_run
from reprotech_core.roles import modules_for


@dataclass(frozen=True)
class Herd:
    """The herd a page is about, resolved under the user's row security."""

    customer: CustomerRef
    modules: frozenset[str]
    staff: bool  # a vet/technician looking at an assigned customer
    farms: tuple[CustomerRef, ...]  # what a staff user may switch to


def resolve(ctx: PageContext) -> Herd:
    with ctx.session() as s:
        customer = resolve_customer(s, ctx.identity, query_param("customer"))
        modules = frozenset(modules_for(s))
        farms = tuple(visible_farms(s)) if ctx.identity.customer_id is None else ()
    return Herd(customer, modules, ctx.identity.customer_id is None, farms)


def link(page: str, herd_: Herd | None = None, **params: object) -> str:
    """A relative URL to a page, carrying a staff user's chosen customer."""
    query = {"page": page, **params}
    if herd_ is not None and herd_.staff:
        query["customer"] = herd_.customer.id
    return "?" + urlencode(query)


def weights(ctx: PageContext) -> dict[str, float]:
    return dict(ctx.settings.index_weights)


def herd_table(ctx: PageContext, herd_: Herd, index_weights: dict[str, float] | None = None
               ) -> tuple[pd.DataFrame, int | None]:
    """The herd table (see ``portal.herd.herd_table``) and the released run it shows.

    The version check runs as the user (row security); the heavy queries are shared by every
    session of the tenant until the data changes.
    """
    cid = herd_.customer.id
    with ctx.session() as s:
        version = herd.data_version(s, cid)

    def load() -> tuple[pd.DataFrame, pd.DataFrame, int | None]:
        with ctx.session() as s:
            return (herd.herd_animals(s, cid), released_results(s, cid),
                    released_run(s, cid))

    animals, results, run = SHARED.get(("herd", cid, version), load)
    w = weights(ctx) if index_weights is None else index_weights
    table = SHARED.get(("herd-table", cid, version, tuple(sorted(w.items()))),
                       lambda: herd.herd_table(animals, results, w))
    return table, run


def kpis(ctx: PageContext, herd_: Herd, *, days: int | None = 365) -> HerdKpis:
    """Reproduction KPIs of the last ``days`` (all records when ``None``), shared by the
    tenant's sessions for the day until a record changes (the simulation of service outcomes
    is the slow part for big herds). ``herd_`` was resolved under the user's row security, so
    the tenant is theirs to see."""
    cid = herd_.customer.id
    today = date.today()
    start = None if days is None else today - timedelta(days=days)
    with ctx.session() as s:
        version = records_version(s, cid)

    def load() -> HerdKpis:
        with ctx.session() as s:
            return herd_kpis(s, cid, start=start, end=today, as_of=today)

    return SHARED.get(("kpis", cid, start, today, version), load)


def todo(ctx: PageContext, herd_: Herd) -> pd.DataFrame:
    """The herd's reproduction to-do list today, shared like ``kpis``."""
    cid = herd_.customer.id
    today = date.today()
    with ctx.session() as s:
        version = records_version(s, cid)

    def load() -> pd.DataFrame:
        with ctx.session() as s:
            return worklist(s, cid, today=today)

    return SHARED.get(("todo", cid, today, version), load)


def heading(title: str, herd_: Herd, page: str) -> pn.viewable.Viewable:
    """The page title with the herd's name; staff get links to switch customer."""
    parts = [f"## {title} · {md_text(herd_.customer.name)}"]
    if herd_.staff and len(herd_.farms) > 1:
        others = " · ".join(
            f"**{md_text(f.code)}**" if f.id == herd_.customer.id
            else f"[{md_text(f.code)}](?{urlencode({'page': page, 'customer': f.id})})"
            for f in herd_.farms)
        parts.append(f"Customer: {others}")
    return pn.pane.Markdown("\n\n".join(parts), sizing_mode="stretch_width",
                            css_classes=["rt-heading"])


def notice(text: str, kind: str = "info") -> pn.pane.Alert:
    """A plain-language statement of an empty or missing state."""
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width",
                         css_classes=["rt-notice"])


def fmt(value: object, digits: int = 2, *, percent: bool = False) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if percent:
        return f"{float(value):.0%}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def number(decimals: int):  # noqa: ANN201 (a Bokeh formatter)
    """A table number format; empty cells stay empty (no result is not a zero)."""
    from bokeh.models.widgets.tables import NumberFormatter

    return NumberFormatter(format="0." + "0" * decimals if decimals else "0", nan_format="",
                           null_format="", text_align="right")


NO_HERD = ("There are no animals in this herd yet. Animals appear here once they are "
           "registered (by your vet or through an animal import).")
NO_RESULTS = ("No released genomic results yet: results appear after your animals' genotypes "
              "have passed QC and an evaluation has been released by the lab.")



def herd_page(ctx: PageContext, title: str, page: str
              ) -> tuple[Herd, pd.DataFrame, int | None, pn.Column]:
    """What a page about the herd starts from: the herd (resolved under row security), its
    cached table and released run, and the page's column under its heading, which already says
    so when the herd has no animals (the page then shows nothing else)."""
    h = resolve(ctx)
    table, run = herd_table(ctx, h)
    layout = pn.Column(heading(title, h, page), sizing_mode="stretch_width")
    if table.empty:
        layout.append(notice(NO_HERD))
    return h, table, run, layout
