"""Evaluation runs on stored data: results persisted, isolated per tenant, released immutably,
and a retried job does not duplicate them."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from data_models.evaluation import Phenotype
from reprotech_core.errors import RuleViolation
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.reports import ranking_table
from reprotech_core.results.released import released_results
from reprotech_core.store.evaluations import EvaluationInputs, release_run, run_evaluation
from reprotech_core.store.ingest import ingest_genotypes
from reprotech_core.store.run_validation import ValidationRules
from reprotech_core.store.simulated import as_lab_file, place_herd
from tests import support

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evaluated_world(db, system, tmp_path_factory):
    herd = simulate_herd(n_animals=300, n_snps=1500, seed=5, n_customers=2, n_herds=4,
                         wrong_sire_rate=0.05)
    manifest = PanelManifest(chip="EvChip1500", snps=herd.genotypes.snps)
    with db.session(system) as s:
        place_herd(s, herd, customer_codes={"CUST00": "ev-one", "CUST01": "ev-two"},
                   reference_code="ev-ref", barcode_prefix="EV", animal_prefix="EVCAN")
        ingest_genotypes(s, as_lab_file(herd.genotypes, np.arange(300), barcode_prefix="EV"),
                         manifest=manifest, batch_name="EV-1", source_sha256="ev-1",
                         source_file="simulated")
        s.execute(text("UPDATE core.genotyping_batches SET stage = 'qc' WHERE name = 'EV-1'"))
        s.execute(text("UPDATE core.genotyping_batches SET stage = 'released' "
                       "WHERE name = 'EV-1'"))
        ids = dict(s.execute(text("SELECT official_id, id FROM core.animals "
                                  "WHERE official_id LIKE 'EVCAN%'")).all())
        cust = dict(s.execute(text("SELECT id, customer_id FROM core.animals "
                                   "WHERE official_id LIKE 'EVCAN%'")).all())
        rows = []
        for i, (animal, values) in enumerate(herd.phenotypes.iterrows()):
            aid = ids["EVCAN" + animal[-9:]]
            # three longevity records alone in their herd-year-season: excluded, reported
            rows += [{"customer_id": cust[aid], "animal_id": aid, "trait": t,
                      "value": float(v),
                      "recorded_on": "2019-06-01" if t == "longevity" and i < 3
                      else "2025-01-01"}
                     for t, v in values.items() if np.isfinite(v)]
        s.execute(Phenotype.__table__.insert(), rows)
    folder = tmp_path_factory.mktemp("eval")
    summary = run_evaluation(db, system, folder=folder, job_run_id=987654,
                             parentage_min_informative=100)
    return herd, summary, folder


def test_run_stores_results_traits_and_grm(db, system, evaluated_world):
    herd, summary, folder = evaluated_world
    assert summary.animals >= 290 and set(summary.traits) == {
        "milk_production", "fertility", "disease_resistance", "longevity"}
    assert all(0 <= t["h2"] < 1 for t in summary.traits.values())  # low-h2 traits may hit 0
    milk = summary.traits["milk_production"]  # simulated h2 0.35
    assert abs(milk["h2"] - 0.35) < 3 * milk["se_h2"]
    assert any(f.endswith(".grm.bin") for f in summary.grm_files)
    with db.session(system) as s:
        n = s.scalar(text("SELECT count(*) FROM core.evaluation_results WHERE run_id = :r"),
                     {"r": summary.run_id})
        run = s.execute(text("SELECT status, data_snapshot, software, timings FROM "
                             "core.evaluation_runs WHERE id = :r"), {"r": summary.run_id}).one()
        f = s.execute(text("SELECT f_genomic, f_pedigree FROM core.inbreeding "
                           "WHERE run_id = :r"), {"r": summary.run_id}).all()
        bases = s.scalars(text("SELECT DISTINCT basis FROM core.evaluation_results "
                               "WHERE run_id = :r"), {"r": summary.run_id}).all()
        method = s.scalar(text("SELECT method FROM core.evaluation_runs WHERE id = :r"),
                          {"r": summary.run_id})
    # every animal genotyped: GBLUP of the genotyped, as before single-step existed
    assert summary.method == method == "gblup" and bases == ["genomic"]
    assert summary.genotyped == summary.animals
    assert n == summary.animals * 4
    assert run.status == "succeeded" and len(run.data_snapshot) == 64
    assert "numpy" in run.software and run.timings["grm"] > 0
    assert len(f) == summary.animals and all(np.isfinite(x.f_genomic) for x in f)


def test_run_records_its_contemporary_groups_and_exclusions(db, system, evaluated_world):
    """Herd-year-season groups from the record dates; what was excluded is in the run's
    record by rule, and the evaluation used exactly the records kept."""
    herd, summary, _ = evaluated_world
    with db.session(system) as s:
        params = s.scalar(text("SELECT parameters FROM core.evaluation_runs WHERE id = :r"),
                          {"r": summary.run_id})
    groups = params["contemporary_groups"]
    assert params["min_group_size"] == 5
    longevity = groups["longevity"]
    assert longevity["cg.small_herd_year"] == 3
    assert longevity["kept"] == longevity["records"] - 3 == summary.traits["longevity"]["records"]
    milk = groups["milk_production"]
    assert milk["kept"] == milk["records"] == summary.traits["milk_production"]["records"]
    assert milk["groups"] >= 2


def test_gebvs_track_true_breeding_values(db, system, evaluated_world):
    herd, summary, _ = evaluated_world
    with db.session(system) as s:
        rows = s.execute(text(
            "SELECT a.official_id, r.gebv FROM core.evaluation_results r "
            "JOIN core.animals a ON a.id = r.animal_id "
            "WHERE r.run_id = :r AND r.trait = 'milk_production'"), {"r": summary.run_id}).all()
    gebv = {oid: v for oid, v in rows}
    tbv = herd.breeding_values["milk_production"]
    pairs = np.array([(gebv["EVCAN" + a[-9:]], tbv[a]) for a in tbv.index
                      if "EVCAN" + a[-9:] in gebv])
    assert np.corrcoef(pairs.T)[0, 1] > 0.5


def test_parentage_finds_planted_wrong_sires(db, system, evaluated_world):
    herd, summary, _ = evaluated_world
    with db.session(system) as s:
        excluded = set(s.scalars(text(
            "SELECT a.official_id FROM core.parentage_results p JOIN core.animals a "
            "ON a.id = p.animal_id WHERE p.run_id = :r AND p.parent_role = 'sire' "
            "AND p.status = 'excluded'"), {"r": summary.run_id}))
    ped = herd.pedigree
    wrong = {"EVCAN" + a[-9:] for a, s_, t in zip(ped["animal"], ped["sire"], ped["true_sire"],
                                                    strict=True) if s_ and s_ == s_ and s_ != t}
    assert wrong and len(excluded & wrong) / len(wrong) >= 0.8
    assert len(excluded - wrong) <= 0.2 * len(excluded)


def test_an_excluded_sire_comes_with_the_likely_true_sire(db, system, evaluated_world):
    """Each excluded sire is stored with the discovery's answer (sire_suggestions): the true
    sire when he is genotyped and the calf's customer's or the catalogue's, never a wrong bull
    and never another customer's; the note carries the LOD by official ID."""
    herd, summary, _ = evaluated_world
    with db.session(system) as s:
        rows = s.execute(text(
            "SELECT a.official_id AS calf, a.customer_id, b.official_id AS suggested, "
            "b.customer_id AS bull_customer, c.kind AS bull_kind, p.note "
            "FROM core.parentage_results p JOIN core.animals a ON a.id = p.animal_id "
            "LEFT JOIN core.animals b ON b.id = p.suggested_parent_id "
            "LEFT JOIN core.customers c ON c.id = b.customer_id "
            "WHERE p.run_id = :r AND p.parent_role = 'sire' AND p.status = 'excluded'"),
            {"r": summary.run_id}).all()
        typed = set(s.scalars(text(
            "SELECT a.official_id FROM core.genotypes g JOIN core.animals a "
            "ON a.id = g.animal_id WHERE a.official_id LIKE 'EVCAN%'")))
        owner = dict(s.execute(text("SELECT official_id, customer_id FROM core.animals "
                                    "WHERE official_id LIKE 'EVCAN%'")).all())
        catalogue = s.scalar(text("SELECT id FROM core.customers WHERE code = 'ev-ref'"))
    ped = herd.pedigree.set_index(herd.pedigree["animal"].map(lambda a: "EVCAN" + a[-9:]))
    true = {calf: "EVCAN" + t[-9:] for calf, t in ped["true_sire"].items() if t == t and t}
    assert rows and all(r.note.startswith("sire discovery: ") for r in rows)
    named = [r for r in rows if r.suggested is not None]
    assert all(r.suggested == true[r.calf] for r in named), [
        (r.calf, r.suggested, true.get(r.calf)) for r in named]
    assert all(r.bull_customer == r.customer_id or r.bull_kind == "reference" for r in named)
    findable = [r for r in rows if true.get(r.calf) in typed
                and owner[true[r.calf]] in (r.customer_id, catalogue)]
    assert len(findable) >= 5 and all(r.suggested == true[r.calf] for r in findable), [
        (r.calf, r.note) for r in findable if r.suggested != true[r.calf]]
    assert all("LOD" in r.note and "EVCAN" in r.note for r in named)


def test_retried_job_reuses_its_run_and_release_is_immutable(db, system, world,
                                                             evaluated_world):
    herd, summary, folder = evaluated_world
    again = run_evaluation(db, system, folder=folder, job_run_id=987654)
    assert again.reused and again.run_id == summary.run_id
    with db.session(system) as s:
        assert release_run(s, summary.run_id) == summary.animals * 4
    with pytest.raises(RuleViolation, match="needs a reason"):
        with db.session(system) as s:
            s.execute(text("UPDATE core.evaluation_results SET gebv = 0 WHERE run_id = :r"),
                      {"r": summary.run_id})
    with db.session(system) as s:
        one = s.scalar(text("SELECT id FROM core.customers WHERE code = 'ev-one'"))
        table = released_results(s, one)
    assert set(table["trait"]) == {"milk_production", "fertility", "disease_resistance",
                                   "longevity"}
    ranked = ranking_table(table, {"milk_production": 0.002, "longevity": 0.05})
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    assert ranked["index"].is_monotonic_decreasing
    wide = table.pivot(index="official_id", columns="trait", values="gebv")
    top = ranked.iloc[0]
    expected = 0.002 * wide.at[top.official_id, "milk_production"] + \
        0.05 * wide.at[top.official_id, "longevity"]
    assert abs(top["index"] - expected) < 1e-9
    # The customer's herd report carries the ranking; a customer sees only their own.
    from reprotech_core.accounts import customer_by_code
    from reprotech_core.reports import herd_report

    with db.session(system) as s:
        report = herd_report(s, customer_by_code(s, "ev-one"), index_weights={"fertility": -0.1})
    assert len(report["rankings"]) == len(ranked) and "fertility_reliability" in report["rankings"]
    # Another farm's customer user sees none of these results.
    with db.session(world.users["w-a-user"]) as s:
        assert s.scalar(text("SELECT count(*) FROM core.evaluation_results r JOIN "
                             "core.customers c ON c.id = r.customer_id WHERE c.code LIKE 'ev-%' "
                             "AND c.kind = 'farm'")) == 0


def test_every_run_records_its_validation_and_trend(db, system, evaluated_world):
    """The run's record carries the LR statistics of each trait (or why there are none), the
    validation cohort, the genetic trend per birth year and the release verdict."""
    _, summary, _ = evaluated_world
    with db.session(system) as s:
        record = s.scalar(text("SELECT validation FROM core.evaluation_runs WHERE id = :r"),
                          {"r": summary.run_id})
    assert record == summary.validation and record["method"].startswith("LR method")
    assert record["cohort"]["animals"] > 0 and record["cohort"]["birth_years"]
    assert set(record["traits"]) == set(summary.traits)
    for trait, stats in record["traits"].items():
        assert "not_possible" in stats or {"bias", "bias_sd", "dispersion",
                                           "ratio_of_accuracies", "blockers"} <= set(stats), trait
    milk = record["traits"]["milk_production"]  # h2 0.35, well recorded: numbers
    assert milk["n"] >= 20 and 0.5 < milk["dispersion"] < 1.5 and abs(milk["bias_sd"]) < 0.5
    assert {r["trait"] for r in record["trend"]} == set(summary.traits)
    assert record["release"]["automatic"] == (record["release"]["reasons"] == [])


WATCHED = ("evaluation_runs", "evaluation_results")


def test_a_run_far_off_is_not_released_automatically(db, system, world, admin_conninfo,
                                                     evaluated_world, tmp_path, pg_settings,
                                                     monkeypatch, capsys):
    """A run whose dispersion is outside the range is refused by the release, naming the rule
    and leaving everything as it was; lab operations (no results:release) cannot override;
    the operator releases it explicitly with a reason (`reprotech eval release RUN
    --despite-validation WHY`), recorded on the run."""
    strict = ValidationRules(share=0.2, min_animals=20, max_bias_sd=0.5,
                             dispersion_range=(0.9999, 1.0001))
    summary = run_evaluation(db, system, folder=tmp_path, job_run_id=987655,
                             parentage_min_informative=100, rules=strict)
    reasons = summary.validation["release"]["reasons"]
    assert summary.validation["release"]["automatic"] is False
    assert any("milk_production: validation.dispersion: slope" in r for r in reasons)
    with support.unchanged(admin_conninfo, WATCHED):
        with pytest.raises(RuleViolation, match="not released automatically") as refused:
            with db.session(system) as s:
                release_run(s, summary.run_id)
        assert refused.value.rule == "evaluation.validation"
        assert "validation.dispersion" in str(refused.value)
        with pytest.raises(RuleViolation, match="results:release"):
            with db.session(world.users["w-lab"], reason="try") as s:
                release_run(s, summary.run_id, despite_validation="looks fine to me")
        with pytest.raises(RuleViolation, match="not released automatically"):
            with db.session(system) as s:
                release_run(s, summary.run_id, despite_validation="   ")
    with support.unchanged(admin_conninfo, WATCHED):
        code, out = support.run_cli(monkeypatch, capsys, pg_settings,
                                  "eval", "release", str(summary.run_id))
    assert code == 1 and "error:" in out and "validation.dispersion" in out, out
    assert "[rule evaluation.validation]" in out and "Traceback" not in out
    code, out = support.run_cli(monkeypatch, capsys, pg_settings, "eval", "release",
                              str(summary.run_id), "--despite-validation",
                              "dispersion range set for the test")
    assert code == 0 and f"released {summary.animals * 4} results" in out, out
    with db.session(system) as s:
        run = s.execute(text("SELECT status, validation FROM core.evaluation_runs "
                             "WHERE id = :r"), {"r": summary.run_id}).one()
    despite = run.validation["release"]["despite"]
    assert run.status == "released" and despite["reason"] == "dispersion range set for the test"
    assert despite["by"] == system.user_id and despite["at"]
    assert run.validation["release"]["reasons"] == reasons  # the refusal's reasons stay


def test_too_few_validation_animals_say_so_and_block_the_automatic_release(
        db, system, admin_conninfo, evaluated_world, tmp_path):
    """More validation animals needed than the herd has: every trait records 'validation not
    possible: N animals' (never silently nothing), and the run waits for a person."""
    few = ValidationRules(share=0.2, min_animals=100_000, max_bias_sd=0.5,
                          dispersion_range=(0.7, 1.3))
    summary = run_evaluation(db, system, folder=tmp_path, job_run_id=987656,
                             parentage_min_informative=100, rules=few)
    for trait, stats in summary.validation["traits"].items():
        assert stats == {"n": stats["n"],
                         "not_possible": f"validation not possible: {stats['n']} animals"}, trait
    assert summary.validation["trend"]
    with support.unchanged(admin_conninfo, WATCHED):
        with pytest.raises(RuleViolation, match="validation not possible"):
            with db.session(system) as s:
                release_run(s, summary.run_id)


def test_a_herd_above_the_exact_path_takes_snp_blup_and_says_so(db, system, evaluated_world,
                                                                 tmp_path):
    """Above ``evaluation_exact_max_animals`` the job takes the SNP-BLUP path itself: the
    run records the path and why, says what it did not do because that needs G (GRM files,
    the forward validation), waits for a person to release it, and its GEBVs are those of
    the exact run (variances from REML on the recorded animals: here all of them)."""
    _, exact, _ = evaluated_world
    stages: list[str] = []
    summary = run_evaluation(db, system, folder=tmp_path, job_run_id=987657,
                             parentage_min_informative=100, exact_max_animals=100,
                             progress=stages.append)
    kinds = list(dict.fromkeys(stage.split(":")[0] for stage in stages))
    assert kinds == ["inputs", "path", "variance components", "solving SNP-BLUP",
                     "reliabilities", "validation", "storing"], stages
    assert "solving SNP-BLUP: iteration 1, 4 of 4 traits left" in "\n".join(stages)
    assert summary.method == "snpblup" and summary.solver["path"] == "snp-blup"
    assert "more than 100 (evaluation_exact_max_animals)" in summary.solver["reason"]
    assert summary.grm_files == [] and not any(tmp_path.iterdir())
    assert "GCTA GRM files not written" in summary.solver["not_done"]["grm_files"]
    # validated as the exact run is: the same cohort, nearly the same statistics (the
    # variances differ a little), the partial run started at the whole run's solution
    mine, theirs = summary.validation, exact.validation
    assert "partial SNP-BLUP" in mine["method"] and mine["cohort"] == theirs["cohort"]
    assert mine["partial_iterations"]
    for trait, ref in theirs["traits"].items():
        got = mine["traits"][trait]
        assert ("not_possible" in got) == ("not_possible" in ref), (got, ref)
        for key in ("dispersion", "ratio_of_accuracies", "accuracy_partial", "bias_sd"):
            if key in ref and ref[key] is not None:
                assert got[key] == pytest.approx(ref[key], abs=0.01), (trait, key)
    with db.session(system) as s:
        run = s.execute(text("SELECT method, parameters FROM core.evaluation_runs "
                             "WHERE id = :r"), {"r": summary.run_id}).one()
        pairs = s.execute(text(
            "SELECT a.gebv, b.gebv, a.reliability, b.reliability FROM "
            "core.evaluation_results a JOIN core.evaluation_results b USING (animal_id, trait) "
            "WHERE a.run_id = :e AND b.run_id = :s AND a.trait = 'milk_production'"),
            {"e": exact.run_id, "s": summary.run_id}).all()
        f = s.scalar(text("SELECT count(*) FROM core.inbreeding WHERE run_id = :r "
                          "AND f_genomic IS NOT NULL"), {"r": summary.run_id})
    assert run.method == "snpblup" and run.parameters["solver"] == summary.solver
    assert run.parameters["method"].startswith("SNP-BLUP")
    assert "fixed-effect groups drawn at random" in run.parameters["snpblup"]["variances"][
        "milk_production"]
    v = np.array(pairs, dtype=float)
    assert len(v) == summary.animals and f == summary.animals
    assert np.corrcoef(v[:, 0], v[:, 1])[0, 1] > 0.99
    # the reliabilities' core holds the whole (small) herd: the exact reliabilities, but for
    # the variances (REML with the recorded animals' allele frequencies)
    core = run.parameters["snpblup"]["reliability_core"]
    assert core["animals"] == summary.animals and core["parents"] > 0, core
    assert summary.solver["reliability"].startswith(
        f"approximate, through a core of {summary.animals:,} genotyped animals")
    assert np.corrcoef(v[:, 2], v[:, 3])[0, 1] > 0.99
    assert summary.traits["milk_production"]["h2"] == pytest.approx(
        exact.traits["milk_production"]["h2"], abs=0.02)


def test_the_memory_estimate_counts_each_traits_groups_and_birth_years():
    records = pd.DataFrame({
        "animal": ["a", "b", "c", "d"], "birth_year": [2020, 2021, 2021, 2022],
        "milk_production": [1.0, 2.0, np.nan, 3.0], "cg:milk_production": ["g1", "g2", None, "g2"],
        "fertility": [1.0, np.nan, np.nan, np.nan], "cg:fertility": ["f1", None, None, None],
        "disease_resistance": np.nan, "longevity": np.nan})
    inputs = EvaluationInputs(animals=None, genotypes=None, panel="", records=records,
                              pedigree=None)
    assert inputs.fixed_levels() == 2 + 3  # milk: groups g1, g2; years 2020, 2021, 2022


def test_no_path_within_the_memory_budget_is_refused_by_rule(db, system, evaluated_world,
                                                             tmp_path):
    with pytest.raises(RuleViolation, match="even SNP-BLUP needs") as refused:
        run_evaluation(db, system, folder=tmp_path, job_run_id=987658, memory_gib=0.01)
    assert refused.value.rule == "evaluation.memory"
    with db.session(system) as s:
        failed = s.execute(text("SELECT status, parameters FROM core.evaluation_runs WHERE "
                                "parameters->>'job_run_id' = '987658'")).one()
    assert failed.status == "failed"
    assert failed.parameters["error"]["rule"] == "evaluation.memory"
