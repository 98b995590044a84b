"""The demo's simulated registers pass every rule of a herd-book register, for several seeds and
sizes: wrongly recorded sires and unknown parents are what a herd book holds, not errors. Pure
(no database): the rows and the pedigree rules, with the plan's catalogue as the shared one."""

from __future__ import annotations

from datetime import date

import pytest

from reprotech_core.demo import simulated_herd
from reprotech_core.demo_onboarding import (
    REGISTER_COLUMNS,
    FarmFiles,
    write_farm_files,
    write_register,
)
from reprotech_core.herd.pedigree import Known, judge
from reprotech_core.herd.register import interbull_sex, map_header, parse_rows
from reprotech_core.store.simulated import barcode_of, interbull_id, plan_herd
from reprotech_core.table_files import open_table


@pytest.mark.parametrize("excel", [False, True])
@pytest.mark.parametrize(("customers", "per_customer", "seed"),
                         [(2, 30, 20261122), (4, 100, 20261122), (3, 50, 7)])
def test_every_demo_farm_register_is_clean(tmp_path, customers, per_customer, seed, excel):
    herd = simulated_herd(customers, per_customer, 100, seed)
    codes = {f"CUST{i:02d}": f"farm{i + 1:02d}" for i in range(customers)}
    plan = plan_herd(herd, customer_codes=codes, official_id=interbull_id)
    catalogue = {r.official_id: Known(r.official_id, r.sex, r.breed, r.birth_date,
                                      catalogue=True) for r in plan.reference}
    for farm, animals in plan.farms.items():
        if not animals:
            continue  # see test_a_farm_without_animals_has_no_files
        path = write_register(animals, tmp_path / f"{farm}.{'xlsx' if excel else 'csv'}")
        with open_table(path) as table:
            header, problems = map_header(table.header, line=table.header_line, file=path.name)
            raw = [(row.line, row.values) for row in table]
        assert not problems and set(header.columns) == set(REGISTER_COLUMNS) - {
            "herd_code"} | {"herd"}
        parsed = parse_rows(raw, header, path.name, date.today())
        assert not parsed.problems and parsed.normalised == 0
        judgement = judge(parsed.rows, file=path.name, header=header, own={},
                          catalogue=catalogue, herds=plan.herds[farm])
        assert not judgement.problems, judgement.problems[:5]
        assert not judgement.placeholders and len(judgement.new) == len(animals)


def test_demo_ids_are_interbull_with_the_sex_and_the_old_barcodes():
    assert interbull_id("SIMCAN000000123", "F") == "HOLCANF000000000123"
    assert interbull_sex(interbull_id("SIMCAN000000042", "M")) == "M"
    assert barcode_of(interbull_id("SIMCAN000000123", "M")) == barcode_of("SIMCAN000000123")


def test_a_farm_without_animals_has_no_files(tmp_path):
    """This seed and size deal no animal to farm02: an empty register would be refused
    (``table.empty``), so the demo writes and imports nothing for it."""
    herd = simulated_herd(2, 30, 100, 20261122)
    codes = {"CUST00": "farm01", "CUST01": "farm02"}
    plan = plan_herd(herd, customer_codes=codes, official_id=interbull_id)
    assert plan.farms["farm02"] == []
    where = FarmFiles(tmp_path / "register.csv", tmp_path / "records.csv", tmp_path / "s.csv")
    assert write_farm_files(herd, plan, "farm02", where) == FarmFiles(None, None, None)
    assert not list(tmp_path.iterdir())
