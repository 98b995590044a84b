"""Text people type, judged before it is stored: identifiers, codes, names and notes.

One judge for every way in (forms, file imports, the CLI, notebooks), so a value is refused
the same way wherever it came from, with a named rule and never silently truncated:

- ``text.empty``: an empty value where one is needed;
- ``text.whitespace``: leading or trailing whitespace (``"DE01 "`` and ``"DE01"`` would be
  two animals that look alike);
- ``text.control_chars``: control, format (bidirectional overrides, zero-width spaces),
  line-separator, private-use, surrogate or unassigned code points — invisible in a table,
  and the raw material of look-alike IDs and terminal or spreadsheet tricks;
- ``text.too_long``: longer than the column holds (limits follow ``data_models``);
- ``id.characters``: an identifier, code or username outside its allowed characters.

Text is compared and counted in Unicode NFC, and :func:`normalized` is what gets stored:
``"Mu\\u0308ller"`` and ``"Müller"`` are one name. Identifiers and codes are ASCII, so NFC
never changes them. Output encoding (HTML, Markdown, spreadsheets) is the reader's job and is
done there too; this module keeps the stored data plain.

A refusal uses the shape of the herd book's refusals (:class:`Problem`, :class:`RecordRefused`,
re-exported by ``reprotech_core.reproduction.records``), so a form, an import report and the
CLI show it like any other broken rule.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace

from reprotech_core.errors import RuleViolation


@dataclass(frozen=True)
class Problem:
    """One broken rule: its stable code, the field it concerns, and a message naming the record."""

    rule: str
    column: str
    message: str


class RecordRefused(RuleViolation):
    """A record broke one or more rules; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].rule, "; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class TextKind:
    """What a field holds: its longest value and, for identifiers, the characters allowed.

    An identifier kind (``punctuation`` given) is ASCII letters and digits with that
    punctuation inside, starting and ending with a letter or digit (``lower``: lower-case
    letters only). A kind without ``punctuation`` takes any printable text.
    """

    label: str
    max_length: int
    punctuation: str | None = None
    lower: bool = False

    def longest(self, max_length: int) -> TextKind:
        """The same kind for a column that holds at most ``max_length`` characters."""
        return replace(self, max_length=max_length)

    def allows(self, char: str) -> bool:
        """May ``char`` appear in an identifier of this kind?"""
        if not char.isascii() or (self.lower and char.isupper()):
            return False
        return char.isalnum() or char in (self.punctuation or "")

    @property
    def allowed(self) -> str:
        letters = "lower-case letters a-z" if self.lower else "letters A-Z and a-z"
        return (f"{letters}, digits and {' '.join(self.punctuation or '')} inside (starting "
                "and ending with a letter or digit)")


#: An animal's official ID (ear tag, herd-book number): ``core.animals.official_id`` varchar(64).
OFFICIAL_ID = TextKind("official ID", 64, "._/-")
#: Herd, tank and canister codes: varchar(32).
CODE = TextKind("code", 32, "._/-")
#: Semen lot codes, embryo codes and delivery-note references: varchar(64).
LONG_CODE = CODE.longest(64)
#: A customer's code: ``core.customers.code`` varchar(32).
CUSTOMER_CODE = TextKind("customer code", 32, "._-")
#: A username: ``core.users.username`` varchar(64); lower case because the hub compares
#: usernames in lower case, so ``Vet`` could never sign in.
USERNAME = TextKind("username", 64, "._@-", lower=True)
#: Names of people, customers, herds and animals (``text`` columns: a generous line).
NAME = TextKind("name", 200)
#: Free text on one line: causes, suppliers, technicians; each column sets its own limit.
FREE_TEXT = TextKind("text", 2000)

#: Format characters that belong to real names (zero-width non-joiner and joiner in Persian,
#: Indic and emoji sequences); every other format character is refused.
_JOINERS = {"\u200c", "\u200d"}
_REFUSED_CATEGORIES = {
    "Cc": "a control character", "Cf": "an invisible formatting character",
    "Zl": "a line separator", "Zp": "a paragraph separator", "Co": "a private-use character",
    "Cs": "a surrogate", "Cn": "an unassigned code point",
}


def normalized(value: str) -> str:
    """The form text is stored and compared in (Unicode NFC)."""
    return unicodedata.normalize("NFC", value)


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def problems(kind: TextKind, value: str | None, *, column: str, record: str = "",
             required: bool = False) -> list[Problem]:
    """What is wrong with ``value`` as a ``kind`` (empty when nothing is); ``None`` is a
    missing optional value unless ``required``. ``record`` names the record in messages."""
    where = f"{record}: " if record else ""
    if value is None or value == "":
        return [Problem("text.empty", column, f"{where}{column}: the {kind.label} is missing")
                ] if required or value == "" else []
    text = normalized(value)
    found: list[Problem] = []
    bad = next(((i, c) for i, c in enumerate(text, 1)
                if unicodedata.category(c) in _REFUSED_CATEGORIES and c not in _JOINERS), None)
    if bad is not None:
        i, c = bad
        found.append(Problem("text.control_chars", column, (
            f"{where}{column}: character {i} is {_describe(c)}, "
            f"{_REFUSED_CATEGORIES[unicodedata.category(c)]}; the {kind.label} may hold "
            "visible text only")))
    if text != text.strip():
        found.append(Problem("text.whitespace", column, (
            f"{where}{column}: the {kind.label} starts or ends with whitespace; remove it")))
    if len(text) > kind.max_length:
        found.append(Problem("text.too_long", column, (
            f"{where}{column}: {len(text)} characters; the {kind.label} may have at most "
            f"{kind.max_length}")))
    if kind.punctuation is not None and not found:
        odd = next((c for c in text if not kind.allows(c)), None)
        if odd is not None:
            found.append(Problem("id.characters", column, (
                f"{where}{column}: character {_describe(odd)} is not allowed in the "
                f"{kind.label}; use {kind.allowed}")))
        elif not (text[0].isalnum() and text[-1].isalnum()):
            found.append(Problem("id.characters", column, (
                f"{where}{column}: the {kind.label} must start and end with a letter or digit")))
    return found


def require(fields: Iterable[tuple[TextKind, str | None, str]], *, record: str = "",
            required: Iterable[str] = ()) -> None:
    """Judge several ``(kind, value, column)`` fields; raise :class:`RecordRefused` with every
    problem of all of them, or return when all are clean. Columns in ``required`` must have
    a value."""
    needed = set(required)
    found = [p for kind, value, column in fields
             for p in problems(kind, value, column=column, record=record,
                               required=column in needed)]
    if found:
        raise RecordRefused(found)
