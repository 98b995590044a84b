"""`reprotech records` as an operator runs it, on the test database."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from reprotech_core.cli import context
from reprotech_core.cli.main import app
from reprotech_core.cli.records import RecordsRefused
from tests.reproduction.test_records_import import LACT, lactations, write_csv

runner = CliRunner()


@pytest.fixture
def cli(pg_settings, monkeypatch):
    monkeypatch.setattr(context, "settings", lambda: pg_settings)
    monkeypatch.setenv("COLUMNS", "200")
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_template_dry_run_import_reimport_refusal_and_derive(cli, farm, tmp_path):
    made = cli("records", "template", "--kind", "health", "--out", tmp_path / "t.csv")
    assert made.exit_code == 0 and (tmp_path / "t.csv").read_text().startswith(
        "animal,date,event,herd")
    path = write_csv(tmp_path / "lact.csv", LACT, lactations(farm))
    dry = cli("records", "import", path, "--customer", farm.code, "--dry-run",
              "--report", tmp_path / "report.csv")
    assert dry.exit_code == 0, dry.output
    assert "3 rows read; records 7 new" in dry.output and "nothing written (dry run)" in dry.output
    assert set(pd.read_csv(tmp_path / "report.csv")["status"]) == {"new"}
    done = cli("records", "import", path, "--customer", farm.code)
    assert done.exit_code == 0 and "7 new" in done.output and "written" in done.output
    again = cli("records", "import", path, "--customer", farm.code, "--kind", "lactations")
    assert "0 new, 0 changed, 7 unchanged, 0 refused" in again.output
    bad = write_csv(tmp_path / "bad.csv", LACT, [["NOBODY", 1, "2022-01-01", 8000, "", "", ""]])
    refused = cli("records", "import", bad, "--customer", farm.code)
    assert isinstance(refused.exception, RecordsRefused)
    assert "records.unknown_animal" in refused.output and "nothing imported" in str(
        refused.exception)
    wrong = cli("records", "import", path, "--customer", farm.code, "--kind", "weights")
    assert wrong.exit_code != 0
    derived = cli("records", "derive", "--customer", farm.code)
    assert derived.exit_code == 0 and "derived phenotypes: 0 new" in derived.output
