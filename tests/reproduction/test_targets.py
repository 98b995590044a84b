"""A herd's waiting period and targets: checked values (named refusals, nothing written), set by
the customer admin and the customer's vet only, "not found" for a customer the user cannot
see, and the ranges held by the database for every writer."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text

from reprotech_core import accounts
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.reproduction.targets import (
    HerdTargets,
    check_targets,
    herd_targets,
    save_targets,
)
from reprotech_core.textfields import RecordRefused
from tests.reproduction.conftest import make_farm

_n = itertools.count(1)


def test_check_targets_values_and_named_problems():
    t, problems = check_targets({"vwp_days": "60", "conception_rate_pct": 40,
                                 "days_open": "", "calving_interval_days": "395"})
    assert problems == [] and t == HerdTargets(vwp_days=60, conception_rate_pct=40,
                                               calving_interval_days=395)
    _, problems = check_targets({"vwp_days": "10", "conception_rate_pct": "140",
                                 "days_open": "ninety", "first_calving_months": "24.5"})
    assert [(p.rule, p.column) for p in problems] == [
        ("targets.range", "vwp_days"), ("targets.range", "conception_rate_pct"),
        ("targets.number", "days_open"), ("targets.number", "first_calving_months")]
    assert "10 is outside 20–120" in problems[0].message
    _, problems = check_targets({"vwp_days": ""})
    assert [(p.rule, p.column) for p in problems] == [("targets.range", "vwp_days")]
    with pytest.raises(ValueError, match="unknown target fields: milk"):
        check_targets({"vwp_days": 50, "milk": 1})


def _user(db, system, role: str, customer: str | None):
    name = f"tg-{role}-{next(_n)}"
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(name, name, role, customer))
    return db.identity(name)


def test_admin_and_vet_set_targets_others_are_refused(db, system, reference_bull):
    farm = make_farm(db, system, reference_bull)
    other = make_farm(db, system, reference_bull)
    admin = _user(db, system, "customer_admin", farm.code)
    user = _user(db, system, "customer_user", farm.code)
    vet = _user(db, system, "veterinarian", None)
    with db.session(system) as s:
        accounts.assign(s, vet.username, farm.code)
    with db.session(user) as s:
        assert herd_targets(s, farm.id) == HerdTargets()  # nothing set: the defaults
    with db.session(admin) as s:
        save_targets(s, farm.id, {"vwp_days": "60", "pregnancy_rate_pct": "22"})
    with db.session(user) as s:
        assert herd_targets(s, farm.id) == HerdTargets(vwp_days=60, pregnancy_rate_pct=22)
        with pytest.raises(RecordRefused) as refused:
            save_targets(s, farm.id, {"vwp_days": "45"})
        assert refused.value.rule == "targets.permission"
    with db.session(vet) as s:
        save_targets(s, farm.id, {"vwp_days": "55", "days_open": "110"})
        with pytest.raises(NotFound):
            save_targets(s, other.id, {"vwp_days": "55"})
        with pytest.raises(RecordRefused) as refused:
            save_targets(s, farm.id, {"vwp_days": "300", "days_open": "-3"})
        assert [p.rule for p in refused.value.problems] == ["targets.range", "targets.range"]
    with db.session(admin) as s:
        assert herd_targets(s, farm.id) == HerdTargets(vwp_days=55, days_open=110)
        with pytest.raises(NotFound):
            save_targets(s, other.id, {"vwp_days": "55"})
    with db.session(system) as s:
        assert herd_targets(s, other.id) == HerdTargets()  # nothing written for the other


def test_database_holds_the_ranges_for_every_writer(db, system, reference_bull):
    farm = make_farm(db, system, reference_bull)
    with pytest.raises(RuleViolation, match="ck_herd_targets_vwp_days"):
        with db.session(system) as s:
            s.execute(text("INSERT INTO core.herd_targets (customer_id, vwp_days) "
                           "VALUES (:c, 5)"), {"c": farm.id})
    with db.session(system) as s:
        assert herd_targets(s, farm.id) == HerdTargets()


def test_kpis_against_targets_met_or_missed():
    from reprotech_core.reproduction.targets import check_against_targets

    t = HerdTargets(submission_rate_pct=60, conception_rate_pct=40, pregnancy_rate_pct=20,
                    days_open=120, calving_interval_days=400)
    values = {"heat_detection_rate": 0.6, "conception_rate": 0.35, "pregnancy_rate_21d": None,
              "days_open": 125.4, "calving_interval": 399.0, "services": 10}
    got = {k: (c.target, c.higher_is_better, c.met)
           for k, c in check_against_targets(values, t).items()}
    assert got == {"heat_detection_rate": (0.6, True, True),  # at the target: met
                   "conception_rate": (0.4, True, False),
                   "pregnancy_rate_21d": (0.2, True, None),  # no value: neither
                   "days_open": (120.0, False, False),  # fewer days are better
                   "calving_interval": (400.0, False, True)}
    assert check_against_targets(values, HerdTargets()) == {}  # no target set: no mark
