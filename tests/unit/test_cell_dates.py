"""The one date rule of every import (reprotech_core.cell_dates): ISO text and Excel date cells
are dates; every local form is refused by name, never guessed."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprotech_core.cell_dates import NotADate, cell_date, local_date_column, local_form

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@given(DATES)
def test_iso_text_and_excel_cells_are_dates(day):
    assert cell_date(day.isoformat()) == day
    assert cell_date(f"  {day.isoformat()} ") == day
    assert cell_date(datetime(day.year, day.month, day.day, 13, 5)) == day
    assert cell_date(day) == day


@given(DATES, st.sampled_from(["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%m-%d-%Y", "%d/%m/%y",
                               "%Y/%m/%d", "%Y.%m.%d"]))
def test_every_local_form_is_refused_never_read(day, form):
    text = day.strftime(form)
    with pytest.raises(NotADate, match="write dates as YYYY-MM-DD"):
        cell_date(text)
    assert local_form(text) is not None


@pytest.mark.parametrize(("text", "form"), [
    ("03/04/2023", "day-first or month-first (DD/MM/YYYY or MM/DD/YYYY)"),
    ("25.03.2023", "day-first (DD.MM.YYYY)"),
    ("03/25/2023", "month-first (MM/DD/YYYY)"),
    ("3.4.2023", "day-first or month-first (DD.MM.YYYY or MM.DD.YYYY)"),
    ("03/04/23", "a two-digit year"),
    ("2023/04/03", "year-first with '/' (YYYY/MM/DD)"),
    ("2023-4-3", "YYYY-M-D, without the leading zeros"),
])
def test_the_message_names_the_form_seen(text, form):
    with pytest.raises(NotADate) as info:
        cell_date(text)
    assert f"{text!r} is written" in str(info.value) and form in str(info.value)
    assert "refused rather than guessed" in str(info.value)


@pytest.mark.parametrize(("value", "words"), [
    ("2023-02-30", "'2023-02-30' is not a calendar date"),
    ("yesterday", "'yesterday' is not a date; write dates as YYYY-MM-DD"),
    (45019, "45019 is a number, not a date (an Excel date serial?"),
    (45019.5, "is a number, not a date"),
])
def test_other_values_are_not_dates(value, words):
    with pytest.raises(NotADate) as info:
        cell_date(value)
    assert words in str(info.value)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_cell_is_no_date(blank):
    assert cell_date(blank) is None


def test_a_column_wholly_in_a_local_form_is_named_once_at_its_first_line():
    found = local_date_column([(2, None), (3, "03/04/2023"), (4, " "), (5, "25.03.2023")])
    assert found is not None and found[0] == 3
    assert "every date of this column is written in a local form" in found[1]
    assert "'03/04/2023', day-first or month-first" in found[1]


@pytest.mark.parametrize("cells", [
    [(2, "03/04/2023"), (3, "2023-04-03")],        # one ISO date: each row is judged alone
    [(2, "03/04/2023"), (3, datetime(2023, 4, 3))],  # an Excel date cell, likewise
    [(2, "03/04/2023"), (3, "n/a")],                 # not a date at all
    [(2, None), (3, "")],                            # no dates
    [],
])
def test_a_column_not_wholly_local_is_left_to_the_rows(cells):
    assert local_date_column(cells) is None
