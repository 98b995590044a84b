"""The rules of a herd-book register export, as pure functions: rows in, a judgement out.

Why pure: the same judgement serves the CLI, the upload page and a dry run, and every rule is
tested on hand-made rows without a database. The adapter
(:mod:`reprotech_core.herd.register_import`) reads the file and the stored pedigree and writes
the plan; nothing here touches I/O.

Each rule has a stable name (``register.*``) reported with the file's line and column:

- ``register.columns`` / ``register.header``: the header names the columns of a herd-book
  export (:data:`COLUMNS`, spellings in :data:`ALIASES`, matched case-insensitively ignoring
  spaces, ``_`` and ``-``); a header naming none of them is refused by name. A title or merged
  row above the header and a semicolon-separated file (European Excel) are refused by the table
  reader for every import (``table.title_row``, ``table.header_rows``, ``table.delimiter``).
- ``register.id_format``: an official ID is either the 19-character Interbull form — breed (3
  letters) + country (3 letters, ISO 3166 alpha-3) + sex (``M``/``F``) + 12-character national
  number (letters and digits) — or the ISO 11784 tag form of 15 digits (3-digit country code,
  not ``000``, + 12-digit national number). Spaces and lower case are normalised (and counted
  in the report) because the canonical forms hold neither, so the result cannot be mistaken;
  any other character is refused rather than guessed at.
- ``register.id_sex``: the sex letter of an Interbull ID agrees with the sex column.
- ``register.sex``, ``register.required``, ``register.date``, ``register.date_future``,
  ``register.date_order``: values of one row.
- ``register.date``: the one date rule of every import (:mod:`reprotech_core.cell_dates`):
  ISO dates (``YYYY-MM-DD``) and Excel date cells; a day-first or month-first date is refused
  by its form, never guessed, and a column whose dates are all in a local form is refused
  once, at its first line.
The rules below need the stored pedigree and live in :mod:`reprotech_core.herd.pedigree`:

- ``register.duplicate``: an official ID on two lines of the file.
- ``register.parent_unknown``: a sire or dam neither in the file, nor the customer's, nor in
  the shared AI-sire catalogue; created as a placeholder in the importing customer only when
  asked (``create_parents``). Another customer's animal is never seen, so never matched.
- ``register.parent_sex``: a sire must be male, a dam female (as in the file or as stored).
- ``register.parent_born_after_calf``: a parent born on or after its calf's birth date.
- ``register.cycle``: an animal its own ancestor through the file's and the stored pedigree.
- ``register.herd_unknown``: a herd code that is not one of the customer's herds (created
  when asked).
- ``register.formula``: a cell holding a formula's text (``=…``) rather than a value.
- ``text.*`` / ``id.characters``: names, breeds and codes keep the platform's text rules
  (:mod:`reprotech_core.textfields`: length, control characters, characters of a code).
- ``table.*``: a file that cannot be read as a table (encoding, quoting, ragged rows, a
  formula without a calculated value; :mod:`reprotech_core.table_files`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from reprotech_core import textfields
from reprotech_core.cell_dates import NotADate, cell_date, local_date_column
from reprotech_core.textfields import CODE, NAME

# The text rules of the stored columns (textfields; lengths are the schema's).
TEXT_KINDS = {"name": NAME, "breed": NAME.longest(32), "herd": CODE,
              "management_number": CODE, "entry_status": NAME.longest(32)}
# Canonical column -> accepted header spellings (compared by :func:`_fold`).
ALIASES: dict[str, tuple[str, ...]] = {
    "official_id": ("official_id", "id", "animal", "animal_id", "official id", "ear tag",
                    "eartag", "tag", "interbull id", "registration number", "reg no"),
    "name": ("name", "animal name", "herdbook name"),
    "sex": ("sex", "gender"),
    "birth_date": ("birth_date", "birth date", "date of birth", "dob", "born", "birthdate"),
    "breed": ("breed",),
    "sire": ("sire", "sire_id", "sire id", "sire official id", "father"),
    "dam": ("dam", "dam_id", "dam id", "dam official id", "mother"),
    "herd": ("herd", "herd_code", "herd code", "herd id", "farm"),
    "management_number": ("management_number", "management number", "mgmt no", "cow number",
                          "barn number", "local number"),
    "entry_date": ("entry_date", "entry date", "date of entry", "arrival date"),
    "entry_status": ("entry_status", "entry status", "status"),
}
COLUMNS = tuple(ALIASES)
REQUIRED = ("official_id", "sex", "birth_date", "breed")
SEXES = {"m": "M", "male": "M", "bull": "M", "f": "F", "female": "F", "cow": "F",
         "heifer": "F"}
_INTERBULL = re.compile(r"^([A-Z]{3})([A-Z]{3})([MF])([A-Z0-9]{12})$")
_ISO11784 = re.compile(r"^(\d{3})(\d{12})$")
DATE_COLUMNS = ("birth_date", "entry_date")


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", name.strip().lower()).strip()


_BY_SPELLING = {_fold(s): col for col, spellings in ALIASES.items() for s in spellings}
# The template's example rows (a bull of the catalogue form, a cow, her daughter), in the order
# of :data:`COLUMNS`: what ``reprotech herd template`` and the Herd files page hand out.
TEMPLATE_ROWS = (
    ("HOLDEUM000123456789", "Bravo", "M", "2016-03-01", "Holstein", "", "", "", "", "", ""),
    ("276000912345678", "Berta", "F", "2018-04-12", "Holstein", "HOLDEUM000123456789", "",
     "main", "17", "2018-04-12", "active"),
    ("276000912345679", "Clara", "F", "2021-02-03", "Holstein", "HOLDEUM000123456789",
     "276000912345678", "main", "42", "2021-02-03", "active"),
)


@dataclass(frozen=True)
class Problem:
    """A broken rule at a place in the file (``line`` 0: the file as a whole)."""

    line: int
    column: str
    rule: str
    message: str


@dataclass(frozen=True)
class Header:
    """The file's header mapped to canonical columns; ``ignored`` are columns we do not read."""

    columns: dict[str, str]  # canonical -> the file's own spelling
    ignored: tuple[str, ...]


def map_header(header: Sequence[str], *, line: int, file: str) -> tuple[Header, list[Problem]]:
    """Canonical columns of ``header``; problems when the required ones are missing or when
    the header names none of them."""
    columns: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for name in header:
        canonical = _BY_SPELLING.get(_fold(name))
        if canonical is None:
            ignored.append(name)
        elif canonical in columns:
            problems.append(Problem(line, name, "register.columns",
                                    f"{file}, line {line}: columns {columns[canonical]!r} and "
                                    f"{name!r} both name {canonical}"))
        else:
            columns[canonical] = name
    if not columns:
        return Header({}, tuple(header)), [Problem(line, ", ".join(header)[:60],
                                                   "register.header", (
            f"{file}, line {line}: no column of a herd register here ({', '.join(header)[:80]}); "
            "a title or merged header row above the column names? The first non-empty line "
            f"must name the columns: {', '.join(COLUMNS)}"))]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(Problem(line, ", ".join(missing), "register.columns", (
            f"{file}, line {line}: missing column(s) {', '.join(missing)} (expected columns: "
            f"{', '.join(COLUMNS)}; {', '.join(REQUIRED)} are required)")))
    return Header(columns, tuple(ignored)), problems


# -- identifiers ---------------------------------------------------------------------------------
def normalise_id(raw: str) -> str:
    """The canonical form of an official ID as written: spaces removed, upper case."""
    return re.sub(r"\s+", "", raw).upper()


def id_problem(value: str) -> str | None:
    """Why ``value`` (already normalised) is not an international animal ID, or None."""
    if _INTERBULL.match(value) or (_ISO11784.match(value) and not value.startswith("000")):
        return None
    if value.isdigit():
        return (f"{value!r} has {len(value)} digits; an ISO 11784 tag ID has 15 (country "
                "code + 12-digit number, country not 000)")
    return (f"{value!r} is not an international animal ID: 19 characters breed+country+sex+"
            "12-character number (e.g. HOLDEUF000123456789) or a 15-digit ISO 11784 tag ID")


def interbull_sex(value: str) -> str | None:
    m = _INTERBULL.match(value)
    return m.group(3) if m else None


# -- rows ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegisterRow:
    """One animal as the file gives it (IDs normalised, sex ``M``/``F``)."""

    line: int
    official_id: str
    sex: str
    breed: str
    birth_date: date | None
    name: str | None = None
    sire: str | None = None
    dam: str | None = None
    herd: str | None = None
    management_number: str | None = None
    entry_date: date | None = None
    entry_status: str | None = None

    def value(self, column: str) -> object:
        return getattr(self, column)


def _text(values: Mapping[str, object], column: str) -> str | None:
    v = values.get(column)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


@dataclass(frozen=True)
class Parsed:
    """The file's clean rows, the problems of the others, the official IDs of refused rows
    (so a calf naming a refused dam is not also told its dam is unknown), and how many IDs
    were normalised (spaces or lower case)."""

    rows: list[RegisterRow]
    problems: list[Problem]
    refused: frozenset[str]
    normalised: int


def parse_rows(rows: Iterable[tuple[int, Mapping[str, object]]], header: Header, file: str,
               today: date) -> Parsed:
    """Rows (``values`` keyed by the file's own column names) as :class:`RegisterRow`; every
    bad value is a problem naming line and column."""
    cols = header.columns
    raw = [(line, {c: values.get(name) for c, name in cols.items()}) for line, values in rows]
    problems: list[Problem] = []
    local: set[str] = set()  # date columns refused as a whole (every date in a local form)
    for column in DATE_COLUMNS:
        if column in cols and (found := local_date_column((line, v[column]) for line, v in raw)):
            local.add(column)
            problems.append(Problem(found[0], cols[column], "register.date",
                                    f"{file}, line {found[0]}, column {cols[column]}: "
                                    f"{found[1]}"))
    out: list[RegisterRow] = []
    refused: set[str] = set()
    normalised = 0
    for line, v in raw:
        found: list[Problem] = []

        def bad(column: str, rule: str, message: str, line: int = line,
                found: list[Problem] = found) -> None:
            found.append(Problem(line, cols.get(column, column), rule,
                                 f"{file}, line {line}, column {cols.get(column, column)}: "
                                 f"{message}"))

        for column in cols:
            if isinstance(v.get(column), str) and v[column].lstrip().startswith("="):
                bad(column, "register.formula", f"{v[column].strip()[:40]!r} is a spreadsheet "
                    "formula, not a value; copy the column and paste it as values")
        if found:
            problems += found
            refused.add(normalise_id(_text(v, "official_id") or ""))
            continue
        ids: dict[str, str | None] = {}
        for column in ("official_id", "sire", "dam"):
            text = _text(v, column)
            if text is None:
                ids[column] = None
                continue
            norm = normalise_id(text)
            normalised += norm != text
            if (why := id_problem(norm)):
                bad(column, "register.id_format", why)
            ids[column] = norm
        for column in REQUIRED:
            if column in cols and _text(v, column) is None:
                bad(column, "register.required", "is empty")
        for column, kind in TEXT_KINDS.items():
            for p in textfields.problems(kind, _text(v, column), column=cols.get(column, column)):
                bad(column, p.rule, p.message)
        sex = SEXES.get((_text(v, "sex") or "").lower())
        if _text(v, "sex") is not None and sex is None:
            bad("sex", "register.sex", f"{_text(v, 'sex')!r} is not a sex (M or F)")
        oid = ids["official_id"]
        if oid and sex and (letter := interbull_sex(oid)) and letter != sex:
            bad("official_id", "register.id_sex", f"{oid!r} carries sex {letter} but the sex "
                f"column says {sex}")
        dates: dict[str, date | None] = {}
        for column in DATE_COLUMNS:
            try:
                dates[column] = cell_date(v.get(column))
            except NotADate as exc:
                dates[column] = None
                if column not in local:  # else said once for the whole column
                    bad(column, "register.date", str(exc))
                continue
            if dates[column] and dates[column] > today:
                bad(column, "register.date_future", f"{dates[column]} is in the future")
        born, entered = dates["birth_date"], dates["entry_date"]
        if born and entered and entered < born:
            bad("entry_date", "register.date_order", f"entry {entered} is before birth {born}")
        problems += found
        if found or any(dates[c] is None and c in local and v.get(c) for c in DATE_COLUMNS):
            refused.add(oid or "")
            continue
        out.append(RegisterRow(line, oid, sex, _text(v, "breed"), dates["birth_date"],
                               _text(v, "name"), ids["sire"], ids["dam"], _text(v, "herd"),
                               _text(v, "management_number"), dates["entry_date"],
                               _text(v, "entry_status")))
    return Parsed(out, problems, frozenset(refused - {""}), normalised)
