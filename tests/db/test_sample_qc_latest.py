"""``core.sample_qc_latest``: one latest decision per sample with one tie-break, read under the
reader's own row security (``security_invoker``), also from a notebook login that can run any
SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import text

from data_models.lab import QcResult, Sample

EARLY = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
LATE = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
LATEST = "SELECT s.barcode, q.decision FROM core.sample_qc_latest q " \
         "JOIN core.samples s ON s.id = q.sample_id WHERE s.barcode LIKE 'W-QCV-%'"


@pytest.fixture(scope="module")
def decided(db, system, world) -> dict[str, str]:
    """A sample of farm A's and of farm B's cow, each decided more than once; the expected
    latest decision per barcode. Farm A's second and third decisions share one instant: the
    higher id (written last) wins."""
    with db.session(system) as s:
        for barcode, farm, cow, decisions in (
                ("W-QCV-A", world.farm_a, "WA-COW", [("review", EARLY), ("fail", LATE),
                                                     ("pass", LATE)]),
                ("W-QCV-B", world.farm_b, "WB-COW", [("pass", LATE), ("review", EARLY)])):
            sample = Sample(customer_id=farm, animal_id=world.animals[cow], barcode=barcode)
            s.add(sample)
            s.flush()
            for decision, at in decisions:  # inserted in this order: ids ascending
                s.add(QcResult(customer_id=farm, sample_id=sample.id, decision=decision,
                               decided_at=at))
                s.flush()
    return {"W-QCV-A": "pass", "W-QCV-B": "pass"}


def test_one_latest_decision_per_sample_newest_then_highest_id(db, system, decided):
    with db.session(system) as s:
        rows = s.execute(text(LATEST)).all()
    assert sorted(rows) == sorted(decided.items())


def test_the_view_runs_with_the_readers_rights(db, system):
    with db.session(system) as s:
        options = s.scalar(text("SELECT reloptions FROM pg_class "
                                "WHERE oid = 'core.sample_qc_latest'::regclass"))
    assert "security_invoker=true" in options


def test_customer_session_sees_own_samples_only(db, world, decided):
    with db.session(world.users["w-a-user"]) as s:
        assert dict(s.execute(text(LATEST)).all()) == {"W-QCV-A": "pass"}
        assert set(s.scalars(text("SELECT customer_id FROM core.sample_qc_latest"))) <= {
            world.farm_a}


def test_notebook_login_of_farm_a_sees_only_farm_a_through_the_view(notebook, world, decided):
    conn = notebook("w-vet")  # assigned to farm A only
    assert dict(conn.execute(LATEST).fetchall()) == {"W-QCV-A": "pass"}
    assert conn.execute("SELECT count(*) FROM core.sample_qc_latest WHERE customer_id = %s",
                        (world.farm_b,)).fetchone()[0] == 0
    conn.execute(f"SET app.tenant_id = '{world.farm_b}'")  # no setting widens it
    assert dict(conn.execute(LATEST).fetchall()) == {"W-QCV-A": "pass"}


def test_notebook_login_that_sees_every_customer_sees_both(notebook, decided):
    assert dict(notebook("w-lab").execute(LATEST).fetchall()) == decided


def test_researcher_notebook_cannot_read_the_view(notebook, decided):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        notebook("w-res").execute("SELECT count(*) FROM core.sample_qc_latest")
