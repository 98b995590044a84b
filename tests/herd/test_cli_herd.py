"""`reprotech herd import` and `reprotech herd template` as an operator runs them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from data_models.animals import Animal

from reprotech.cli import app
from reprotech_core.accounts import customer_by_code
from reprotech_core.cli import context
from reprotech_core.cli.herd import ImportRefused
from tests.herd.conftest import CATALOGUE_BULL, unchanged, write_csv

runner = CliRunner()


@pytest.fixture
def cli(pg_settings, monkeypatch):
    monkeypatch.setattr(context, "settings", lambda: pg_settings)
    monkeypatch.setenv("COLUMNS", "200")
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_template_import_dry_run_reimport_and_refusal(cli, db, system, farm, catalogue_bull,
                                                      tmp_path, admin_conninfo):
    template = tmp_path / "template.csv"
    assert cli("herd", "template", "--out", template).exit_code == 0
    frame = pd.read_csv(template, dtype=str)
    assert list(frame.columns)[:5] == ["official_id", "name", "sex", "birth_date", "breed"]

    # The template's own rows import as they are (its bull is one of them).
    with unchanged(admin_conninfo):
        dry = cli("herd", "import", template, "--customer", farm, "--dry-run",
                  "--create-parents")
    assert dry.exit_code == 0, dry.output
    assert "3 new, 0 changed, 0 unchanged; would be written" in dry.output
    done = cli("herd", "import", template, "--customer", farm, "--create-parents")
    assert "3 new, 0 changed, 0 unchanged; written" in done.output, done.output
    again = cli("herd", "import", template, "--customer", farm)
    assert "0 new, 0 changed, 3 unchanged" in again.output
    with db.session(system) as s:
        stored = s.execute(select(Animal.official_id, Animal.management_number, Animal.entry_date,
                                  Animal.entry_status, Animal.placeholder)
                           .where(Animal.customer_id == customer_by_code(s, farm).id)
                           .order_by(Animal.official_id)).all()
    assert stored == [("276000912345678", "17", date(2018, 4, 12), "active", False),
                      ("276000912345679", "42", date(2021, 2, 3), "active", False),
                      ("HOLDEUM000123456789", None, None, None, False)]

    bad = write_csv(tmp_path / "bad.csv", [
        ("276000000000201", "", "F", "2021-01-01", "Holstein", CATALOGUE_BULL, "276000000000202",
         "main")])
    report = tmp_path / "report.csv"
    with unchanged(admin_conninfo):
        refused = cli("herd", "import", bad, "--customer", farm, "--report", report)
    assert isinstance(refused.exception, ImportRefused)
    assert "register.parent_unknown" in refused.output and "nothing written" in refused.output
    assert pd.read_csv(report)["rule"].tolist() == ["register.parent_unknown"]


def test_import_as_a_user_row_security_applies(cli, world, tmp_path):
    path = write_csv(tmp_path / "r.csv", [("276000000000301", "", "F", "2022-01-01",
                                           "Holstein", "", "", "w-b-h")])
    result = cli("herd", "import", path, "--customer", "w-b", "--as", "w-vet")
    assert result.exit_code != 0 and "no customer 'w-b'" in str(result.exception)
