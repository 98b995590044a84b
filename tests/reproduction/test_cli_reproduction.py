"""`reprotech repro` and `reprotech orders` as an operator runs them, on the test database."""

from __future__ import annotations

import re

from datetime import date

import pytest
from typer.testing import CliRunner

from reprotech_core.cli import context
from reprotech_core.cli.main import app
from reprotech_core.cli.reproduction import ImportRefused
from reprotech_core.finance import OrderEntry, complete_order, place_order
from tests.reproduction.conftest import make_farm
from tests.reproduction.test_import import clean_rows, write_csv

runner = CliRunner()


@pytest.fixture
def cli(pg_settings, monkeypatch):
    monkeypatch.setattr(context, "settings", lambda: pg_settings)
    monkeypatch.setenv("COLUMNS", "200")
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_import_kpis_and_invoice(cli, db, system, customer_of, reference_bull, tmp_path):
    farm = make_farm(db, system, reference_bull, tier="enterprise")
    good = write_csv(tmp_path / "good.csv", clean_rows(farm))
    result = cli("repro", "import", good, "--customer", farm.code)
    assert result.exit_code == 0, result.output
    assert "4 rows read; imported 1 calving, 2 insemination, 1 pregnancy_check" in result.output
    again = cli("repro", "import", good, "--customer", farm.code)
    assert "imported nothing; 4 already present" in again.output
    bad = write_csv(tmp_path / "bad.csv", [{"event": "insemination", "animal": "NOBODY",
                                             "date": "2023-05-01", "bull": "R-AIBULL"}])
    refused = cli("repro", "import", bad, "--customer", farm.code)
    assert isinstance(refused.exception, ImportRefused)
    assert "repro.animal_unknown" in refused.output and "nothing imported" in str(refused.exception)

    kpis = cli("repro", "kpis", "--customer", farm.code)
    assert kpis.exit_code == 0 and "conception_rate" in kpis.output
    by_tech = cli("repro", "kpis", "--customer", farm.code, "--by", "technician")
    assert "T1" in by_tech.output and "T2" in by_tech.output

    with db.session(system) as s:
        order = place_order(s, customer_of(s, farm), OrderEntry("embryo_flush", date(2026, 4, 2),
                                                                farm.cow(1), reference="cli-1"))
        complete_order(s, order.id, date(2026, 4, 3))
    made = cli("orders", "invoice", "--period", "2026-04", "--customer", farm.code)
    assert made.exit_code == 0 and re.search(r"RT-\d{4}-\d{6}", made.output), made.output
    # the flush (260.00) and the file's pregnancy diagnosis with its visit (12.50 + 45.00),
    # ordered from the work recorded; 19 % VAT
    assert "2 order(s) from the work recorded" in made.output
    assert "317.50" in made.output and "377.83 EUR" in made.output
    again = cli("orders", "invoice", "--period", "2026-04", "--customer", farm.code)
    assert "invoice.period_invoiced" in again.output + str(again.exception)
    listing = cli("orders", "list", "--customer", farm.code)
    assert "cli-1" in listing.output and "done" in listing.output


def test_worklist_lists_the_cows_to_see(cli, db, system, reference_bull, tmp_path):
    farm = make_farm(db, system, reference_bull, cows=2)
    good = write_csv(tmp_path / "good.csv", clean_rows(farm))
    assert cli("repro", "import", good, "--customer", farm.code).exit_code == 0
    # on 2023-02-20 cow 2 was served 39 days earlier and not diagnosed; cow 1 is pregnant
    result = cli("repro", "worklist", "--customer", farm.code, "--day", "2023-02-20")
    assert result.exit_code == 0, result.output
    assert "1 cow(s)" in result.output and farm.cow(2) in result.output
    assert "pregnancy check" in result.output and farm.cow(1) not in result.output
    wrong = cli("repro", "worklist", "--customer", farm.code, "--action", "milk")
    assert wrong.exit_code != 0 and "--action must be one of" in wrong.output
