"""Stored evaluation runs by single-step: a herd where part of the animals are not genotyped.

The run evaluates every animal of the evaluated customers (genotyped: basis ``genomic``;
not genotyped: ``pedigree``) with reliabilities, a non-genotyped dam's record moves her
genotyped daughter's value, a G that makes H unusable fails the run naming the rule, and the
pedigree-based values keep the tenants apart. Its own PostgreSQL, so the panel this herd is
genotyped on is the one the run evaluates whatever other modules stored."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from data_models.evaluation import Phenotype
from reprotech_core import accounts
from reprotech_core.db.migrate import app_url
from reprotech_core.db.scratch import scratch_platform
from reprotech_core.db.session import Database
from reprotech_core.errors import RuleViolation
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.portal.herd import herd_animals, herd_table
from reprotech_core.reports import herd_report
from reprotech_core.results.released import released_results
from reprotech_core.store.evaluations import release_run, run_evaluation
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.simulated import as_lab_file, place_herd

pytestmark = pytest.mark.slow

CODES = {"CUST00": "ss-one", "CUST01": "ss-two"}
TRAITS4 = {"milk_production", "fertility", "disease_resistance", "longevity"}


@pytest.fixture(scope="module")
def ss_db():
    with scratch_platform(prefix="single-step") as settings:
        database = Database(app_url(settings))
        yield database
        database.dispose()


@pytest.fixture(scope="module")
def herd_world(ss_db, tmp_path_factory):
    """300 animals of two farms and the AI-sire catalogue; 70 % genotyped (two of them with
    identical genotypes: one animal sampled under two IDs), records on every animal."""
    db, system = ss_db, ss_db.identity("system")
    herd = simulate_herd(n_animals=300, n_snps=1500, seed=5, n_customers=2, n_herds=4,
                         wrong_sire_rate=0.0)
    rng = np.random.default_rng(3)
    n = len(herd.genotypes.samples)
    typed = np.sort(rng.choice(n, size=int(0.7 * n), replace=False))
    packed = herd.genotypes.packed.copy()
    packed[typed[1]] = packed[typed[0]]  # a duplicate: harmless with the default blend
    geno = GenotypeSet(packed=packed, snps=herd.genotypes.snps, samples=herd.genotypes.samples,
                       sex=herd.genotypes.sex)
    with db.session(system) as s:
        place_herd(s, herd, customer_codes=CODES, reference_code="ss-ref",
                   barcode_prefix="SS", animal_prefix="SSCAN")
        ingest_genotypes(s, as_lab_file(geno, typed, barcode_prefix="SS"),
                         manifest=PanelManifest(chip="SsChip1500", snps=herd.genotypes.snps),
                         batch_name="SS-1", source_sha256="ss-1", source_file="simulated")
        for stage in ("qc", "released"):
            s.execute(text("UPDATE core.genotyping_batches SET stage = :st WHERE name = 'SS-1'"),
                      {"st": stage})
        ids = dict(s.execute(text("SELECT official_id, id FROM core.animals")).all())
        cust = dict(s.execute(text("SELECT id, customer_id FROM core.animals")).all())
        rows = [{"customer_id": cust[ids["SSCAN" + a[-9:]]], "animal_id": ids["SSCAN" + a[-9:]],
                 "trait": t, "value": float(v), "recorded_on": date(2025, 1, 1)}
                for a, values in herd.phenotypes.iterrows() if "SSCAN" + a[-9:] in ids
                for t, v in values.items() if np.isfinite(v)]
        s.execute(Phenotype.__table__.insert(), rows)
        for code in CODES.values():
            accounts.create_user(s, accounts.NewUser(f"{code}-user", f"{code}-user",
                                                     "customer_user", code))
    typed_ids = {ids["SSCAN" + herd.genotypes.samples[i][-9:]] for i in typed}
    folder = tmp_path_factory.mktemp("ss-eval")
    summary = run_evaluation(db, system, folder=folder, job_run_id=1,
                             parentage_min_informative=100)
    return herd, summary, typed_ids, ids, folder


def results_of(db, run_id: int) -> pd.DataFrame:
    with db.session(db.identity("system")) as s:
        return pd.DataFrame(s.execute(text(
            "SELECT animal_id, customer_id, trait, gebv, reliability, basis "
            "FROM core.evaluation_results WHERE run_id = :r"), {"r": run_id}).all(),
            columns=["animal_id", "customer_id", "trait", "gebv", "reliability", "basis"])


def test_non_genotyped_animals_get_pedigree_based_values(ss_db, herd_world):
    _, summary, typed_ids, ids, _ = herd_world
    assert summary.method == "ssgblup" and set(summary.traits) == TRAITS4
    with ss_db.session(ss_db.identity("system")) as s:
        run = s.execute(text("SELECT method, status, parameters, validation FROM "
                             "core.evaluation_runs WHERE id = :r"), {"r": summary.run_id}).one()
        animals = dict(s.execute(text(
            "SELECT a.id, c.code FROM core.animals a JOIN core.customers c "
            "ON c.id = a.customer_id")).all())
    res = results_of(ss_db, summary.run_id)
    evaluated = set(res["animal_id"])
    # every animal of the herd has a value, once per trait, and says its basis
    assert evaluated == set(ids.values()) and len(res) == 4 * len(evaluated)
    assert set(res.loc[res["basis"] == "genomic", "animal_id"]) == typed_ids
    pedigree = res[res["basis"] == "pedigree"]
    assert set(pedigree["animal_id"]) == evaluated - typed_ids
    assert pedigree["reliability"].between(0, 1).all()
    # milk (simulated h2 0.35; a low-h2 trait's REML may reach 0, and every reliability too):
    # every animal is informed, and the genotyped are the better known on average
    milk = res[res["trait"] == "milk_production"]
    assert milk["reliability"].gt(0).all()
    mean = milk.groupby("basis")["reliability"].mean()
    assert mean["genomic"] > mean["pedigree"]
    p = run.parameters
    assert run.method == "ssgblup" and run.status == "succeeded"
    assert p["animals_genotyped"] == len(typed_ids) == summary.genotyped
    assert p["animals_non_genotyped"] == len(evaluated - typed_ids)
    ss = p["single_step"]
    assert ss["unknown_parents"]["handling"].startswith("base population")
    assert ss["unknown_parents"]["animals_with_an_unknown_parent"] > 0
    assert ss["reliability_method"] == ["exact"] and ss["blend"] == 0.05
    assert p["skipped_traits"] == {} and "single-step" in p["method"]
    assert "partial single-step" in run.validation["method"]
    assert {c for a, c in animals.items() if a in evaluated} <= {*CODES.values(), "ss-ref"}


def test_a_non_genotyped_dams_record_moves_her_genotyped_daughters_value(ss_db, herd_world,
                                                                        tmp_path):
    """Information flows through H: raising an ungenotyped dam's milk record raises her
    genotyped daughter's GEBV (GBLUP of the genotyped alone could not see the record)."""
    _, summary, typed_ids, _, _ = herd_world
    system = ss_db.identity("system")
    with ss_db.session(system) as s:
        pairs = s.execute(text(
            "SELECT d.id AS daughter, m.id AS dam FROM core.animals d JOIN core.animals m "
            "ON m.id = d.dam_id JOIN core.phenotypes p ON p.animal_id = m.id "
            "AND p.trait = 'milk_production'")).all()
    daughter, dam = next((d, m) for d, m in pairs if d in typed_ids and m not in typed_ids)
    before = results_of(ss_db, summary.run_id).set_index(["animal_id", "trait"])["gebv"]
    with ss_db.session(system, reason="test: a higher record") as s:
        s.execute(text("UPDATE core.phenotypes SET value = value + 5000 WHERE animal_id = :a "
                       "AND trait = 'milk_production'"), {"a": dam})
    try:
        again = run_evaluation(ss_db, system, folder=tmp_path, job_run_id=2,
                               parentage_min_informative=100)
    finally:
        with ss_db.session(system, reason="test: the record back") as s:
            s.execute(text("UPDATE core.phenotypes SET value = value - 5000 "
                           "WHERE animal_id = :a AND trait = 'milk_production'"), {"a": dam})
    after = results_of(ss_db, again.run_id).set_index(["animal_id", "trait"])["gebv"]
    moved = after[(daughter, "milk_production")] - before[(daughter, "milk_production")]
    assert moved > 0.05 * (after[(dam, "milk_production")] - before[(dam, "milk_production")])
    assert after[(dam, "milk_production")] > before[(dam, "milk_production")]


def test_an_unusable_g_fails_the_run_naming_the_rule(ss_db, herd_world, tmp_path):
    """Two animals with identical genotypes and no blend: G_w is singular, H is not positive
    definite. The run fails, its record names the rule, and it stored no results."""
    system = ss_db.identity("system")
    with pytest.raises(RuleViolation) as failed:
        run_evaluation(ss_db, system, folder=tmp_path, job_run_id=3,
                       parentage_min_informative=100, blend=0.0)
    assert failed.value.rule == "single_step.g_not_positive_definite"
    with ss_db.session(system) as s:
        run = s.execute(text(
            "SELECT id, status, parameters, timings FROM core.evaluation_runs "
            "WHERE (parameters->>'job_run_id')::int = 3")).one()
        stored = s.scalar(text("SELECT count(*) FROM core.evaluation_results WHERE run_id = :r"),
                          {"r": run.id})
    assert run.status == "failed" and stored == 0
    assert run.parameters["error"]["rule"] == "single_step.g_not_positive_definite"
    assert "not positive definite" in run.timings["error"]


def test_pedigree_based_values_keep_the_tenants_apart(ss_db, herd_world):
    """Customer A reads its own pedigree-based values and none of customer B's, in the table,
    in the released results, in the portal's herd table and in the herd report."""
    _, summary, typed_ids, _, _ = herd_world
    system = ss_db.identity("system")
    with ss_db.session(system) as s:
        release_run(s, summary.run_id, despite_validation="a test herd of 300 animals")
        one, two, ref = (s.scalar(text("SELECT id FROM core.customers WHERE code = :c"),
                                  {"c": c}) for c in (*CODES.values(), "ss-ref"))
    everyone = results_of(ss_db, summary.run_id)
    theirs = everyone[(everyone["customer_id"] == two) & (everyone["basis"] == "pedigree")]
    assert len(theirs)
    with ss_db.session(ss_db.identity("ss-one-user")) as s:
        seen = pd.DataFrame(s.execute(text(
            "SELECT animal_id, customer_id, basis FROM core.evaluation_results "
            "WHERE run_id = :r"), {"r": summary.run_id}).all(),
            columns=["animal_id", "customer_id", "basis"])
        assert released_results(s, two).empty
        mine = released_results(s, one)
        table = herd_table(herd_animals(s, one), mine, {"milk_production": 1.0})
        customer = accounts.customer_by_code(s, "ss-one")
        report = herd_report(s, customer, index_weights={"milk_production": 1.0})
    # their own, and the AI-sire catalogue's released proofs (readable by every customer)
    assert set(seen["customer_id"]) == {one, ref}
    assert not set(seen["animal_id"]) & set(theirs["animal_id"])
    assert (seen["basis"] == "pedigree").any() and (seen["basis"] == "genomic").any()
    # the portal's herd table and the report say which values are genomic
    labelled = table.dropna(subset=["milk_production"])
    assert set(labelled["basis"]) == {"genomic", "pedigree-based"}
    genomic = labelled.loc[labelled["basis"] == "genomic", "id"]
    assert set(genomic) <= typed_ids
    assert set(report["rankings"]["basis"]) == {"genomic", "pedigree-based"}


def test_a_customer_only_run_stores_that_customers_values_only(ss_db, herd_world, tmp_path):
    """The AI-sire catalogue's bulls are in the model (ancestors linking relatives) but a
    run for one customer writes no other tenant's results."""
    system = ss_db.identity("system")
    with ss_db.session(system) as s:
        one = s.scalar(text("SELECT id FROM core.customers WHERE code = 'ss-one'"))
        own = set(s.scalars(text("SELECT id FROM core.animals WHERE customer_id = :c"),
                            {"c": one}))
    summary = run_evaluation(ss_db, system, folder=tmp_path, job_run_id=4, customer_id=one,
                             parentage_min_informative=100)
    res = results_of(ss_db, summary.run_id)
    with ss_db.session(system) as s:
        params = s.scalar(text("SELECT parameters FROM core.evaluation_runs WHERE id = :r"),
                          {"r": summary.run_id})
    assert summary.method == "ssgblup" and set(res["customer_id"]) == {one}
    assert set(res["animal_id"]) == own and len(res) == 4 * summary.animals
    assert params["single_step"]["ancestors_not_stored"] > 0
    assert params["animals_genotyped"] + params["animals_non_genotyped"] == len(own)
