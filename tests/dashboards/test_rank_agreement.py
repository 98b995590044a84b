"""One herd ranked through the portal, the herd report and the CLI comes out in one order.

The three used to rank with two index copies that disagreed on a missing GEBV (one raised,
one dropped the trait). They now share ``reprotech_core.results.index``; this test keeps it so.
The herd gets a newer released run (rolled back at the end) in which one animal lacks a
weighted GEBV and two animals tie, the two cases where copies drift apart.
"""

from __future__ import annotations

import pytest

from data_models.evaluation import EvaluationResult, EvaluationRun
from reprotech_core import accounts
from reprotech_core.cli.evaluation import index_table
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.portal import herd, rankings
from reprotech_core.reports import herd_report
from reprotech_core.results.released import released_results, released_run

WEIGHTS = {"milk_production": 0.002, "fertility": -0.1, "disease_resistance": 0.2,
           "longevity": 0.05}


class Undo(Exception):
    pass


def test_portal_report_and_cli_rank_one_herd_alike(db, system, portal):
    farm = portal.farms["pa"]
    with pytest.raises(Undo), db.session(system) as s:
        current = released_results(s, farm.id)
        animals = sorted(current["animal"].unique())
        lacking, tied, twin = animals[0], animals[1], animals[2]
        run = EvaluationRun(method="gblup", status="released", parameters={"test": "agree"})
        s.add(run)
        s.flush()
        gebv = current.set_index(["animal", "trait"])["gebv"]
        s.add_all([EvaluationResult(
            run_id=run.id, customer_id=farm.id, animal_id=int(r.animal), trait=r.trait,
            gebv=float(gebv[(tied, r.trait)] if r.animal == twin else r.gebv),
            reliability=float(r.reliability), released=True)
            for r in current.itertuples()
            if not (r.animal == lacking and r.trait == "fertility")])
        s.flush()
        assert released_run(s, farm.id) == run.id
        results = released_results(s, farm.id)

        table = herd.herd_table(herd.herd_animals(s, farm.id), results, WEIGHTS)
        portal_order = list(rankings.ranked(table, WEIGHTS)["official_id"])
        report = herd_report(s, accounts.customer_by_code(s, "pa"), index_weights=WEIGHTS)
        report_order = list(report["rankings"]["official_id"])
        cli = index_table(results.assign(animal=results["official_id"]), WEIGHTS,
                          traits=list(TRAITS))
        cli_order = list(cli["animal"])

        names = results.drop_duplicates("animal").set_index("animal")["official_id"]
        assert len(portal_order) == len(animals) - 1
        assert portal_order == report_order == cli_order
        assert names[lacking] not in portal_order  # never ranked on fewer traits ...
        assert int(report["summary"].at[0, "unranked"]) == 1  # ... but counted
        assert rankings.unranked(table, WEIGHTS) == len(table) - len(portal_order)
        pair = sorted([names[tied], names[twin]])  # equal indexes: official-ID order
        first = portal_order.index(pair[0])
        assert portal_order[first + 1] == pair[1]
        raise Undo
