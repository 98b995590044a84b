"""The rules of a herd-book register export, as pure functions: rows in, a judgement out.

Why pure: the same judgement serves the CLI, the upload page and a dry run, and every rule is
tested on hand-made rows without a database. The adapter
(:mod:`reprotech_core.herd.register_import`) reads the file and the stored pedigree and writes
the plan; nothing here touches I/O.

Each rule has a stable name (``register.*``) reported with the file's line and column:

- ``register.columns`` / ``register.header`` / ``register.delimiter``: the header names the
  columns of a herd-book export (:data:`COLUMNS`, spellings in :data:`ALIASES`, matched
  case-insensitively ignoring spaces, ``_`` and ``-``); a title or merged row above the header
  and a semicolon-separated file (European Excel) are recognised and refused by name.
- ``register.id_format``: an official ID is either the 19-character Interbull form — breed (3
  letters) + country (3 letters, ISO 3166 alpha-3) + sex (``M``/``F``) + 12-character national
  number (letters and digits) — or the ISO 11784 tag form of 15 digits (3-digit country code,
  not ``000``, + 12-digit national number). Spaces and lower case are normalised (and counted
  in the report) because the canonical forms hold neither, so the result cannot be mistaken;
  any other character is refused rather than guessed at.
- ``register.id_sex``: the sex letter of an Interbull ID agrees with the sex column.
- ``register.sex``, ``register.required``, ``register.date``, ``register.date_future``,
  ``register.date_order``: values of one row.
- ``register.date_ambiguous`` / ``register.date_mixed``: dates written ``a/b/yyyy`` (or with
  ``.`` or ``-``) are read day-first when some ``a`` exceeds 12 and month-first when some ``b``
  does; a file where no value decides (every ``a`` and ``b`` at most 12 and different), or
  where values decide both ways, is refused: a guess would silently swap days and months.
  ISO dates (``YYYY-MM-DD``) and Excel date cells are unambiguous.
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
- ``table.*``: a file that cannot be read as a table (encoding, quoting, ragged rows,
  formulas without a cached value read as empty cells; :mod:`reprotech_core.table_files`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reprotech_core import textfields
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
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
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
    """Canonical columns of ``header``; problems when the required ones are missing, when the
    header is really a title/merged row, or when the file is separated by semicolons."""
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
    if not columns and len(header) == 1 and header[0].count(";") >= 2:
        return Header({}, tuple(header)), [Problem(line, header[0][:40], "register.delimiter", (
            f"{file}, line {line}: the columns are separated by semicolons (European Excel's "
            "CSV); save the file as 'CSV UTF-8 (comma delimited)' or as .xlsx"))]
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


# -- dates ---------------------------------------------------------------------------------------
def date_order(values: Iterable[tuple[int, str, object]], file: str
               ) -> tuple[str | None, list[Problem]]:
    """The file's order of numeric dates, ``"dmy"`` or ``"mdy"`` (None when it has none), from
    ``(line, column, value)``; an undecidable or contradictory file is a problem."""
    day_first = month_first = None
    undecided = None
    for line, column, value in values:
        if not isinstance(value, str):
            continue
        m = _NUMERIC_DATE.match(value.strip())
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 and day_first is None:
            day_first = (line, column, value)
        elif b > 12 and month_first is None:
            month_first = (line, column, value)
        elif a != b and a <= 12 and b <= 12 and undecided is None:
            undecided = (line, column, value)
    if day_first and month_first:
        return None, [Problem(month_first[0], month_first[1], "register.date_mixed", (
            f"{file}, line {month_first[0]}, column {month_first[1]}: {month_first[2]!r} is "
            f"month-first but line {day_first[0]} ({day_first[2]!r}) is day-first; write every "
            "date one way, best as YYYY-MM-DD"))]
    if day_first:
        return "dmy", []
    if month_first:
        return "mdy", []
    if undecided:
        return None, [Problem(undecided[0], undecided[1], "register.date_ambiguous", (
            f"{file}, line {undecided[0]}, column {undecided[1]}: {undecided[2]!r} can be read "
            "day-first or month-first and no date of the file decides; write dates as "
            "YYYY-MM-DD"))]
    return "dmy", []  # only a == b values: both readings agree


def parse_date(value: object, order: str | None) -> date | None:
    """A date cell: Excel date, ISO text, or ``a/b/yyyy`` in the file's ``order``; None when
    blank; ValueError with the reason otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        if (m := _ISO_DATE.match(text)):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if (m := _NUMERIC_DATE.match(text)) and order:
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            return date(y, b, a) if order == "dmy" else date(y, a, b)
    except ValueError:
        raise ValueError(f"{text!r} is not a calendar date") from None
    raise ValueError(f"{text!r} is not a date (YYYY-MM-DD, or day/month/year with a 4-digit "
                     "year)")


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
    order, problems = date_order(((line, cols[c], v[c]) for line, v in raw for c in DATE_COLUMNS
                                  if c in v), file)
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
                dates[column] = parse_date(v.get(column), order)
            except ValueError as exc:
                dates[column] = None
                if order is not None or not _NUMERIC_DATE.match(str(v.get(column)).strip()):
                    bad(column, "register.date", str(exc))  # else: the file's date problem
                continue
            if dates[column] and dates[column] > today:
                bad(column, "register.date_future", f"{dates[column]} is in the future")
        born, entered = dates["birth_date"], dates["entry_date"]
        if born and entered and entered < born:
            bad("entry_date", "register.date_order", f"entry {entered} is before birth {born}")
        problems += found
        if found or order is None and any(isinstance(v.get(c), str) and _NUMERIC_DATE.match(
                v[c].strip()) for c in DATE_COLUMNS):
            refused.add(oid or "")
            continue
        out.append(RegisterRow(line, oid, sex, _text(v, "breed"), dates["birth_date"],
                               _text(v, "name"), ids["sire"], ids["dam"], _text(v, "herd"),
                               _text(v, "management_number"), dates["entry_date"],
                               _text(v, "entry_status")))
    return Parsed(out, problems, frozenset(refused - {""}), normalised)
