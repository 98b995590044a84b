"""The table reader every import uses, fuzzed; and the web upload's bad files, on the database.

Property: whatever the bytes, :func:`open_table` either parses the table or raises the
project's :class:`TableError` (file, line, column) — never another exception. A valid table
written in any encoding is read back exactly when the encoding is unambiguous (UTF-8 with or
without BOM, UTF-16/32 with BOM, UTF-16 without BOM), and refused with the line and byte when
it is Latin-1/Windows-1252 with accents (we do not guess those: docs in table_files).
"""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprotech_core import accounts
from reprotech_core.errors import RuleViolation
from reprotech_core.reproduction import forms
from reprotech_core.table_files import TableError, open_table
from tests.db.test_cli_import_errors import core_counts
from tests.support import workbook

HEADER = ["event", "animal", "note"]
# ASCII plus accented letters whose Latin-1 bytes (0xC0-0xFF) can never form valid UTF-8
# without continuation bytes (0x80-0xBF): a Latin-1 file of them is always detectably not UTF-8.
ALPHABET = st.sampled_from("abcXYZ019 -_,;\"'\néèüöäñçßÅØ")
VALUE = st.text(ALPHABET, max_size=12)
ROWS = st.lists(st.tuples(st.text(st.sampled_from("abcXYZ019éü"), min_size=1, max_size=8),
                          VALUE, VALUE), min_size=1, max_size=6)
UNAMBIGUOUS = ("utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-le", "utf-16-be")
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def csv_text(rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def read_all(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    with open_table(path) as table:
        return table.header, [(r.line, r.values) for r in table]


def xlsx_bytes(rows: list[list[object]], sheets: int = 1) -> bytes:
    return workbook([HEADER, *rows], sheets)


@FUZZ
@given(rows=ROWS, codec=st.sampled_from(UNAMBIGUOUS + ("latin-1", "cp1252")))
def test_a_valid_table_in_any_encoding_is_read_back_or_refused_by_line(tmp_path, rows, codec):
    path = tmp_path / "events.csv"
    text = csv_text(rows)
    path.write_bytes(text.encode(codec))
    accented = any(ord(c) > 127 for c in text)
    if codec in ("latin-1", "cp1252") and accented:
        with pytest.raises(TableError) as refused:
            read_all(path)
        assert refused.value.rule == "table.encoding" and refused.value.line >= 2
        assert "is not UTF-8; save the file as UTF-8" in str(refused.value)
        return
    header, got = read_all(path)
    assert header == HEADER
    assert [tuple(values[c] for c in HEADER) for _, values in got] == rows


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".xlsx", ".txt"]))
def test_random_bytes_are_a_table_or_a_clean_error(tmp_path, data, suffix):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(data)
    try:
        read_all(path)
    except TableError as exc:
        assert exc.file == path.name and exc.reason


@FUZZ
@given(rows=ROWS, cuts=st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=8)),
                                max_size=4), excel=st.booleans())
def test_damaged_files_are_a_table_or_a_clean_error(tmp_path, rows, cuts, excel):
    data = bytearray(xlsx_bytes([list(r) for r in rows]) if excel
                     else csv_text(rows).encode("utf-8"))
    for at, junk in cuts:
        at %= len(data) + 1
        data[at:at + len(junk)] = junk
    path = tmp_path / ("events.xlsx" if excel else "events.csv")
    path.write_bytes(bytes(data))
    try:
        read_all(path)
    except TableError as exc:
        assert exc.file == path.name and exc.reason


@pytest.mark.parametrize(("content", "line", "column", "rule"), [
    (b"event,animal\ninsemination,C\xe9line\n", 2, 15, "table.encoding"),
    (b"event,animal\ninsemination,C\x00\n", 2, 15, "table.nul"),
    (b"event,animal\nx," + b"y" * 200_000 + b"\n", 2, None, "table.field_limit"),
    (b'event,animal\nx,"open\nrest\n', 2, None, "table.quoting"),
    (b"event,animal\nx,y,z\n", 2, 3, "table.ragged_row"),
    (b"event,animal\nx\n", 2, None, "table.ragged_row"),
    (b"event,animal\n\n", None, None, "table.empty"),
    (b"event,,animal\n", 1, 2, "table.header"),
    (b"\n\n", None, None, "table.empty"),
])
def test_each_bad_csv_names_its_line_and_column(tmp_path, content, line, column, rule):
    (tmp_path / "f.csv").write_bytes(content)
    with pytest.raises(TableError) as refused:
        read_all(tmp_path / "f.csv")
    assert (refused.value.rule, refused.value.line, refused.value.column) == (rule, line, column)
    assert str(refused.value).startswith("f.csv")


def test_values_longer_than_their_column_are_refused_by_name(tmp_path):
    (tmp_path / "f.csv").write_bytes(b"event,technician\nx," + b"t" * 65 + b"\n")
    with open_table(tmp_path / "f.csv", max_lengths={"technician": 64}) as table, \
            pytest.raises(TableError, match=r"f.csv, line 2, column technician: 65 characters; "
                                            r"technician holds at most 64"):
        list(table)


def test_workbooks_that_are_not_one_table(tmp_path):
    (tmp_path / "two.xlsx").write_bytes(xlsx_bytes([["insemination", "C1", ""]], sheets=2))
    with pytest.raises(TableError, match="the workbook has 2 sheets"):
        read_all(tmp_path / "two.xlsx")
    (tmp_path / "ok.xlsx").write_bytes(xlsx_bytes([["insemination", "C1", None]]))
    assert read_all(tmp_path / "ok.xlsx")[1] == [(2, {"event": "insemination", "animal": "C1",
                                                      "note": None})]


# The web upload, on the database -------------------------------------------------------------
_users = itertools.count(1)


@pytest.fixture
def vet(db, system, farm):
    """A vet assigned to ``farm``: who uploads on the "Record work" page."""
    name = f"upload-vet-{next(_users)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, name, "veterinarian"))
        accounts.assign(s, name, farm.code)
    return db.identity(name)


def test_an_upload_in_utf16_or_with_a_bom_imports(db, admin_conninfo, farm, vet):
    before = core_counts(admin_conninfo)
    rows = (f"event,animal,date,bull\ninsemination,{farm.cow(1)},2024-03-04,{farm.ref_bull}\n"
            f"insemination,{farm.cow(2)},2024-03-05,{farm.ref_bull}\n")
    for n, content in enumerate([rows.encode("utf-16"), rows.encode("utf-8-sig")]):
        with db.session(vet) as s:
            report = forms.import_upload(s, farm.code, f"events{n}.csv", content)
        assert report.ok and report.written, report.errors
    after = core_counts(admin_conninfo)
    assert after["inseminations"] == before["inseminations"] + 2


@pytest.mark.parametrize(("content", "expected"), [
    ("event,animal,date,bull\ninsemination,{cow},2024-03-04,{bull}\n"
     "insemination,{cow2},2024-03-05,B\xe9atrice\n".encode("latin-1"),
     r"events.csv, line 3, column 35: byte 0xE9 is not UTF-8; save the file as UTF-8"),
    (b"event,animal,date,bull\ninsemination,{cow},2024-03-04,{bull},extra\n",
     r"events.csv, line 2, column 5: 5 fields, but the header on line 1 names 4 columns"),
    (xlsx_bytes([], sheets=1), r"events.csv: an Excel workbook \(or another zip file\), not "
                               r"CSV text: name it .xlsx"),
])
def test_a_bad_upload_names_the_line_and_writes_nothing(db, admin_conninfo, farm, vet, content,
                                                        expected):
    content = content.replace(b"{cow}", farm.cow(1).encode()).replace(
        b"{cow2}", farm.cow(2).encode()).replace(b"{bull}", farm.ref_bull.encode())
    before = core_counts(admin_conninfo)
    with db.session(vet) as s, pytest.raises(RuleViolation, match=expected):
        forms.import_upload(s, farm.code, "events.csv", content)
    assert core_counts(admin_conninfo) == before


@pytest.mark.parametrize("filename", ["../../escape.csv", "/tmp/escape.csv", "..\\..\\escape.csv",
                                      "dir/../../escape.csv"])
def test_an_upload_name_cannot_place_the_file(db, admin_conninfo, farm, vet, tmp_path,
                                              monkeypatch, filename):
    """The browser's file name only labels the report; the content is stored under our own
    name in a private folder, whatever the name says."""
    uploads = tmp_path / "a" / "b"
    uploads.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    assert not Path("/tmp/escape.csv").exists()
    before = core_counts(admin_conninfo)
    content = f"event,animal,date,bull\ninsemination,{farm.cow(1)},2024-03-04,{farm.ref_bull}\n"
    with db.session(vet) as s:
        report = forms.import_upload(s, farm.code, filename, content.encode())
    assert report.file == "escape.csv" and report.written
    assert not list(tmp_path.rglob("escape.csv")) and not Path("/tmp/escape.csv").exists()
    assert not list(uploads.iterdir())  # the private folder is gone after the import
    assert core_counts(admin_conninfo)["inseminations"] == before["inseminations"] + 1
