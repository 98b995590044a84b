"""Smoke test of the test herds themselves (the other portal tests rely on their shape)."""

from sqlalchemy import text


def test_farms_have_the_promised_shape(db, system, portal):
    with db.session(system) as s:
        n = dict(s.execute(text("SELECT c.code, count(a.id) FROM core.customers c LEFT JOIN "
                                "core.animals a ON a.customer_id = c.id WHERE c.code LIKE 'p%' "
                                "GROUP BY c.code")).all())
        released = s.scalar(text("SELECT count(*) FROM core.evaluation_results WHERE run_id = :r "
                                 "AND released"), {"r": portal.run_id})
        services = s.scalar(text("SELECT count(*) FROM core.reproduction_services "
                                 "WHERE customer_id = :c"), {"c": portal.farms["pa"].id})
    pa = portal.farms["pa"]
    assert len(pa.animals) == 40 and len(pa.calves) > 0  # + the calves of simulated calvings
    assert n["pa"] == len(pa.every_animal) and n["pone"] == 1 and n["pempty"] == 0
    assert released > 0
    assert services > 0
