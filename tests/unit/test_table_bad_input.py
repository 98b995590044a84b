"""Bad input the table reader refuses for every import (issue #17): semicolon-separated CSV,
title rows and two-row headers, Excel formulas without a calculated value; tab-separated text
and calculated formulas are read. Each refusal names its rule, file, line and column. And the
upload check refuses a 200 MB file by its size, before reading a byte of it."""

from __future__ import annotations

import builtins
import io
import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from reprotech_core.table_files import TableError, has_formulas, open_table
from reprotech_core.uploads import UploadRefused, check_upload


def sheet(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    if merge:
        book.active.merge_cells(merge)
    book.save(path)
    return path


def calculated(path: Path, cell: str, value: str) -> Path:
    """Give formula ``cell`` the cached value Excel would have stored on saving (openpyxl
    writes formulas without one)."""
    with zipfile.ZipFile(path) as book:
        parts = {n: book.read(n) for n in book.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    start = xml.index(f'<c r="{cell}"')
    end = xml.index("</c>", start)
    parts["xl/worksheets/sheet1.xml"] = (xml[:start] + xml[start:end].replace(
        "<v />", f"<v>{value}</v>") + xml[end:]).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        for n, data in parts.items():
            book.writestr(n, data)
    path.write_bytes(out.getvalue())
    return path


def refusal(path: Path) -> TableError:
    with pytest.raises(TableError) as info, open_table(path) as table:
        list(table)
    return info.value


def where(error: TableError) -> tuple:
    return error.rule, error.file, error.line, error.column


# -- separators ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "line"), [
    ("animal;lactation;milk_kg\nDE1;1;9350,5\n", 1),
    ("Herd export\nanimal;lactation;milk_kg\nDE1;1;9.350\n", 2),  # the first line with one
])
def test_a_semicolon_file_from_european_excel_is_refused(tmp_path, text, line):
    (tmp_path / "semi.csv").write_text(text)
    error = refusal(tmp_path / "semi.csv")
    assert where(error) == ("table.delimiter", "semi.csv", line, None)
    assert "separated by semicolons (European Excel)" in error.reason
    assert "CSV UTF-8 (comma delimited)" in error.reason


def test_excels_unicode_text_is_tab_separated_utf16_and_read(tmp_path):
    """The values are never split on a comma: a decimal comma stays the text '9350,5' for the
    import's number rule to refuse, never becomes two fields or 9350."""
    path = tmp_path / "unicode.txt"
    path.write_bytes("animal\tname\tmilk_kg\r\nDE1\tZoë, the 2nd\t9350,5\r\n".encode("utf-16"))
    with open_table(path) as table:
        assert table.header == ["animal", "name", "milk_kg"]
        assert [r.values for r in table] == [
            {"animal": "DE1", "name": "Zoë, the 2nd", "milk_kg": "9350,5"}]


def test_a_comma_file_with_semicolons_in_values_is_read(tmp_path):
    (tmp_path / "ok.csv").write_text("animal,note\nDE1,a;b;c\n")
    with open_table(tmp_path / "ok.csv") as table:
        assert [r.values["note"] for r in table] == ["a;b;c"]


# -- header rows ---------------------------------------------------------------------------------
def test_a_title_row_above_the_header_is_refused_naming_the_header_line(tmp_path):
    (tmp_path / "title.csv").write_text("Lactations 2024\n\nanimal,lactation,milk_kg\nDE1,1,9000\n")
    error = refusal(tmp_path / "title.csv")
    assert where(error) == ("table.title_row", "title.csv", 1, 1)
    assert "'Lactations 2024'" in error.reason
    assert "line 3 (which looks like the header)" in error.reason


def test_a_merged_title_row_in_a_workbook_is_refused(tmp_path):
    path = sheet(tmp_path / "title.xlsx", [["Herd book 2025"], ["animal", "sex", "birth_date"],
                                            ["DE1", "F", "2020-01-01"]], merge="A1:C1")
    assert where(refusal(path)) == ("table.title_row", "title.xlsx", 1, 1)


def test_a_header_over_two_rows_of_merged_cells_is_refused(tmp_path):
    path = sheet(tmp_path / "two.xlsx", [["Animal", None, "Lactation", None],
                                         ["animal", "name", "milk_kg", "fat_kg"],
                                         ["DE1", "Berta", 9000, 380]], merge="A1:B1")
    error = refusal(path)
    assert where(error) == ("table.header_rows", "two.xlsx", 1, 2)
    assert "line 2 names it ('name')" in error.reason
    assert "line 2 (which looks like the header)" in error.reason


def test_a_one_column_file_is_not_a_title_row(tmp_path):
    (tmp_path / "ids.csv").write_text("animal\nDE1\nDE2\n")
    with open_table(tmp_path / "ids.csv") as table:
        assert [r.values["animal"] for r in table] == ["DE1", "DE2"]


# -- formulas ------------------------------------------------------------------------------------
def test_a_formula_without_a_calculated_value_is_refused_at_its_cell(tmp_path):
    path = sheet(tmp_path / "f.xlsx", [["animal", "lactation", "milk_kg"], ["DE1", 1, 9000],
                                       ["DE2", 1, "=C2*1.05"]])
    error = refusal(path)
    assert where(error) == ("table.formula", "f.xlsx", 3, "milk_kg")
    assert "'=C2*1.05' has no calculated value" in error.reason


def test_a_formula_with_a_calculated_value_reads_its_value(tmp_path):
    path = calculated(sheet(tmp_path / "f.xlsx", [["animal", "milk_kg"], ["DE1", 9000],
                                                  ["DE2", "=B2*1.05"]]), "B3", "9450")
    assert has_formulas(path)
    with open_table(path) as table:
        assert [r.values["milk_kg"] for r in table] == [9000, 9450]


def test_a_workbook_without_formulas_is_parsed_once(tmp_path):
    assert not has_formulas(sheet(tmp_path / "plain.xlsx", [["animal"], ["DE1"]]))


# -- size ----------------------------------------------------------------------------------------
def test_a_200_mb_file_is_refused_by_its_size_before_a_byte_is_read(tmp_path, monkeypatch):
    """A sparse file: 200 MB long, almost nothing on disk, so the test is fast."""
    path = tmp_path / "register.csv"
    path.write_text("animal,sex\n")
    os.truncate(path, 200 * 2**20)
    assert os.stat(path).st_blocks * 512 < 2**20
    opened: list[str] = []
    real_open = builtins.open

    def watching_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", watching_open)
    with pytest.raises(UploadRefused) as info:
        check_upload(path, max_bytes=100 * 2**20, kind="csv", name="register.csv")
    assert info.value.rule == "upload.too_large"
    assert str(info.value) == ("register.csv: 200.0 MiB is larger than the upload limit of "
                               "100 MiB (setting upload_max_mb)")
    assert str(path) not in opened
