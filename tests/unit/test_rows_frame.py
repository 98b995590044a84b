"""``rows_frame``: the frame pandas builds from query rows, built from plain tuples."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import create_engine, text

from reprotech_core.db.frames import rows_frame

COLUMNS = ("id", "official_id", "born", "f", "note")


def test_equals_the_frame_of_sqlalchemy_rows():
    engine = create_engine("sqlite://")
    with engine.connect() as c:
        c.execute(text("CREATE TABLE t (id int, official_id text, born date, f real, note text)"))
        c.execute(text("INSERT INTO t VALUES (:i, :o, :b, :f, :n)"),
                  [{"i": i, "o": f"DE{i:04d}", "b": dt.date(2020, 1, 1 + i % 28),
                    "f": None if i % 3 else i / 10, "n": None} for i in range(50)])
        rows = c.execute(text("SELECT * FROM t ORDER BY id")).all()
    want = pd.DataFrame(rows, columns=list(COLUMNS))
    got = rows_frame(rows, COLUMNS)
    pd.testing.assert_frame_equal(got, want)


def test_no_rows_still_has_the_columns():
    for rows in (None, [], ()):
        got = rows_frame(rows, COLUMNS)
        assert list(got.columns) == list(COLUMNS) and got.empty
