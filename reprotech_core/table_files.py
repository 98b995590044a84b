"""Reading the tables people hand us: CSV text from herd and lab software, and Excel workbooks.

Every file import (breeding events, received samples, the CSV inputs of ``reprotech eval`` and
``reprotech geno``) reads through :func:`open_table`, so a file that is not what it should be
is refused in one way — a :class:`TableError` naming file, line and column — and never ends in
a traceback half-way through an import.

Encoding. UTF-8 is expected and a UTF-8 byte-order mark is accepted. UTF-16 and UTF-32 with a
byte-order mark, and UTF-16 without one (recognised by a NUL byte at every other position, as
in Excel's "Unicode text" export), are decoded as what they are: they are unambiguous. Any
other byte that is not UTF-8 is refused with its line, column and value ("byte 0xE9 is not
UTF-8; save the file as UTF-8"). We deliberately do not guess Windows-1252 or Latin-1 for
such files: every byte sequence is valid in those (and in Windows-1250, MacRoman …), so a
guess cannot be checked, and a wrong one silently stores misspelt names and IDs. Saving the
file as UTF-8 once costs the user less than a corrupted herd book.

CSV is parsed by the standard library's :mod:`csv` in strict mode, so broken quoting is an error
at its line rather than rows silently merged; a field over the csv module's field limit, a NUL
character, a row with more or fewer fields than the header, a header with an unnamed or
repeated column, and a file with no header or no rows are refused too. Values longer than the
database column they land in are refused against ``max_lengths`` (see :func:`column_lengths`).

Excel workbooks are read by :mod:`openpyxl` (first and only sheet, values not formulas); a file
that is not a zip, an encrypted (password-protected) workbook or an old ``.xls``, and a workbook
with several sheets are refused by name, and so is a formula without a calculated value
(``table.formula``: a workbook written by a program and never saved in Excel) — openpyxl would
read it as an empty cell.

The header is the first non-blank line. A title row above it (one value over a line of
several) and a header over two lines (merged cells: a gap the next line fills) are refused
(``table.title_row``, ``table.header_rows``) naming the line that looks like the header, rather
than skipped: which line is the header would be a guess. CSV is comma-separated, or
tab-separated (Excel's "Unicode text"), told by the first line; a semicolon-separated file
(European Excel) is refused (``table.delimiter``, see :func:`sniff_delimiter`).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from reprotech_core.errors import RuleViolation

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SNIFF_BYTES = 4096
MAGIC = {b"PK\x03\x04": "zip", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "ole2", b"\x1f\x8b": "gzip",
         b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
COMPRESSED = ("gzip", "bzip2", "xz", "zstd", "zip")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
# What openpyxl (zipfile, XML parsers) raises on a damaged or hostile workbook; RuntimeError
# covers zipfile's "compression method / zip version not supported" and encrypted members.
_EXCEL_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, InvalidFileException, KeyError,
                 ValueError, TypeError, IndexError, AttributeError, OSError, EOFError, zlib.error,
                 SyntaxError, RuntimeError)


class TableError(RuleViolation):
    """A table file that cannot be read as a table; says where (file, line, column) and why.

    ``line`` is 1-based; ``column`` is a column name, or a 1-based position on the line.
    """

    def __init__(self, rule: str, reason: str, *, file: str, line: int | None = None,
                 column: str | int | None = None) -> None:
        self.file, self.line, self.column, self.reason = file, line, column, reason
        where = [file]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(rule, f"{', '.join(where)}: {reason}")


# -- what a file is ------------------------------------------------------------------------------
def file_format(head: bytes) -> str | None:
    """The container a file's first bytes announce (``zip``, ``ole2``, ``gzip`` …), or None."""
    return next((name for magic, name in MAGIC.items() if head.startswith(magic)), None)


def sniff_encoding(head: bytes) -> str:
    """The Python codec of a text file from its first bytes: a BOM, UTF-16 by its NUL pattern,
    else UTF-8 (checked while decoding)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    pairs = len(head) // 2
    if pairs >= 2:
        even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
        if odd * 2 >= pairs and even * 20 <= pairs:  # ASCII/Latin letters: 'a\0' in LE
            return "utf-16-le"
        if even * 2 >= pairs and odd * 20 <= pairs:
            return "utf-16-be"
    return "utf-8"


def is_utf8(codec: str) -> bool:
    return codec in ("utf-8", "utf-8-sig")


def excel_refusal(fmt: str | None, head: bytes) -> str | None:
    """Why a file named ``.xlsx`` is not an Excel workbook we can read (None: it may be one)."""
    if fmt == "zip":
        return None
    if fmt == "ole2":
        encrypted = "EncryptionInfo".encode("utf-16-le") in head
        return ("a password-protected (encrypted) workbook: save it without a password"
                if encrypted else "an Excel 97-2003 (.xls) or password-protected workbook: "
                "save it as .xlsx without a password")
    if fmt is None and b"\x00" not in head:
        return "a text file, not an Excel workbook: name it .csv, or save it from Excel as .xlsx"
    return "not an Excel workbook (.xlsx is a zip file)"


def text_refusal(fmt: str | None) -> str | None:
    """Why a file named ``.csv`` (or any text table) is not text (None: it may be)."""
    if fmt == "zip":
        return "an Excel workbook (or another zip file), not CSV text: name it .xlsx"
    if fmt == "ole2":
        return ("an Excel 97-2003 or password-protected workbook, not CSV text: save it as "
                "CSV UTF-8")
    if fmt in COMPRESSED:
        return f"a {fmt}-compressed file, not text: decompress it first"
    return None


# -- text ----------------------------------------------------------------------------------------
def _char_problem(char: str, codec: str) -> tuple[str, str]:
    """(rule, reason) for a NUL or an undecodable character found on a line."""
    if char == "\x00":
        return "table.nul", ("NUL character: a binary file, or text in an encoding other than "
                             "UTF-8; save the file as UTF-8")
    if is_utf8(codec) and "\udc80" <= char <= "\udcff":
        return "table.encoding", (f"byte 0x{ord(char) - 0xDC00:02X} is not UTF-8; save the "
                                  "file as UTF-8")
    return "table.encoding", f"not valid {codec.upper()} (a lone surrogate); save it as UTF-8"


def checked_lines(stream: IO[str], file: str, codec: str) -> Iterator[str]:
    """The physical lines of ``stream`` (endings kept), each checked for NUL and undecodable
    characters. ``stream`` decodes with ``surrogateescape`` (UTF-8) or ``surrogatepass``
    (UTF-16/32), so a bad byte surfaces on its own line instead of failing a whole block."""
    number = 0
    try:
        for number, line in enumerate(stream, 1):  # noqa: B007 - number is read after the loop
            bad = _BAD_CHAR.search(line)
            if bad:
                rule, reason = _char_problem(bad.group(), codec)
                raise TableError(rule, reason, file=file, line=number, column=bad.start() + 1)
            yield line
    except UnicodeDecodeError as exc:
        raise TableError("table.encoding", f"not valid {codec.upper()} ({exc.reason}); save the "
                         "file as UTF-8", file=file, line=number + 1) from None


def text_stream(binary: IO[bytes], codec: str) -> io.TextIOWrapper:
    """Decode ``binary`` lazily as :func:`checked_lines` expects (no newline translation: the
    csv module wants ``newline=''``)."""
    return io.TextIOWrapper(binary, encoding=codec, newline="",
                            errors="surrogateescape" if is_utf8(codec) else "surrogatepass")


def decode_text(raw: bytes, file: str, *, codec: str | None = None, first_line: int = 1,
                final: bool = True) -> str:
    """The text of ``raw`` (its encoding sniffed unless ``codec`` is given); a NUL or an
    undecodable byte is a :class:`TableError` naming its line and column. ``final=False``
    allows ``raw`` to end inside a character (a file's head)."""
    codec = codec or sniff_encoding(raw)
    errors = "surrogateescape" if is_utf8(codec) else "surrogatepass"
    try:
        text = codecs.getincrementaldecoder(codec)(errors).decode(raw, final=final)
    except UnicodeDecodeError as exc:
        line = first_line + raw.count(b"\n", 0, exc.start)
        raise TableError("table.encoding", f"not valid {codec.upper()} ({exc.reason}); save the "
                         "file as UTF-8", file=file, line=line) from None
    bad = _BAD_CHAR.search(text)
    if bad:
        rule, reason = _char_problem(bad.group(), codec)
        start = text.rfind("\n", 0, bad.start()) + 1
        raise TableError(rule, reason, file=file, line=first_line + text.count("\n", 0, start),
                         column=bad.start() - start + 1)
    return text


def read_text(path: str | Path, *, name: str | None = None) -> str:
    """A whole (small) text file, decoded and checked as :func:`decode_text` does."""
    name = name or Path(path).name
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TableError("table.unreadable", f"cannot read ({exc.strerror})", file=name) from None
    refusal = text_refusal(file_format(raw[:SNIFF_BYTES]))
    if refusal:
        raise TableError("table.format", refusal, file=name)
    return decode_text(raw, name)


# -- tables --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One data row: its (first) line in the file and its values by column name.

    CSV values are strings as written; Excel values are what the cell holds (str, number,
    datetime) or None.
    """

    line: int
    values: dict[str, Any]


class Table:
    """An open table file: ``header`` (column names) on ``header_line``, rows by iteration.

    Iterating checks each row as it comes (ragged rows, NUL, over-long values) and raises
    :class:`TableError` at the first problem, or at the end when there was no row at all. Use
    it as a context manager so the file is closed however the reading ends.
    """

    def __init__(self, file: str, records: Iterator[tuple[int, list[Any]]],
                 close: Callable[[], None], max_lengths: Mapping[str, int]) -> None:
        self.file, self._records, self._close = file, records, close
        self.max_lengths = max_lengths
        try:
            self.header, self.header_line = self._read_header()
        except BaseException:
            close()
            raise

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _read_header(self) -> tuple[list[str], int]:
        for line, values in self._records:
            names = ["" if v is None else str(v).strip() for v in values]
            if not any(names):
                continue
            while not names[-1]:
                names.pop()
            self._check_header_rows(line, names)
            seen: dict[str, int] = {}
            for i, n in enumerate(names, 1):
                if not n:
                    raise TableError("table.header", "this column of the header has no name",
                                     file=self.file, line=line, column=i)
                if n in seen:
                    raise TableError("table.header", f"column {n!r} is named twice (columns "
                                     f"{seen[n]} and {i})", file=self.file, line=line, column=i)
                seen[n] = i
            return names, line
        raise TableError("table.empty", "the file has no header line (it is empty)",
                         file=self.file)

    def _check_header_rows(self, line: int, names: list[str]) -> None:
        """Refuse a title row above the header, or a header over two rows (merged cells): the
        next non-blank row names more columns than this one. Refused rather than skipped: which
        row is the header is then a guess, and a wrong guess reads a header as data."""
        following = next(self._records, None)
        while following is not None and all(_blank(v) for v in following[1]):
            following = next(self._records, None)
        if following is None:
            return
        self._records = itertools.chain([following], self._records)
        below, values = following
        filled = [i for i, v in enumerate(values) if not _blank(v)]
        if len([n for n in names if n]) == 1 and len(filled) >= 2:
            raise TableError("table.title_row", f"this line holds one value ({names[0][:60]!r}) "
                             f"and line {below} holds {len(filled)}: a title or merged row "
                             f"above the header? Delete the lines above the column names, so "
                             f"that line {below} (which looks like the header) is the first",
                             file=self.file, line=line, column=1)
        gap = next((i for i, n in enumerate(names) if not n), None)
        if gap is not None and gap in filled and all(_text(v) for v in values[:len(names)]):
            raise TableError("table.header_rows", f"column {gap + 1} of this line is empty and "
                             f"line {below} names it ({_text(values[gap])[:40]!r}): a header "
                             f"over two lines (merged cells)? Keep one header line: unmerge the "
                             f"cells and delete this line, so that line {below} (which looks "
                             f"like the header) is the first", file=self.file, line=line,
                             column=gap + 1)

    def __iter__(self) -> Iterator[Row]:
        width, rows = len(self.header), 0
        for line, values in self._records:
            if all(_blank(v) for v in values):
                continue
            extra = next((i for i in range(width, len(values)) if not _blank(values[i])), None)
            if extra is not None or len(values) < width:
                raise TableError("table.ragged_row", f"{_fields(len(values))}, but the header on "
                                 f"line {self.header_line} names {width} columns (a missing "
                                 "or extra separator, or an unquoted comma in a value?)",
                                 file=self.file, line=line,
                                 column=None if extra is None else extra + 1)
            row = dict(zip(self.header, values, strict=False))
            self._check_values(row, line)
            rows += 1
            yield Row(line, row)
        if rows == 0:
            raise TableError("table.empty", f"no rows below the header on line "
                             f"{self.header_line}", file=self.file)

    def _check_values(self, row: dict[str, Any], line: int) -> None:
        for column, value in row.items():
            if isinstance(value, Uncalculated):
                raise TableError("table.formula", f"the formula {value.formula[:60]!r} has no "
                                 "calculated value (the file was written by a program and "
                                 "never opened in Excel): open it in Excel and save it, or "
                                 "paste the cells as values", file=self.file, line=line,
                                 column=column)
            if not isinstance(value, str):
                continue
            if "\x00" in value:
                raise TableError("table.nul", "NUL character in the value", file=self.file,
                                 line=line, column=column)
            limit = self.max_lengths.get(column)
            if limit is not None and len(value.strip()) > limit:
                raise TableError("table.value_too_long", f"{len(value.strip()):,} characters; "
                                 f"{column} holds at most {limit}", file=self.file, line=line,
                                 column=column)


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def column_lengths(columns: Mapping[str, Any]) -> dict[str, int]:
    """``{import column: max length}`` from the SQLAlchemy columns the values are stored in,
    so the limit is the schema's, defined once."""
    return {name: col.property.columns[0].type.length for name, col in columns.items()}


def open_table(path: str | Path, *, name: str | None = None,
               max_lengths: Mapping[str, int] | None = None) -> Table:
    """Open a CSV (any name but ``.xlsx``/``.xlsm``) or Excel table, header read and checked.

    ``name`` is the file's name in messages (an upload is stored under a name of our own);
    ``max_lengths`` maps column names to the longest value their database column holds.
    """
    path = Path(path)
    name = name or path.name
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise TableError("table.unreadable", f"cannot read ({exc.strerror})", file=name) from None
    fmt = file_format(head)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        refusal = excel_refusal(fmt, head)
        if refusal:
            raise TableError("table.format", refusal, file=name)
        records, close = _excel_records(path, name)
    else:
        refusal = text_refusal(fmt)
        if refusal:
            raise TableError("table.format", refusal, file=name)
        codec = sniff_encoding(head)
        records, close = _csv_records(path, name, codec, sniff_delimiter(head, codec, name))
    return Table(name, records, close, max_lengths or {})


def read_frame(path: str | Path, *, required: Collection[str] = (),
               text: Collection[str] | None = None) -> pd.DataFrame:
    """A (small) table file as a DataFrame, read by :func:`open_table`: blank cells are NaN,
    columns in ``text`` stay strings and every other column must hold numbers (all columns stay
    strings when ``text`` is None). A missing ``required`` column or a value that is not a number
    is a :class:`TableError` naming the line and column."""
    with open_table(path) as table:
        missing = [c for c in required if c not in table.header]
        if missing:
            raise TableError("table.columns", f"missing column(s) {', '.join(missing)} (has "
                             f"{', '.join(table.header)})", file=table.file,
                             line=table.header_line)
        rows = list(table)
    frame = pd.DataFrame([[np.nan if _blank(v) else v.strip() if isinstance(v, str) else v
                           for v in r.values.values()] for r in rows], columns=table.header,
                         dtype=object)
    for column in ([] if text is None else [c for c in table.header if c not in text]):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = (values.isna() & frame[column].notna()).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise TableError("table.value", f"{frame[column].iloc[i]!r} is not a number",
                             file=table.file, line=rows[i].line, column=column)
        frame[column] = values
    return frame


def sniff_delimiter(head: bytes, codec: str, file: str) -> str:
    """The separator of a text table from its first line with one: a comma, or a tab (Excel's
    "Unicode text" export). A semicolon-separated file (European Excel's CSV) is refused
    (``table.delimiter``) rather than read: it comes with decimal commas and thousands points,
    and ``9.350`` (nine thousand) read as a number is 9.35 — a silent misreading, where a
    refusal costs one "Save as CSV UTF-8 (comma delimited)"."""
    text = codecs.getincrementaldecoder(codec)("replace").decode(head, final=False)
    for number, line in enumerate(text.splitlines(), 1):
        commas, semicolons, tabs = line.count(","), line.count(";"), line.count("\t")
        if not commas + semicolons + tabs:
            continue
        if semicolons > commas and semicolons >= tabs:
            raise TableError("table.delimiter", "this file is separated by semicolons "
                             "(European Excel): save it as 'CSV UTF-8 (comma delimited)' or "
                             "as .xlsx (semicolon files carry decimal commas, which are not "
                             "read)", file=file, line=number)
        return "\t" if tabs > commas else ","
    return ","


def _csv_records(path: Path, name: str, codec: str, delimiter: str
                 ) -> tuple[Iterator[tuple[int, list[str]]], Callable[[], None]]:
    stream = text_stream(open(path, "rb"), codec)  # noqa: SIM115 - closed by the Table
    reader = csv.reader(checked_lines(stream, name, codec), delimiter=delimiter, strict=True)

    def records() -> Iterator[tuple[int, list[str]]]:
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _csv_problem(exc, name, start, reader.line_num) from None
            yield start, values
    return records(), stream.close


def _csv_problem(exc: csv.Error, name: str, start: int, end: int) -> TableError:
    text = str(exc)
    if "field larger than field limit" in text:
        return TableError("table.field_limit", f"a field longer than "
                          f"{csv.field_size_limit():,} characters (a quote that is never "
                          f"closed, from line {start}?)", file=name, line=end)
    if "unexpected end of data" in text:
        return TableError("table.quoting", "a quoted field is not closed before the end of the "
                          "file", file=name, line=start)
    if "expected after" in text:
        return TableError("table.quoting", 'text after a closing quote: a quote inside a '
                          'quoted value must be doubled ("")', file=name, line=end)
    return TableError("table.csv", f"not valid CSV ({text})", file=name, line=end)


@dataclass(frozen=True)
class Uncalculated:
    """A formula cell with no calculated value stored: a workbook written by a program and
    never opened and saved in Excel. openpyxl reads such a cell as empty; we refuse it instead
    (``table.formula``), since an empty birth date or milk yield read from ``=B2*305`` is a
    silent loss, not a blank."""

    formula: str


def has_formulas(path: Path) -> bool:
    """Whether a workbook's sheets hold any formula (an ``<f>`` element), read by streaming
    the compressed XML: most files have none and are then parsed once only."""
    tag = re.compile(rb"<(?:\w+:)?f[\s>/]")
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.startswith("xl/worksheets/"):
                continue
            tail = b""
            with archive.open(member) as xml:
                while chunk := xml.read(1 << 20):
                    if tag.search(tail + chunk):
                        return True
                    tail = chunk[-16:]
    return False


def _excel_records(path: Path, name: str
                   ) -> tuple[Iterator[tuple[int, list[Any]]], Callable[[], None]]:
    """The rows of the only sheet, as cached values (``data_only``). When the sheet holds
    formulas, the formulas are read alongside (a second parse of the same XML) so that a
    formula without a cached value becomes :class:`Uncalculated` instead of an empty cell."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
        formulas = (load_workbook(path, read_only=True, data_only=False)
                    if has_formulas(path) else None)
    except _EXCEL_ERRORS as exc:
        raise _excel_problem(exc, name) from None

    def close() -> None:
        book.close()
        if formulas is not None:
            formulas.close()
    sheets = book.sheetnames
    if len(sheets) != 1 or not book.worksheets:
        close()
        shown = ", ".join(repr(s) for s in sheets[:5]) + (" …" if len(sheets) > 5 else "")
        raise TableError("table.sheets", f"the workbook has {len(sheets)} sheets ({shown}); "
                         "keep the rows on one worksheet and delete the others", file=name)
    rows = book.worksheets[0].iter_rows(values_only=True)
    texts = (formulas.worksheets[0].iter_rows(values_only=True) if formulas is not None
             else itertools.repeat(()))

    def records() -> Iterator[tuple[int, list[Any]]]:
        line = 0
        while True:
            try:
                values, written = list(next(rows)), next(texts, ())
            except StopIteration:
                return
            except _EXCEL_ERRORS as exc:
                raise _excel_problem(exc, name, line + 1) from None
            line += 1
            for i, text in enumerate(written):
                text = getattr(text, "text", text)  # an ArrayFormula holds its text
                if (i < len(values) and values[i] is None and isinstance(text, str)
                        and text.startswith("=")):
                    values[i] = Uncalculated(text)
            yield line, values
    return records(), close


def _excel_problem(exc: BaseException, name: str, line: int | None = None) -> TableError:
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return TableError("table.excel", f"not a readable Excel workbook ({type(exc).__name__}"
                      + (f": {detail}" if detail else "") + ")", file=name, line=line)
