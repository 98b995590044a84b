"""Genomic evaluation runs in the database: inputs gathered, science called, results stored.

The science is in :mod:`reprotech_core.evaluation` (pure functions). A run takes the genotypes
of released batches whose sample passed QC (or was sent to review), the phenotype records, and
the recorded pedigree; computes the GRM (VanRaden 2008), REML variance components and GBLUP for
the four traits with reliabilities — single-step GBLUP over the genotyped and the
non-genotyped animals of the evaluated customers when there are any
(:mod:`reprotech_core.store.single_step_run`; each result says its basis, genomic or
pedigree) — genomic and pedigree inbreeding, parentage checks of genotyped parents and, for
each excluded sire, the likely true sire by LOD score
(:mod:`reprotech_core.store.sire_suggestions`); and stores them with the run's parameters,
software versions, a digest of its input data and timings. The GRM is written in GCTA's binary
format next to the store.
Every run also validates itself (forward validation by the LR method on the youngest birth
years, the genetic trend; :mod:`reprotech_core.store.run_validation`), and a run whose
validation is far off is released only explicitly (:func:`release_run`).

A run belongs to a job run when one is given: a retried job finds its earlier, unfinished
evaluation, removes its unreleased results and computes again, so a retry never duplicates
results. Released results are immutable (changing them needs a reason, enforced by the database).
Reading them back (the newest released run, the selection index) is :mod:`reprotech_core.results`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select, text

from data_models.evaluation import (
    EvaluationResult,
    EvaluationRun,
    Inbreeding,
    ParentageResult,
)
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.evaluation.contemporary import DEFAULT_MIN_SIZE, form_groups, group_column
from reprotech_core.evaluation.gblup import TRAITS, evaluate_traits
from reprotech_core.evaluation.grm import vanraden_grm, write_gcta_grm
from reprotech_core.evaluation.parentage import verify_parents
from reprotech_core.evaluation.path import PathChoice, choose_path
from reprotech_core.evaluation.pedigree import inbreeding_meuwissen_luo, order_pedigree
from reprotech_core.evaluation.single_step import DEFAULT_BLEND
from reprotech_core.evaluation.snpblup_multi import RELIABILITY_METHOD, evaluate_traits_snpblup
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.roles import has_permission
from reprotech_core.settings import get_settings
from reprotech_core.store import single_step_run
from reprotech_core.store.imputed_genotypes import read_evaluation_genotypes
from reprotech_core.store.run_validation import (
    ValidationRules, validate_large_run, validate_run,
)
from reprotech_core.store.sire_suggestions import suggest_sires


ANIMAL_COLUMNS = ["id", "customer_id", "herd", "birth_year", "sire_id", "dam_id"]


@dataclass
class EvaluationInputs:
    animals: pd.DataFrame  # ANIMAL_COLUMNS of the genotyped animals
    genotypes: GenotypeSet  # autosomal SNPs; samples are the animal IDs, rows as in animals
    panel: str
    records: pd.DataFrame  # animal (id as str), trait columns, cg:<trait> groups, birth_year
    pedigree: pd.DataFrame  # every animal: id, sire_id, dam_id (for inbreeding)
    contemporary: dict[str, dict[str, int]] = field(default_factory=dict)  # groups' report
    #: ANIMAL_COLUMNS + ``stored`` of the animals single-step adds (:func:`non_genotyped`);
    #: empty: a GBLUP run of the genotyped alone.
    others: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=[*ANIMAL_COLUMNS, "stored"]))
    imputation: dict = field(default_factory=dict)  # panels, imputed and excluded animals

    @property
    def n_snps(self) -> int:
        return len(self.genotypes.snps)

    def parent_rows(self) -> np.ndarray:
        """Each genotyped animal's sire and dam as rows of the genotypes (``N x 2``, -1
        when unknown or not genotyped): the large-herd path's reliability core."""
        row = {str(a): i for i, a in enumerate(self.genotypes.samples)}
        by_id = self.animals.set_index(self.animals["id"].astype(str))
        ids = [str(a) for a in self.genotypes.samples]
        return np.array([[row.get(str(int(v)), -1) if pd.notna(v) else -1
                          for v in by_id.loc[ids, parent]]
                         for parent in ("sire_id", "dam_id")], dtype=np.int64).reshape(2, -1).T

    def fixed_levels(self) -> int:
        """The most fixed-effect levels any trait's records have (its contemporary groups
        and birth years): the large-herd path's reliabilities hold a row per level
        (:func:`reprotech_core.evaluation.path.snpblup_peak_gib`)."""
        most = 0
        for trait in (t for t in TRAITS if t in self.records.columns):
            rec = self.records[self.records[trait].notna()]
            most = max(most, sum(rec[c].nunique() for c in (group_column(trait), "birth_year")
                                 if c in rec.columns))
        return most

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(self.animals["id"].to_numpy(np.int64).tobytes())
        if len(self.others):  # a GBLUP run's digest stays what it was
            h.update(self.others[["id", "sire_id", "dam_id"]].to_csv(index=False).encode())
        h.update(self.genotypes.packed.tobytes())
        h.update(self.records.to_csv(index=False).encode())
        return h.hexdigest()


@dataclass
class EvaluationSummary:
    run_id: int
    animals: int
    n_snps: int
    traits: dict[str, dict] = field(default_factory=dict)
    parentage: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    grm_files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # trait -> why it was not evaluated
    validation: dict = field(default_factory=dict)  # the run's record (run_validation)
    reused: bool = False
    method: str = "gblup"  # "ssgblup" (single-step: non-genotyped animals evaluated too),
    # "snpblup" (the large-herd path, :mod:`reprotech_core.evaluation.path`)
    solver: dict = field(default_factory=dict)  # path and reason (parameters["solver"])
    genotyped: int = 0  # of ``animals``; the others have pedigree-based values


def gather_inputs(session, *, customer_id: int | None = None,
                  min_group_size: int = DEFAULT_MIN_SIZE) -> EvaluationInputs:
    """Genotypes (released batches, QC not failed; every chip on the reference panel,
    :mod:`~reprotech_core.store.imputed_genotypes`), the non-genotyped animals single-step
    adds (:func:`non_genotyped`), the records of all of them in
    herd-year-season contemporary groups (:mod:`~reprotech_core.evaluation.contemporary`),
    pedigree.

    An animal's repeated records of a trait are averaged; their group is that of the first
    record (e.g. the first calving), the record that a one-row-per-animal model stands for."""
    chips = read_evaluation_genotypes(session, customer_id=customer_id)
    geno = chips.genotypes
    everyone = pd.DataFrame([dict(r) for r in session.execute(text(
        """
        SELECT a.id, a.customer_id,
               coalesce(h.code, 'customer-' || a.customer_id) AS herd,
               coalesce(extract(year FROM a.birth_date)::int, 0) AS birth_year,
               a.sire_id, a.dam_id
          FROM core.animals a LEFT JOIN core.herds h ON h.id = a.herd_id ORDER BY a.id
        """)).mappings()], columns=ANIMAL_COLUMNS)
    genotyped = everyone["id"].isin([int(a) for a in geno.samples])
    animals = everyone[genotyped].reset_index(drop=True)
    customers = ({customer_id} if customer_id is not None
                 else set(animals["customer_id"].astype(int)))
    others = non_genotyped(everyone, genotyped.to_numpy(), customers)
    evaluated = pd.concat([animals, others[ANIMAL_COLUMNS]], ignore_index=True)
    pheno = pd.DataFrame(session.execute(text(
        "SELECT animal_id, trait, avg(value) AS value, min(recorded_on) AS date "
        "FROM core.phenotypes WHERE animal_id = ANY(:ids) GROUP BY 1, 2"),
        {"ids": evaluated["id"].tolist()}).all(), columns=["animal_id", "trait", "value", "date"])
    wide = pheno.pivot(index="animal_id", columns="trait", values="value")
    records = (evaluated.set_index("id")[["herd", "birth_year"]].join(wide, how="inner")
               .reset_index().rename(columns={"id": "animal"}))
    records["animal"] = records["animal"].astype(str)
    for trait in TRAITS:
        if trait not in records:
            records[trait] = np.nan
    by_animal = evaluated.set_index("id")
    groups = form_groups(pd.DataFrame({
        "animal": pheno["animal_id"].astype(str), "trait": pheno["trait"],
        "herd": pheno["animal_id"].map(by_animal["herd"]), "date": pheno["date"],
        "sire": pheno["animal_id"].map(by_animal["sire_id"])}), min_size=min_group_size)
    records = groups.apply(records, TRAITS)
    pedigree = everyone[["id", "sire_id", "dam_id"]]
    return EvaluationInputs(animals, geno, chips.panel, records, pedigree, groups.report, others,
                            chips.imputation)


def non_genotyped(everyone: pd.DataFrame, genotyped: np.ndarray,
                  customers: set[int]) -> pd.DataFrame:
    """The animals single-step adds to the genotyped: every other animal of the evaluated
    ``customers`` (records or not: a cow never typed still gets a value), and their
    ancestors of any customer the session can read (AI sires of the catalogue), which link
    relatives through the pedigree. ``stored``: of an evaluated customer (its value is stored);
    an ancestor of another customer is in the model only, so a customer-only run never writes
    another tenant's results."""
    others = (~genotyped) & everyone["customer_id"].isin(customers).to_numpy()
    inside = genotyped | others
    parents = dict(zip(everyone["id"], zip(everyone["sire_id"], everyone["dam_id"],
                                           strict=True), strict=True))
    position = {a: i for i, a in enumerate(everyone["id"])}
    frontier = everyone["id"][inside].tolist()
    while frontier:  # close the set upwards: parents of animals already in
        found = []
        for animal in frontier:
            for parent in parents[animal]:
                i = position.get(None if pd.isna(parent) else int(parent))
                if i is not None and not inside[i]:
                    inside[i] = True
                    found.append(everyone["id"].iat[i])
        frontier = found
    out = everyone[inside & ~genotyped].copy()
    out["stored"] = out["customer_id"].isin(customers)
    return out.reset_index(drop=True)


def _existing(session, job_run_id: int | None) -> EvaluationRun | None:
    if job_run_id is None:
        return None
    return session.scalar(select(EvaluationRun).where(
        EvaluationRun.parameters["job_run_id"].as_integer() == job_run_id))


def run_evaluation(
    db: Database, identity: Identity, *, folder: Path, job_run_id: int | None = None,
    customer_id: int | None = None, h2: dict[str, float] | None = None,
    parentage_min_informative: int = 500, min_records: int = 20,
    min_group_size: int = DEFAULT_MIN_SIZE, rules: ValidationRules | None = None,
    blend: float = DEFAULT_BLEND, memory_gib: float | None = None,
    exact_max_animals: int | None = None, progress: Callable[[str], None] | None = None,
) -> EvaluationSummary:
    """Evaluate, validate (:mod:`reprotech_core.store.run_validation`; ``rules`` default to the
    settings ``validation_*``) and store one run; see the module.

    The solver is chosen by size (:func:`reprotech_core.evaluation.path.choose_path`;
    ``memory_gib`` and ``exact_max_animals`` default to the settings ``evaluation_*``) and
    recorded with its reason (``parameters["solver"]``). Exact path: single-step
    (:mod:`reprotech_core.store.single_step_run`, ``blend`` the weight of A22 in G) when the
    evaluated customers have non-genotyped animals, GBLUP of the genotyped otherwise.
    SNP-BLUP path (a herd too big for G): the genotyped animals by multi-trait SNP-BLUP
    (:mod:`reprotech_core.evaluation.snpblup_multi`), validated by a partial SNP-BLUP; what
    needs G — the GCTA GRM files, single-step — is not done, and the run's record says so.
    A failure marks the run failed with the error, and its rule when it has one, in the
    run's record (no path fits the memory budget: rule ``evaluation.memory``, before any
    heavy work). ``progress`` hears each stage (:mod:`reprotech_core.job_progress`)."""
    say = progress or (lambda _: None)
    say("inputs: reading genotypes, records and pedigree")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with db.session(identity) as session:
        previous = _existing(session, job_run_id)
        if previous is not None and previous.status in ("succeeded", "released"):
            p = previous.parameters
            return EvaluationSummary(previous.id, p.get("animals", 0), p.get("n_snps", 0),
                                     reused=True, validation=previous.validation,
                                     method=previous.method,
                                     genotyped=p.get("animals_genotyped", p.get("animals", 0)))
    try:
        with db.session(identity) as session:
            inputs = gather_inputs(session, customer_id=customer_id,
                                   min_group_size=min_group_size)
        ids = [str(a) for a in inputs.genotypes.samples]
        if len(ids) < 10:
            raise RuleViolation("evaluation.too_few_animals",
                                f"only {len(ids)} genotyped animals pass QC; need at least 10")
        settings = get_settings()
        try:
            choice = choose_path(
                len(ids), inputs.n_snps, len(TRAITS),
                memory_gib=memory_gib or settings.evaluation_memory_gib,
                exact_max_animals=exact_max_animals or settings.evaluation_exact_max_animals,
                core_animals=settings.evaluation_reliability_core,
                fixed_levels=inputs.fixed_levels())
        except ValueError as exc:
            raise RuleViolation("evaluation.memory", str(exc)) from None
    except RuleViolation as exc:  # no inputs (imputation failed, too few animals): a run
        timings["gather"] = time.perf_counter() - t0  # record says so, not only the job
        _record_failure(db, identity, None if previous is None else previous.id,
                        {"job_run_id": job_run_id, "customer_id": customer_id}, timings, exc)
        raise
    timings["gather"] = time.perf_counter() - t0
    large = choice.solver == "snp-blup"
    say(f"path: {choice.solver}, {len(ids):,} genotyped animals")
    not_done = _not_done_on_snpblup(choice, inputs) if large else {}
    single_step = len(inputs.others) > 0 and not large
    stored = len(ids) + (int(inputs.others["stored"].sum()) if single_step else 0)
    kind = "snpblup" if large else "ssgblup" if single_step else "gblup"
    params = {"job_run_id": job_run_id, "customer_id": customer_id, "h2": h2 or "REML",
              "animals": stored, "animals_genotyped": len(ids),
              "animals_non_genotyped": stored - len(ids),
              "n_snps": inputs.n_snps, "panel": inputs.panel,
              "solver": {"path": choice.solver, "reason": choice.reason,
                         "estimated_peak_gib": round(choice.exact_gib if not large
                                                     else choice.snpblup_gib, 2),
                         **({"not_done": not_done} if not_done else {})},
              "method": (SNPBLUP_METHOD.format(n=settings.evaluation_reml_animals) if large
                         else single_step_run.METHOD if single_step else
                         "GBLUP, VanRaden (2008) method 1 G, spectral REML"),
              "fixed_effects": "herd-year-season contemporary group + birth year",
              "min_group_size": min_group_size, "contemporary_groups": inputs.contemporary,
              "imputation": inputs.imputation}
    software = {p: version(p) for p in ("reprotech", "numpy", "scipy", "pandas")}
    with db.session(identity, reason="evaluation run") as session:
        if previous is not None:  # an earlier attempt of this job: clear what it left
            for table in (EvaluationResult, Inbreeding, ParentageResult):
                session.execute(delete(table).where(table.run_id == previous.id))
            run = session.get(EvaluationRun, previous.id)
            run.status, run.started_at = "running", datetime.now(UTC)
        else:
            run = EvaluationRun(method=kind, status="running", parameters=params,
                                software=software)
            session.add(run)
        run.data_snapshot = inputs.digest()
        session.flush()
        run_id = run.id
    summary = EvaluationSummary(run_id, stored, inputs.n_snps, solver=params["solver"])
    try:
        genotyped_records = inputs.records[inputs.records["animal"].isin(ids)]
        counts = {tr: int(genotyped_records[tr].notna().sum()) for tr in TRAITS}
        traits = [tr for tr, n in counts.items() if n >= min_records]
        summary.skipped = {tr: f"{n} phenotyped "
                               f"{'genotyped ' if single_step or large else ''}animals, "
                               f"fewer than {min_records}"
                           for tr, n in counts.items() if n < min_records}
        if large:
            t = time.perf_counter()
            done = evaluate_traits_snpblup(inputs.genotypes, genotyped_records, traits=traits,
                                           h2=h2, min_records=min_records,
                                           reml_animals=settings.evaluation_reml_animals,
                                           reliability_core=settings
                                           .evaluation_reliability_core,
                                           parents=inputs.parent_rows(), progress=say)
            timings["snpblup"] = time.perf_counter() - t
            params["snpblup"] = done.record
            core = done.record["reliability_core"]
            params["solver"]["reliability"] = (
                f"approximate, through a core of {core['animals']:,} genotyped animals "
                f"({core['parents']:,} of them parents; setting evaluation_reliability_core)"
                + (f" and {core['parent_links']:,} links of animals without a record to "
                   "their parents outside it" if core["parent_links"] else ""))
            t = time.perf_counter()
            summary.validation = validate_large_run(
                inputs.genotypes, genotyped_records, _birth_years(inputs.animals), done,
                rules=rules or ValidationRules.from_settings(settings), min_records=min_records,
                progress=say)
            timings["validation"] = time.perf_counter() - t
            say("storing: inbreeding, parentage and the results")
            parentage = _finish_after_solve(db, identity, run_id, inputs, ids, done.results,
                                            done.g_diag, parentage_min_informative, timings)
            summary.parentage = (parentage["status"].value_counts().to_dict()
                                 if len(parentage) else {})
            return _succeeded(db, identity, run_id, params, summary, timings, t0,
                              done.results, summary.validation, kind, len(ids))
        t = time.perf_counter()
        say(f"relationships: G of {len(ids):,} animals")
        grm = vanraden_grm(inputs.genotypes)
        timings["grm"] = time.perf_counter() - t
        out = folder / f"run-{run_id}"
        out.mkdir(parents=True, exist_ok=True)
        summary.grm_files = [str(p) for p in write_gcta_grm(
            out / "grm", grm.matrix, [(i, i) for i in ids], n_nonmissing=float(grm.n_snps_used))]
        t = time.perf_counter()
        say(f"GBLUP: variance components and solutions of {len(traits)} traits")
        results = evaluate_traits(grm.matrix, ids, genotyped_records, traits=traits, h2=h2,
                                  min_records=min_records) if traits else []
        timings["gblup"] = time.perf_counter() - t
        hinv = None
        if single_step:
            t = time.perf_counter()
            say(f"single-step: {len(inputs.others):,} animals without genotypes")
            pedigree = single_step_run.run_pedigree(inputs.animals, inputs.others)
            hinv = single_step_run.build_h_inverse(pedigree, grm.matrix, ids, blend=blend)
            solved, excluded = single_step_run.solve_traits(hinv, inputs.records, results,
                                                            min_records=min_records)
            summary.skipped.update(excluded)
            params["single_step"] = single_step_run.run_record(
                hinv, pedigree, len(ids), inputs.others, solved)
            results = solved
            timings["single_step"] = time.perf_counter() - t
        t = time.perf_counter()
        birth_years = _birth_years(inputs.animals)
        born = birth_years if hinv is None else pd.concat([birth_years,
                                                           _birth_years(inputs.others)])
        say("validation: partial evaluation without the youngest birth years")
        validation = validate_run(grm.matrix, ids, inputs.records, birth_years, results,
                                  rules=rules or ValidationRules.from_settings(get_settings()),
                                  min_records=min_records, h_inv=hinv, born=born)
        timings["validation"] = time.perf_counter() - t
        g_diag = np.diag(grm.matrix).copy()
        del grm
        say("storing: inbreeding, parentage and the results")
        parentage = _finish_after_solve(db, identity, run_id, inputs, ids, results, g_diag,
                                        parentage_min_informative, timings)
    except Exception as exc:
        _record_failure(db, identity, run_id, params, timings, exc)
        raise
    summary.parentage = parentage["status"].value_counts().to_dict() if len(parentage) else {}
    return _succeeded(db, identity, run_id, params, summary, timings, t0, results, validation,
                      kind, len(ids))


SNPBLUP_METHOD = ("SNP-BLUP (Stranden & Garrick 2009: equals GBLUP with VanRaden (2008) "
                  "method 1 G), all traits in one Jacobi-PCG pass over the packed genotypes; "
                  "variance components by spectral REML per trait on at most {n:,} recorded "
                  "animals in whole fixed-effect groups drawn at random (or h2 given); "
                  "reliabilities " + RELIABILITY_METHOD)


def _not_done_on_snpblup(choice: PathChoice, inputs: EvaluationInputs) -> dict[str, str]:
    """What a run on the SNP-BLUP path does not do because it needs G, each with why."""
    why = f"needs G ({len(inputs.genotypes.samples):,}^2), not formed on the SNP-BLUP path"
    out = {"grm_files": f"GCTA GRM files not written: {why}"}
    if len(inputs.others):
        out["single_step"] = (f"single-step not run: H^-1 {why}; the {len(inputs.others):,} "
                              "non-genotyped animals are not evaluated (APY single-step "
                              "would be needed), the genotyped are evaluated on their own")
    return out


def _birth_years(animals: pd.DataFrame) -> pd.Series:
    """Birth years by animal ID (text), as validation reads them."""
    return pd.Series(animals["birth_year"].to_numpy(), index=animals["id"].astype(str))


def _finish_after_solve(db: Database, identity: Identity, run_id: int,
                        inputs: EvaluationInputs, ids: list[str], results, g_diag: np.ndarray,
                        parentage_min_informative: int, timings: dict) -> pd.DataFrame:
    """Pedigree inbreeding, parentage, sire discovery and storing: the same on both paths."""
    t = time.perf_counter()
    f_ped = _pedigree_inbreeding(inputs.pedigree)
    timings["pedigree"] = time.perf_counter() - t
    t = time.perf_counter()
    parentage = _parentage(inputs, ids, parentage_min_informative)
    timings["parentage"] = time.perf_counter() - t
    t = time.perf_counter()
    with db.session(identity) as session:
        suggestions = suggest_sires(session, inputs.genotypes, parentage,
                                    min_informative=parentage_min_informative)
    parentage = parentage.merge(suggestions.assign(role="sire"), how="left",
                                on=["animal", "role"])
    timings["sire_discovery"] = time.perf_counter() - t
    _store(db, identity, run_id, inputs, results, g_diag, f_ped, parentage)
    return parentage


def _succeeded(db: Database, identity: Identity, run_id: int, params: dict,
               summary: EvaluationSummary, timings: dict, t0: float, results, validation: dict,
               kind: str, genotyped: int) -> EvaluationSummary:
    timings["total"] = time.perf_counter() - t0
    with db.session(identity, reason="evaluation run finished") as session:
        done = session.get(EvaluationRun, run_id)
        done.status, done.finished_at, done.timings = "succeeded", datetime.now(UTC), timings
        done.validation = validation
        done.parameters = {**params, "skipped_traits": summary.skipped, "traits": {
            r.trait: {"h2": r.variances.h2, "se_h2": _num(r.variances.se_h2),
                      "at_boundary": bool(r.variances.at_boundary),
                      "n_records": int(r.animals["has_record"].sum())} for r in results}}
    summary.traits = {r.trait: {"h2": round(r.variances.h2, 3),
                                "se_h2": _num(r.variances.se_h2),
                                "records": int(r.animals["has_record"].sum())} for r in results}
    summary.seconds = timings
    summary.validation = validation
    summary.method = kind
    summary.genotyped = genotyped
    return summary


def _record_failure(db: Database, identity: Identity, run_id: int | None, params: dict,
                    timings: dict, exc: Exception) -> None:
    """Mark the run failed with the error (and its rule, when it has one), creating the run
    record when the failure came before it existed."""
    with db.session(identity, reason="evaluation run failed") as session:
        failed = None if run_id is None else session.get(EvaluationRun, run_id)
        if failed is None:
            failed = EvaluationRun(method="gblup", parameters=params, software={})
            session.add(failed)
        failed.status, failed.finished_at = "failed", datetime.now(UTC)
        failed.timings = {**timings, "error": f"{type(exc).__name__}: {exc}"}
        if isinstance(exc, RuleViolation):  # the record names the rule, as the error does
            failed.parameters = {**params, "error": {"rule": exc.rule, "message": exc.message}}


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _pedigree_inbreeding(pedigree: pd.DataFrame) -> pd.Series:
    ped = pd.DataFrame({"animal": pedigree["id"].astype(str),
                        "sire": pedigree["sire_id"].map(lambda v: None if pd.isna(v)
                                                        else str(int(v))),
                        "dam": pedigree["dam_id"].map(lambda v: None if pd.isna(v)
                                                      else str(int(v)))})
    ordered = order_pedigree(ped, animal="animal", sire="sire", dam="dam")
    return pd.Series(inbreeding_meuwissen_luo(ordered), index=list(ordered.ids))


def _parentage(inputs: EvaluationInputs, ids: list[str], min_informative: int) -> pd.DataFrame:
    a = inputs.animals
    ped = pd.DataFrame({"animal": ids,
                        "sire": [None if pd.isna(s) else str(int(s)) for s in a["sire_id"]],
                        "dam": [None if pd.isna(d) else str(int(d)) for d in a["dam_id"]]})
    checked = verify_parents(inputs.genotypes, ped, min_informative=min_informative)
    return checked[checked["status"] != "not genotyped"]


def _store(db: Database, identity: Identity, run_id: int, inputs: EvaluationInputs, results,
           diag: np.ndarray, f_ped: pd.Series, parentage: pd.DataFrame) -> None:
    """Results of the genotyped (basis ``genomic``) and of the evaluated customers'
    non-genotyped animals (basis ``pedigree``); an ancestor of another customer, in the
    single-step model only, is not stored. Inbreeding and parentage: the genotyped."""
    customer = dict(zip(inputs.animals["id"].astype(str), inputs.animals["customer_id"],
                        strict=True))
    mine = inputs.others[inputs.others["stored"].astype(bool)] if len(inputs.others) else None
    owner = {**customer, **({} if mine is None else dict(
        zip(mine["id"].astype(str), mine["customer_id"], strict=True)))}
    with db.session(identity, reason="evaluation results") as session:
        rows = [{"run_id": run_id, "customer_id": int(owner[r.animal]),
                 "animal_id": int(r.animal), "trait": r.trait, "gebv": float(r.gebv),
                 "reliability": float(r.reliability),
                 "basis": "genomic" if r.animal in customer else "pedigree"}
                for res in results for r in res.animals.itertuples() if r.animal in owner]
        if rows:
            session.execute(insert(EvaluationResult), rows)
        session.execute(insert(Inbreeding), [
            {"run_id": run_id, "customer_id": int(customer[a]), "animal_id": int(a),
             "f_genomic": float(diag[i] - 1.0),
             "f_pedigree": float(f_ped[a]) if a in f_ped.index else None}
            for i, a in enumerate(customer)])
        if len(parentage):
            session.execute(insert(ParentageResult), [
                {"run_id": run_id, "customer_id": int(customer[p.animal]),
                 "animal_id": int(p.animal), "parent_role": p.role,
                 "recorded_parent_id": int(p.parent), "informative_snps": int(p.n_informative),
                 "opposing_homozygotes": int(p.n_opposing), "status": p.status,
                 "suggested_parent_id": None if pd.isna(p.suggested) else int(p.suggested),
                 "note": None if pd.isna(p.note) else p.note}
                for p in parentage.itertuples()])


def release_run(session, run_id: int, *, despite_validation: str | None = None) -> int:
    """Release a succeeded run: its results become visible as released, and immutable.

    A run whose validation recorded reasons against an automatic release (bias or dispersion
    beyond the settings, validation not possible; ``validation.release.reasons``) is refused
    (rule ``evaluation.validation``, naming them): a release is decided on numbers. A person
    with ``results:release`` who has looked at them releases it anyway by giving
    ``despite_validation`` — why (``reprotech eval release RUN --despite-validation WHY``);
    who, when and why are recorded on the run. Runs made before the validation existed
    (migration 0018) have no verdict and release as before."""
    run = session.get(EvaluationRun, run_id)
    if run is None:
        raise NotFound(f"no evaluation run {run_id}")
    if run.status != "succeeded":
        raise RuleViolation("evaluation.release", f"run {run_id} is {run.status}; only a "
                            "succeeded run can be released")
    verdict = (run.validation or {}).get("release", {})
    reasons = verdict.get("reasons", [])
    if reasons and not (despite_validation or "").strip():
        raise RuleViolation("evaluation.validation", f"run {run_id} is not released "
                            f"automatically: {'; '.join(reasons)}. Release it explicitly "
                            "with a reason (--despite-validation) after looking at the numbers")
    if reasons:
        if not has_permission(session, "results:release"):
            raise RuleViolation("evaluation.validation", f"releasing run {run_id} despite its "
                                "validation needs the permission results:release")
        who = session.scalar(text("SELECT core.actor_id()"))
        run.validation = {**run.validation, "release": {**verdict, "despite": {
            "by": who, "reason": despite_validation.strip(),
            "at": datetime.now(UTC).isoformat()}}}
    n = session.execute(text("UPDATE core.evaluation_results SET released = true "
                             "WHERE run_id = :r AND NOT released"), {"r": run_id}).rowcount
    run.status, run.released_at = "released", datetime.now(UTC)
    return n
