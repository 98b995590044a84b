"""The phenotype file of ``reprotech eval gblup``: fixed effects by name, traits as numbers,
anything else refused naming file, line and column (rule ``pheno.*``)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import Workbook

from reprotech_core.records.phenotype_file import read_phenotype_file
from reprotech_core.table_files import TableError


def write(path, text):
    path.write_text(text)
    return path


def test_birth_date_becomes_the_birth_year_effect_and_herd_stays_text(tmp_path):
    records, traits = read_phenotype_file(write(tmp_path / "p.csv", (
        "animal,herd,birth_date,milk,fat\nA1,H1,2005-11-17,9000,380\nA2,H2,2006-01-02,,400\n")))
    assert traits == ["milk", "fat"]
    assert list(records["birth_year"]) == ["2005", "2006"]
    assert list(records["herd"]) == ["H1", "H2"]
    assert records["milk"].isna().tolist() == [False, True]
    assert records["fat"].dtype == float


def test_excel_date_and_year_cells(tmp_path):
    wb = Workbook()
    wb.active.append(["animal", "birth_date", "milk"])
    wb.active.append(["A1", datetime(2019, 3, 4), 8000])
    wb.save(tmp_path / "p.xlsx")
    records, traits = read_phenotype_file(tmp_path / "p.xlsx")
    assert traits == ["milk"] and list(records["birth_year"]) == ["2019"]


def test_record_date_is_read_as_a_date_for_the_contemporary_groups(tmp_path):
    records, traits = read_phenotype_file(write(tmp_path / "p.csv", (
        "animal,herd,record_date,milk\nA1,H1,2023-12-05,9000\nA2,H1,,8000\n")))
    assert traits == ["milk"]
    assert list(records["record_date"]) == [date(2023, 12, 5), None]


@pytest.mark.parametrize(("text", "rule", "line", "column", "words"), [
    ("animal,breed,milk\nA1,Holstein,9000\n", "pheno.not_numeric", 2, "breed",
     "column 'breed' of p.csv is read as a trait"),
    ("animal,milk\nA1,9000\nA2,2005-11-17\n", "pheno.not_numeric", 3, "milk", "'2005-11-17'"),
    ("animal,birth_date,milk\nA1,17/11/2005,9000\nA2,03/04/2006,8000\n", "pheno.date", 2,
     "birth_date", "every date of this column is written in a local form (the first, "
     "'17/11/2005', day-first (DD/MM/YYYY))"),
    ("animal,birth_date,milk\nA1,2005-11-17,9000\nA2,03/04/2006,8000\n", "pheno.date", 3,
     "birth_date", "'03/04/2006' is written day-first or month-first (DD/MM/YYYY or "
     "MM/DD/YYYY), which is refused rather than guessed; write dates as YYYY-MM-DD"),
    ("animal,birth_date,milk\nA1,2005-02-30,9000\n", "pheno.date", 2, "birth_date",
     "'2005-02-30' is not a calendar date"),
    ("animal,birth_date,birth_year,milk\nA1,2005-11-17,2005,9000\n", "pheno.fixed_effect", 1,
     "birth_date", "not both"),
    ("id,milk\nA1,9000\n", "table.columns", 1, None, "missing column animal"),
    ("animal,record_date,milk\nA1,2024-03-01,9000\n", "pheno.fixed_effect", 1, "record_date",
     "needs a herd column"),
    ("animal,herd,cg,record_date,milk\nA1,H1,g1,2024-03-01,9000\n", "pheno.fixed_effect", 1,
     "record_date", "give cg or record_date, not both"),
    ("animal,herd,record_date,milk\nA1,H1,2024-03-01,9000\nA2,H1,2024-13-01,1\n", "pheno.date",
     3, "record_date", "'2024-13-01' is not a calendar date"),
])
def test_refused_with_rule_file_line_and_column(tmp_path, text, rule, line, column, words):
    with pytest.raises(TableError) as info:
        read_phenotype_file(write(tmp_path / "p.csv", text))
    e = info.value
    assert (e.rule, e.file, e.line, e.column) == (rule, "p.csv", line, column)
    assert words in str(e)
