"""Helpers shared by test modules and fixtures."""

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from openpyxl import Workbook

from reprotech_core.db.scratch import free_port

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "run_cli", "workbook"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package; ./run test installs it when missing
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage"]


def workbook(rows: list[list[object]], sheets: int = 1) -> bytes:
    """An .xlsx file's bytes: ``rows`` on the first sheet, then ``sheets - 1`` empty ones."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    for n in range(1, sheets):
        book.create_sheet(f"Sheet{n + 1}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_digests(conninfo: str, tables: tuple[str, ...]) -> dict[str, tuple]:
    """Row count and digest of each ``core`` table in ``tables``, and the audit log's length.

    Read through ``conninfo`` (the administrative login sees every row), so a test can prove a
    refused write left the tenant exactly as it was."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        out = {t: conn.execute(f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' "  # noqa: S608
                               f"ORDER BY x::text), '')) FROM core.{t} x").fetchone()
               for t in tables}
        out["audit.log"] = conn.execute("SELECT count(*) FROM audit.log").fetchone()
    return out


@contextmanager
def unchanged(conninfo: str, tables: tuple[str, ...]) -> Iterator[None]:
    """Assert the block changes none of ``tables`` nor the audit log."""
    before = table_digests(conninfo, tables)
    yield
    assert table_digests(conninfo, tables) == before


def run_cli(monkeypatch, capsys, settings, *args: str) -> tuple[int, str]:
    """(exit code, stdout + stderr) of ``reprotech *args`` through its entry point in this
    process, on the database ``settings`` name (pytest's ``monkeypatch`` and ``capsys``)."""
    from reprotech.cli import main  # the whole command: imported by the tests that run it
    from reprotech_core.cli import context
    from reprotech_core.ops import logs

    monkeypatch.setattr(context, "settings", lambda: settings)
    monkeypatch.setattr(logs, "configure_logging", lambda *a, **k: None)  # keep pytest's logging
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(sys, "argv", ["reprotech", *args])
    capsys.readouterr()
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.umask(umask)  # main() narrows the process umask; the suite's other tests keep theirs
    out = capsys.readouterr()
    return code, out.out + out.err
