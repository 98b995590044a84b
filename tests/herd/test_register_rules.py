"""The herd register's rules on hand-made rows, without a database: each rule by its name,
with the file's line and column."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprotech_core.herd.pedigree import Known, judge
from reprotech_core.herd.register import (
    COLUMNS,
    id_problem,
    map_header,
    normalise_id,
    parse_rows,
)

TODAY = date(2026, 1, 1)
BULL = "HOLDEUM000000000001"
COW = "276000000000000001"[:15]
CALF = "276000000000002"
HEADER = ["official_id", "name", "sex", "birth_date", "breed", "sire", "dam", "herd"]


def parse(*rows: list, header: list[str] = HEADER):
    head, problems = map_header(header, line=1, file="reg.csv")
    assert not problems
    raw = [(n, dict(zip(header, r, strict=True))) for n, r in enumerate(rows, 2)]
    parsed = parse_rows(raw, head, "reg.csv", TODAY)
    return head, parsed.rows, parsed.problems, parsed.normalised


def judged(*rows: list, own=(), catalogue=(), herds=("main",), **flags):
    head, parsed, problems, _ = parse(*rows)
    assert problems == []
    return judge(parsed, file="reg.csv", header=head, own={k.official_id: k for k in own},
                 catalogue={k.official_id: k for k in catalogue}, herds=herds, **flags)


def rules(problems) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.rule) for p in problems]


def row(oid, sex="F", born="2020-01-01", sire="", dam="", name="", herd="main"):
    return [oid, name, sex, born, "Holstein", sire, dam, herd]


# -- header --------------------------------------------------------------------------------------
def test_header_spellings_are_matched_case_insensitively():
    head, problems = map_header(["Ear Tag", "SEX", "Date of birth", "Breed", "Sire ID", "Dam-ID",
                                 "Herd code", "Mgmt No", "Comment"], line=3, file="f.csv")
    assert problems == []
    assert head.columns["official_id"] == "Ear Tag" and head.columns["dam"] == "Dam-ID"
    assert head.columns["management_number"] == "Mgmt No" and head.ignored == ("Comment",)


def test_missing_columns_are_named():
    _, problems = map_header(["official_id", "sex"], line=1, file="f.csv")
    assert rules(problems) == [(1, "birth_date, breed", "register.columns")]
    assert all(c in problems[0].message for c in COLUMNS)


def test_a_merged_title_row_is_recognised():
    _, problems = map_header(["Herd register export 2025"], line=1, file="f.xlsx")
    assert rules(problems)[0][2] == "register.header"
    assert "merged header row" in problems[0].message


# -- identifiers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [BULL, "JERUSAF00000ABC12345", "276000000000001"])
def test_international_ids_are_accepted(value):
    assert id_problem(value[:19] if len(value) > 19 else value) is None


@pytest.mark.parametrize("value", ["HOLDEUM00012345678", "HOLDEUX000123456789", "DE0123",
                                   "000000000000001", "27600000000001", "HOL-DEU-M-0001234567"])
def test_malformed_ids_are_refused(value):
    assert id_problem(value) is not None


def test_spaces_and_lower_case_are_normalised_and_counted():
    _, rows, problems, normalised = parse(row("276 000 000000 002"), row("holdeum000000000001",
                                                                         sex="M"))
    assert problems == [] and normalised == 2
    assert [r.official_id for r in rows] == ["276000000000002", BULL]


@given(st.text(alphabet="0123456789", min_size=15, max_size=15).filter(
    lambda s: not s.startswith("000")))
def test_every_15_digit_tag_with_a_country_is_accepted(tag):
    spaced = " ".join(tag[i:i + 3] for i in range(0, 15, 3)).lower()
    assert id_problem(normalise_id(spaced)) is None


def test_bad_id_and_id_sex_are_named_with_line_and_column():
    _, _, problems, _ = parse(row("DE123"), row(BULL, sex="F"), row(CALF, sire="XX"))
    assert rules(problems) == [(2, "official_id", "register.id_format"),
                               (3, "official_id", "register.id_sex"),
                               (4, "sire", "register.id_format")]


# -- values --------------------------------------------------------------------------------------
def test_values_of_a_row():
    _, rows, problems, _ = parse(row(CALF, sex="X"), row(COW, born=""), row(BULL, sex="male"),
                                 row("276000000000003", born="2027-01-01"),
                                 row("276000000000004", name="=HYPERLINK(\"x\")"),
                                 row("276000000000005", born="2020-02-30"),
                                 row("276000000000006", name="a\x07b"))
    assert rules(problems) == [(2, "sex", "register.sex"), (3, "birth_date", "register.required"),
                               (5, "birth_date", "register.date_future"),
                               (6, "name", "register.formula"),
                               (7, "birth_date", "register.date"),
                               (8, "name", "text.control_chars")]
    assert [r.sex for r in rows] == ["M"]


# -- dates ---------------------------------------------------------------------------------------
def test_a_date_in_a_local_form_is_refused_by_its_form_not_guessed():
    """One deciding date (13/02) cannot vouch for the others: every non-ISO date is refused
    with its form named, at its own line, when the column also holds ISO dates."""
    _, rows, problems, _ = parse(row(CALF, born="2020-01-05"), row(COW, born="13/02/2019"),
                                 row(BULL, sex="M", born="03.04.2019"))
    assert rules(problems) == [(3, "birth_date", "register.date"),
                               (4, "birth_date", "register.date")]
    assert "day-first (DD/MM/YYYY)" in problems[0].message
    assert "day-first or month-first (DD.MM.YYYY or MM.DD.YYYY)" in problems[1].message
    assert all("write dates as YYYY-MM-DD" in p.message for p in problems)
    assert [r.birth_date for r in rows] == [date(2020, 1, 5)]


def test_a_column_written_wholly_in_a_local_form_is_refused_once():
    _, rows, problems, _ = parse(row(CALF, born="13/02/2020"), row(COW, born="03/04/2019"))
    assert rules(problems) == [(2, "birth_date", "register.date")]
    assert "every date of this column" in problems[0].message and rows == []


def test_entry_before_birth():
    header = [*HEADER, "entry_date"]
    _, _, problems, _ = parse([*row(CALF, born="2020-05-01"), "2020-04-01"], header=header)
    assert rules(problems) == [(2, "entry_date", "register.date_order")]


# -- the file against what is stored -------------------------------------------------------------
def test_a_clean_file_is_all_new_in_parent_order():
    j = judged(row(CALF, born="2021-01-01", sire=BULL, dam=COW), row(COW, born="2018-01-01"),
               catalogue=[Known(BULL, "M", "Holstein", date(2015, 1, 1), catalogue=True)])
    assert j.problems == [] and {r.official_id for r in j.new} == {CALF, COW}


def test_a_refused_parent_row_is_not_also_an_unknown_parent():
    head, parsed, problems, _ = parse(row(CALF, dam=COW, born="2021-01-01"),
                                      row(COW, sex="X", born="2018-01-01"))
    refused = parse_rows([(3, dict(zip(HEADER, row(COW, sex="X"), strict=True)))], head,
                         "reg.csv", TODAY).refused
    assert refused == {COW}
    j = judge(parsed, file="reg.csv", header=head, own={}, catalogue={}, herds=["main"],
              refused=refused)
    assert rules(problems) == [(3, "sex", "register.sex")] and j.problems == []


def test_a_bad_date_is_reported_even_after_other_problems():
    _, _, problems, _ = parse(row(CALF, sex="X"), row(COW, born="2020-13-01"))
    assert rules(problems) == [(2, "sex", "register.sex"), (3, "birth_date", "register.date")]


def test_duplicates_within_the_file():
    j = judged(row(CALF), row(COW), row(CALF))
    assert rules(j.problems) == [(4, "official_id", "register.duplicate")]
    assert "also on line 2" in j.problems[0].message


def test_unknown_parent_is_refused_or_a_placeholder_when_asked():
    j = judged(row(CALF, sire=BULL))
    assert rules(j.problems) == [(2, "sire", "register.parent_unknown")]
    j = judged(row(CALF, sire=BULL, dam=COW), create_parents=True)
    assert j.problems == [] and [(k.official_id, k.sex) for k in j.placeholders] == [
        (COW, "F"), (BULL, "M")]


def test_parent_sex_from_the_file_stored_and_catalogue():
    j = judged(row(CALF, sire=COW, born="2021-01-01"), row(COW, born="2018-01-01"))
    assert rules(j.problems) == [(2, "sire", "register.parent_sex")]
    j = judged(row(CALF, dam=BULL), catalogue=[Known(BULL, "M", "Holstein", None, catalogue=True)])
    assert rules(j.problems) == [(2, "dam", "register.parent_sex")]


def test_a_dam_younger_than_her_calf():
    j = judged(row(CALF, dam=COW, born="2018-01-01"), row(COW, born="2019-01-01"))
    assert rules(j.problems) == [(2, "dam", "register.parent_born_after_calf")]


def test_a_corrected_birth_date_is_judged_against_stored_calves():
    stored = [Known(COW, "F", "Holstein", date(2018, 1, 1), herd="main"),
              Known(CALF, "F", "Holstein", date(2021, 1, 1), herd="main", dam=COW)]
    j = judged(row(COW, born="2022-01-01"), own=stored)
    assert rules(j.problems) == [(2, "official_id", "register.parent_born_after_calf")]
    assert f"stored animal {CALF}" in j.problems[0].message


def test_a_pedigree_cycle_in_the_file_and_through_stored_animals():
    a, b, c = "276000000000010", "276000000000011", "276000000000012"
    j = judged(row(a, dam=b), row(b, dam=c), row(c, dam=a))  # same birth dates: order fails too
    cycles = [p for p in j.problems if p.rule == "register.cycle"]
    assert rules(cycles) == [(2, "sire", "register.cycle")]
    assert f"{a} -> {b} -> {c} -> {a}" in cycles[0].message
    stored = [Known(b, "F", "Holstein", None, dam=a, herd="main")]  # no birth date stored
    j = judged(row(a, dam=b), own=stored)
    assert rules(j.problems) == [(2, "sire", "register.cycle")]


def test_unknown_herd_is_refused_or_created_when_asked():
    j = judged(row(CALF, herd="north"))
    assert rules(j.problems) == [(2, "herd", "register.herd_unknown")]
    assert judged(row(CALF, herd="north"), create_herds=True).new_herds == ["north"]


def test_re_import_is_unchanged_and_a_correction_lists_each_field():
    stored = [Known(COW, "F", "Holstein", date(2018, 1, 1), name="Berta", herd="main"),
              Known(CALF, "F", "Holstein", date(2021, 1, 1), herd="main", dam=COW)]
    same = judged(row(COW, born="2018-01-01", name="Berta"),
                  row(CALF, born="2021-01-01", dam=COW), own=stored)
    assert same.problems == [] and same.new == [] and same.changes == [] and same.unchanged == 2
    fixed = judged(row(COW, born="2017-12-01", name="Bertha"),
                   row(CALF, born="2021-01-01", dam=COW), own=stored)
    assert [(c.official_id, c.field, c.old, c.new) for c in fixed.changes] == [
        (COW, "name", "Berta", "Bertha"), (COW, "birth_date", date(2018, 1, 1), date(2017, 12, 1))]
    assert fixed.unchanged == 1 and fixed.change_order == [COW]


def test_a_column_the_file_lacks_is_left_as_stored():
    stored = [Known(CALF, "F", "Holstein", date(2021, 1, 1), name="Clara", herd="main")]
    head, parsed, _, _ = parse(["276000000000002", "F", "2021-01-01", "Holstein"],
                               header=["official_id", "sex", "birth_date", "breed"])
    j = judge(parsed, file="f.csv", header=head, own={CALF: stored[0]}, catalogue={},
              herds=["main"])
    assert j.changes == [] and j.unchanged == 1
