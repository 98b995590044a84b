"""Portal fixtures: farms of every shape the pages must handle, built once per session.

- ``pa``: 40 animals, genotypes, released results, reproduction history (the full herd)
- ``pb``, ``pc``: other farms in the same run (the anonymised population has 3+ customers)
- ``pone``: a single animal without genotype or results
- ``pempty``: no animals at all
- ``pbasic``: the basic tier (genomics only: no rankings or mating)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reprotech_core.db.session import Database, Identity
from tests.dashboards.herds import BuiltFarm, FarmSpec, add_user, build_farm, release_run

REFERENCE = "p-sires"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/dashboards/" in str(item.fspath):
            item.add_marker(pytest.mark.db)


@dataclass(frozen=True)
class Portal:
    farms: dict[str, BuiltFarm]
    users: dict[str, Identity]
    run_id: int


@pytest.fixture(scope="session")
def portal(db: Database, system: Identity) -> Portal:
    specs = [FarmSpec("pa", 40, reproduction=True), FarmSpec("pb", 20), FarmSpec("pc", 12),
             FarmSpec("pone", 1, genotyped_share=0.0, evaluated=False),
             FarmSpec("pempty", 0), FarmSpec("pbasic", 6, tier="basic")]
    farms = {spec.code: build_farm(db, system, spec, REFERENCE, seed=11 + i)
             for i, spec in enumerate(specs)}
    run = release_run(db, system, [farms[c] for c in ("pa", "pb", "pc", "pbasic")], REFERENCE,
                      seed=3)
    users = {
        "pa-user": add_user(db, system, "pa-user", "customer_user", "pa"),
        "pa-admin": add_user(db, system, "pa-admin", "customer_admin", "pa"),
        "pb-user": add_user(db, system, "pb-user", "customer_user", "pb"),
        "pone-user": add_user(db, system, "pone-user", "customer_user", "pone"),
        "pempty-user": add_user(db, system, "pempty-user", "customer_user", "pempty"),
        "pbasic-user": add_user(db, system, "pbasic-user", "customer_user", "pbasic"),
        "p-vet": add_user(db, system, "p-vet", "veterinarian"),
    }
    from reprotech_core import accounts

    with db.session(system) as s:
        accounts.assign(s, "p-vet", "pa")
        accounts.assign(s, "p-vet", "pone")
    return Portal(farms, users, run)
