"""The animals table: every animal of the herd with GEBVs, reliabilities, the selection index
and inbreeding; searchable, filterable and sortable, fast with 10,000+ rows. It opens on the
animals still in the herd; one tick shows those that left too (sold, slaughtered, died).

Tabulator's *remote* pagination keeps the table in the server process and sends the browser
one page at a time; sorting and filtering run on the server over the cached herd table, so
neither the first paint nor an interaction grows with the herd.
"""

from __future__ import annotations

import io

import pandas as pd
import panel as pn
import param

from dashboards.customer import common
from dashboards.layout import widget_row
from dashboards.pages import PageContext
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal.exports import csv_bytes, excel_bytes
from reprotech_core.portal.herd import TRAIT_LABELS
from reprotech_core.results.released import BASIS_HELP, BASIS_LABELS

COLUMNS = ["id", "official_id", "name", "sex", "birth_date", "herd", "status", "left_on",
           "sire", "dam",
           "genotype_qc", "parentage", "selection_index", "basis",
           *[c for t in TRAITS for c in (t, f"{t}_rel")], "f_genomic", "f_pedigree"]
TITLES = {"official_id": "Animal", "name": "Name", "sex": "Sex", "birth_date": "Born",
          "herd": "Herd", "status": "Status", "left_on": "Left", "sire": "Sire", "dam": "Dam", "genotype_qc": "Genotype QC",
          "parentage": "Parentage", "selection_index": "Index", "basis": "Values",
          "f_genomic": "F genomic",
          "f_pedigree": "F pedigree",
          **{t: label for t, label in TRAIT_LABELS.items()},
          **{f"{t}_rel": "Rel." for t in TRAITS}}
#: Column names in downloads: unique (a spreadsheet cannot tell four "Rel." columns apart).
EXPORT_TITLES = {**TITLES, **{f"{t}_rel": f"{TRAIT_LABELS[t]} reliability" for t in TRAITS}}
PAGE_SIZE = 25


def display_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table's columns in display order; unknown QC reads "not genotyped", an animal
    without results has no basis (empty, not "pedigree-based")."""
    out = table.rename(columns={"index": "selection_index"})[COLUMNS].copy()
    out["genotype_qc"] = out["genotype_qc"].fillna("not genotyped")
    out["basis"] = out["basis"].fillna("")
    out["parentage"] = out["parentage"].fillna("")
    return out


def search(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows whose official ID, name, sire or dam contains ``text`` (case-insensitive)."""
    text = (text or "").strip().lower()
    if not text:
        return frame
    hit = pd.Series(False, index=frame.index)
    for col in ("official_id", "name", "sire", "dam"):
        hit |= frame[col].fillna("").str.lower().str.contains(text, regex=False)
    return frame[hit]


def in_herd_only(frame: pd.DataFrame, only: bool) -> pd.DataFrame:
    """The animals still in the herd (``only``), else every animal recorded."""
    return frame[frame["status"] == "in herd"] if only else frame


def animals_table(frame: pd.DataFrame, h: common.Herd) -> pn.widgets.Tabulator:
    numbers = {c: common.number(3 if c.endswith("_rel") or c.startswith("f_") else 1)
               for c in frame.columns
               if c in ("selection_index", "f_genomic", "f_pedigree") or c in TRAITS
               or c.endswith("_rel")}
    prefix = common.link("animal", h) + "&animal="
    return pn.widgets.Tabulator(
        frame, pagination="remote", page_size=PAGE_SIZE, show_index=False, disabled=True,
        selectable=False, hidden_columns=["id"], titles=TITLES, sizing_mode="stretch_width",
        layout="fit_data_fill", frozen_columns=["official_id"], theme="simple",
        header_filters={
            "official_id": {"type": "input", "func": "like", "placeholder": "ID"},
            "sex": {"type": "list", "values": ["", "F", "M"], "func": "="},
            "herd": {"type": "input", "func": "like", "placeholder": "herd"},
            "status": {"type": "list", "func": "=",
                       "values": ["", "in herd", "sold", "slaughter", "died"]},
            "genotype_qc": {"type": "list", "func": "=",
                            "values": ["", "pass", "review", "fail", "not genotyped"]},
            "parentage": {"type": "list", "func": "=",
                          "values": ["", "verified", "excluded", "undetermined"]},
            "basis": {"type": "list", "func": "=",
                      "values": ["", *BASIS_LABELS.values()]},
        },
        formatters={"official_id": {"type": "link", "urlPrefix": prefix, "urlField": "id",
                                    "labelField": "official_id"}, **numbers},
        sorters=[{"field": "selection_index", "dir": "desc"}],
        css_classes=["rt-animals"])


class HerdAnimals(pn.viewable.Viewer):
    """The animals table of a herd with its search, its "in the herd only" tick and the
    downloads of what is on screen. The search text (as typed) and the tick are the state; both
    filter the cached herd table on the server, so the layout is never rebuilt."""

    search_text = param.String(default="",
                               doc="Part of an official ID, name, sire or dam, as typed")
    in_herd_only = param.Boolean(default=True, label="In the herd only",
                                 doc="Only the animals still in the herd (else all recorded)")

    def __init__(self, h: common.Herd, table: pd.DataFrame, weights: dict[str, float],
                 **params) -> None:
        super().__init__(**params)
        frame = display_frame(table)
        self.grid = animals_table(frame, h)
        self.grid.add_filter(pn.bind(search, text=self.param.search_text))
        self.grid.add_filter(pn.bind(in_herd_only, only=self.param.in_herd_only))
        box = pn.widgets.TextInput(placeholder="Search animal, name, sire or dam…", width=320,
                                   label="Search")
        box.param.watch(lambda event: setattr(self, "search_text", event.new or ""),
                        "value_input")
        herd_only = pn.widgets.Checkbox.from_param(self.param.in_herd_only, align="center")
        downloads = widget_row(
            pn.widgets.FileDownload(callback=lambda: io.BytesIO(csv_bytes(self.on_screen())),
                                    filename="animals.csv", label="CSV of this view",
                                    color="light"),
            pn.widgets.FileDownload(callback=lambda: io.BytesIO(excel_bytes(self.on_screen())),
                                    filename="animals.xlsx", label="Excel of this view",
                                    color="light"))
        present = int((frame["status"] == "in herd").sum())
        count = pn.pane.Markdown(
            f"{len(frame):,} animals ({present:,} in the herd) · index weights: " + ", ".join(
                f"{TRAIT_LABELS[t]} {w:g}" for t, w in weights.items()))
        basis = pn.pane.Markdown(f"**Values** — {BASIS_HELP}", css_classes=["rt-basis-help"])
        self._layout = pn.Column(widget_row(box, herd_only, downloads), count, self.grid, basis,
                                 sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def on_screen(self) -> pd.DataFrame:
        """The rows as filtered and sorted on screen, under the downloads' column names."""
        return self.grid.current_view.drop(columns=["id"]).rename(columns=EXPORT_TITLES)


def build(ctx: PageContext) -> pn.viewable.Viewable:
    h, table, run, layout = common.herd_page(ctx, "Animals", "animals")
    if table.empty:
        return layout
    if run is None:
        layout.append(common.notice(common.NO_RESULTS))
    layout.append(HerdAnimals(h, table, common.weights(ctx)))
    return layout
