"""One animal: identity, three-generation pedigree, genotype QC, parentage, GEBVs with
reliability, inbreeding and reproduction history. ``?page=animal&animal=<id>``.

The id comes from the URL, so it is treated as hostile: it is parsed strictly and looked up
under the user's row security; another customer's animal, an unknown id and garbage all read
"Not found." (raised as ``NotFound`` for the frame to show). Without an id the page offers a
search by official ID within the herd.
"""

from __future__ import annotations

import pandas as pd
import panel as pn
import param

from dashboards.app import query_param
from dashboards.customer import common
from dashboards.layout import wrapping_row
from dashboards.pages import PageContext
from dashboards.text import html_text, md_text
from reprotech_core.portal import animal as portal_animal
from reprotech_core.portal.animal import AnimalPage
from reprotech_core.portal.herd import TRAIT_LABELS
from reprotech_core.portal.tenancy import parse_id
from reprotech_core.results.released import BASIS_HELP, BASIS_LABELS


def identity(a: AnimalPage) -> pn.viewable.Viewable:
    sex = {"F": "female", "M": "male"}[a.sex]
    facts = [("Official ID", a.official_id), ("Name", a.name or "—"), ("Sex", sex),
             ("Breed", a.breed), ("Born", a.birth_date or "not recorded"),
             ("Herd", a.herd or ("AI catalogue" if a.reference else "—")),
             ("Status", "in the herd" if a.left is None else
              f"left {a.left[0]}: {a.left[1]}" + (f" ({a.left[2]})" if a.left[2] else "")),
             ("Recorded progeny", a.progeny)]
    rows = "\n".join(f"| {k} | {md_text(v)} |" for k, v in facts)
    return pn.pane.Markdown(f"#### Identity\n| | |\n|---|---|\n{rows}", css_classes=["rt-identity"])


def pedigree(a: AnimalPage, h: common.Herd | None) -> pn.viewable.Viewable:
    """A left-to-right tree: parents, grandparents, great-grandparents (an HTML table)."""
    if not a.pedigree:
        return pn.Column(pn.pane.Markdown("#### Pedigree"), common.notice(
            "No parents are recorded for this animal, so there is no pedigree to show."))

    def cell(pos: str, rows: int) -> str:
        anc = a.pedigree.get(pos)
        label = "'s ".join(pos.split(".")).capitalize()
        if anc is None:
            body = '<span style="color:#999">not recorded</span>'
        else:
            href = common.link("animal", h, animal=anc.id)
            body = (f'<a href="{html_text(href)}">{html_text(anc.official_id)}</a>'
                    + (f"<br><small>{html_text(anc.name)}</small>" if anc.name else ""))
        return (f'<td rowspan="{rows}" style="border:1px solid #d9e2e7;padding:4px 8px">'
                f'<small style="color:#667">{html_text(label)}</small><br>{body}</td>')

    lines = []
    for i in range(8):
        path = ["sire" if (i >> (2 - k)) & 1 == 0 else "dam" for k in range(3)]
        tds = ""
        if i % 4 == 0:
            tds += cell(path[0], 4)
        if i % 2 == 0:
            tds += cell(".".join(path[:2]), 2)
        tds += cell(".".join(path), 1)
        lines.append(f"<tr>{tds}</tr>")
    known = a.generations_known
    note = "" if known == 3 else (f"<p><small>Recorded ancestors go back {known} "
                                  f"generation{'s' if known != 1 else ''}.</small></p>")
    return pn.Column(pn.pane.Markdown("#### Pedigree (three generations)"), pn.pane.HTML(
        f'<table class="rt-pedigree" style="border-collapse:collapse">{"".join(lines)}</table>'
        + note, sizing_mode="stretch_width"))


def genotype(a: AnimalPage) -> pn.viewable.Viewable:
    g = a.genotype
    if g is None:
        return pn.Column(pn.pane.Markdown("#### Genotype"),
                         common.notice("This animal has not been genotyped."))
    decision = g["decision"] or "awaiting QC"
    reasons = ", ".join(g["reasons"] or []) or "—"
    text = (f"#### Genotype\n| | |\n|---|---|\n| QC status | **{md_text(decision)}** |\n"
            f"| Reasons | {md_text(reasons)} |\n| Call rate | {g['call_rate']:.1%} |\n"
            f"| Chip | {md_text(g['panel'])} ({g['n_snps']:,} SNPs) |\n"
            f"| Genotyped | {g['genotyped_at']:%Y-%m-%d} |")
    return pn.pane.Markdown(text, css_classes=["rt-genotype"])


def parentage(a: AnimalPage) -> pn.viewable.Viewable:
    if a.parentage.empty:
        why = ("No parentage check: " + ("the animal or its recorded parents are not genotyped"
                                         if a.genotype else "the animal is not genotyped") + ".")
        return pn.Column(pn.pane.Markdown("#### Parentage"), common.notice(why))
    rows = "\n".join(
        f"| {md_text(r.parent)} | {md_text(r.recorded)} | **{md_text(r.status)}** | "
        f"{r.opposing_homozygotes} of "
        f"{r.informative_snps} informative SNPs | {md_text(r.suggested) if r.suggested else '—'} |"
        for r in a.parentage.itertuples())
    return pn.pane.Markdown(
        "#### Parentage\n| Parent | Recorded | Status | Opposing homozygotes | Suggested |\n"
        f"|---|---|---|---|---|\n{rows}", css_classes=["rt-parentage"])


def results(a: AnimalPage) -> pn.viewable.Viewable:
    parts = [pn.pane.Markdown("#### Breeding values")]
    if a.results.empty:
        parts.append(common.notice("No released breeding values for this animal yet."))
    else:
        rows = "\n".join(f"| {md_text(TRAIT_LABELS.get(r.trait, r.trait))} | {r.gebv:,.2f} | "
                         f"{r.reliability:.0%} | {BASIS_LABELS[r.basis]} |"
                         for r in a.results.itertuples())
        parts.append(pn.pane.Markdown(
            f"| Trait | GEBV | Reliability | Basis |\n|---|---:|---:|---|\n{rows}",
            css_classes=["rt-gebvs"]))
        parts.append(pn.pane.Markdown(BASIS_HELP, css_classes=["rt-basis-help"]))
    f = a.inbreeding or {}
    parts.append(pn.pane.Markdown(
        "#### Inbreeding\n| | |\n|---|---|\n"
        f"| Genomic (G diagonal − 1) | {common.fmt(f.get('f_genomic'), 4)} |\n"
        f"| Pedigree (Meuwissen & Luo) | {common.fmt(f.get('f_pedigree'), 4)} |"
        + ("" if f else "\n\nNo inbreeding estimate: the animal was not in a released "
           "evaluation."), css_classes=["rt-inbreeding"]))
    return pn.Column(*parts)


def reproduction(a: AnimalPage) -> pn.viewable.Viewable:
    head = pn.pane.Markdown("#### Reproduction history")
    if a.sex != "F" or a.reference:
        return pn.Column(head, common.notice("Reproduction records are kept for cows."))
    if a.reproduction.empty:
        return pn.Column(head, common.notice("No reproduction records for this cow."))
    frame = a.reproduction.assign(date=pd.to_datetime(a.reproduction["date"]).dt.date)
    return pn.Column(head, pn.widgets.Tabulator(
        frame, show_index=False, disabled=True, pagination="local", page_size=15,
        sizing_mode="stretch_width", layout="fit_data_fill", theme="simple",
        titles={"date": "Date", "event": "Event", "detail": "Detail"},
        css_classes=["rt-history"]))


class AnimalLookup(pn.viewable.Viewer):
    """Find an animal of the herd by (part of) its official ID or name. The text as typed is
    the state; the links to matching animals follow it, from the cached herd table."""

    text = param.String(default="", doc="Part of an official ID or name, as typed")

    def __init__(self, h: common.Herd, table: pd.DataFrame, **params) -> None:
        super().__init__(**params)
        self.herd, self.table = h, table
        box = pn.widgets.TextInput(label="Official ID or name", placeholder="e.g. DE0123…",
                                   width=320)
        box.param.watch(lambda event: setattr(self, "text", event.new or ""), "value_input")
        self._layout = pn.Column(box, self.matches, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @param.depends("text")
    def matches(self) -> pn.viewable.Viewable:
        text, table, h = self.text.strip().lower(), self.table, self.herd
        if not text:
            return pn.pane.Markdown("Type part of an official ID or name.")
        hit = table[table["official_id"].str.lower().str.contains(text, regex=False)
                    | table["name"].fillna("").str.lower().str.contains(text, regex=False)]
        if hit.empty:
            return pn.pane.Markdown("No animal of this herd matches.")
        links = "\n".join(f"- [{md_text(r.official_id)}]({common.link('animal', h, animal=r.id)})"
                          f" {md_text(r.name or '')}" for r in hit.head(25).itertuples())
        more = f"\n\n…and {len(hit) - 25} more" if len(hit) > 25 else ""
        return pn.pane.Markdown(links + more)


def lookup(ctx: PageContext) -> pn.viewable.Viewable:
    """No id given: the herd's animals to search."""
    h = common.resolve(ctx)
    table, _ = common.herd_table(ctx, h)
    return pn.Column(common.heading("Animal", h, "animal"), AnimalLookup(h, table),
                     sizing_mode="stretch_width")


def build(ctx: PageContext) -> pn.viewable.Viewable:
    wanted = parse_id(query_param("animal"), "animal")
    if wanted is None:
        return lookup(ctx)
    with ctx.session() as s:
        a = portal_animal.animal_page(s, wanted)
    title = f"## {md_text(a.official_id)}" + (f" · {md_text(a.name)}" if a.name else "")
    return pn.Column(
        pn.pane.Markdown(title, css_classes=["rt-animal-title"]),
        wrapping_row(identity(a), genotype(a), parentage(a)),
        pedigree(a, None),
        wrapping_row(results(a), reproduction(a)),
        sizing_mode="stretch_width")
