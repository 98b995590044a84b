"""Herds for the portal's tests and benchmark, written straight into the database.

A customer's animals get a four-generation recorded pedigree (AI sires from a reference
catalogue, own bulls in later generations), genotypes with QC decisions for a share of them,
one released evaluation run for several customers at once (GEBVs that follow the pedigree,
reliabilities, genomic and pedigree inbreeding, parentage with a few excluded sires), and,
on request, a reproduction history by the same simulator the demo uses. Deterministic by seed.

Results are simulated values, not an evaluation: the portal shows what is stored, and the
science has its own tests (tests/evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, text

from data_models.animals import Animal
from data_models.evaluation import EvaluationResult, EvaluationRun, Inbreeding, ParentageResult
from data_models.lab import Genotype, GenotypingBatch, QcResult, Sample
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.db.session import Database, Identity
from reprotech_core.evaluation.gblup import TRAITS
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.genomics.snpmap import SnpMap
from reprotech_core.store.panels import store_panel

SD = {"milk_production": 400.0, "fertility": 3.0, "disease_resistance": 5.0, "longevity": 4.0}
N_SNPS = 40


@dataclass
class FarmSpec:
    code: str
    animals: int
    genotyped_share: float = 0.8
    evaluated: bool = True  # genotyped animals get results in the run
    single_step: bool = False  # every animal gets results: genotyped genomic, others pedigree
    reproduction: bool = False
    tier: str = "enterprise"


@dataclass
class BuiltFarm:
    id: int
    code: str
    herd: str
    animals: dict[str, int] = field(default_factory=dict)  # official id -> id
    genotyped: list[int] = field(default_factory=list)
    evaluated: list[int] = field(default_factory=list)
    calves: dict[str, int] = field(default_factory=dict)  # registered by simulated calvings

    @property
    def every_animal(self) -> dict[str, int]:
        return self.animals | self.calves


def _pick_dam(born: date, previous: list[AnimalRecord], females: list[AnimalRecord],
              rng: np.random.Generator) -> str | None:
    """A cow of the previous generation old enough to calve (> 700 days older), else any
    older cow of the farm; random picks keep this linear in the herd size."""
    for pool in (previous, females):
        for _ in range(8):
            if not pool:
                break
            cow = pool[int(rng.integers(len(pool)))]
            if (born - cow.birth_date).days > 700:
                return cow.official_id
    return None


def _pedigree(code: str, n: int, bulls: dict[str, date], rng: np.random.Generator,
              herd: str) -> list[AnimalRecord]:
    """Four generations; each calf's dam is an older cow of the farm, its sire an AI bull or,
    from the third generation on, one of the farm's own bulls."""
    gens = min(4, n)
    sizes = [n // gens] * gens
    sizes[-1] += n - sum(sizes)
    records: list[AnimalRecord] = []
    females: list[AnimalRecord] = []
    males: list[AnimalRecord] = []
    k = 0
    previous: list[AnimalRecord] = []
    for gen, size in enumerate(sizes):
        base = date(2015 + 3 * gen, 3, 1)
        born_now: list[AnimalRecord] = []
        for _ in range(size):
            k += 1
            born = base + timedelta(days=int(rng.integers(0, 500)))
            sex = "F" if rng.random() < (0.85 if gen else 1.0) else "M"
            sire = dam = None
            if gen:
                dam = _pick_dam(born, [f for f in previous if f.sex == "F"], females, rng)
                own = [m.official_id for m in males if (born - m.birth_date).days > 500]
                ai = [b for b, d in bulls.items() if (born - d).days > 500]
                pool = ai + own if gen >= 2 else ai
                sire = pool[int(rng.integers(len(pool)))] if pool and dam else None
            rec = AnimalRecord(f"{code.upper()}-{k:06d}", "Holstein", sex, born, herd_code=herd,
                               sire=sire, dam=dam if sire else None,
                               name=f"{code} cow {k}" if sex == "F" else f"{code} bull {k}")
            born_now.append(rec)
        records += born_now
        previous = born_now
        females += [r for r in born_now if r.sex == "F"]
        males += [r for r in born_now if r.sex == "M"]
    return records


def ensure_reference(db: Database, system: Identity, code: str, n_bulls: int = 12
                     ) -> dict[str, tuple[int, date]]:
    """A reference catalogue of AI bulls (created once): official id -> (id, birth date)."""
    with db.session(system) as s:
        cid = s.scalar(text("SELECT id FROM core.customers WHERE code = :c"), {"c": code})
        if cid is None:
            ref = accounts.create_customer(s, code=code, name=f"{code} sires", tier="reference",
                                           kind="reference")
            register_animals(s, ref, [AnimalRecord(f"{code.upper()}-BULL{i:02d}", "Holstein", "M",
                                                   date(2009 + i % 6, 1 + i % 12, 1),
                                                   name=f"Sire {i}")
                                      for i in range(n_bulls)])
            cid = ref.id
        rows = s.execute(text("SELECT official_id, id, birth_date FROM core.animals "
                              "WHERE customer_id = :c"), {"c": cid}).all()
    return {r.official_id: (r.id, r.birth_date) for r in rows}


def build_farm(db: Database, system: Identity, spec: FarmSpec, reference: str,
               *, seed: int) -> BuiltFarm:
    """Create the customer, its herd and animals (no results yet; see ``release_run``)."""
    rng = np.random.default_rng(seed)
    bulls = ensure_reference(db, system, reference)
    herd = f"{spec.code}-main"
    with db.session(system, reason="test herd") as s:
        customer = accounts.create_customer(s, code=spec.code, name=f"Farm {spec.code}",
                                            tier=spec.tier)
        accounts.create_herd(s, customer=customer, code=herd, name="Main herd")
        built = BuiltFarm(customer.id, spec.code, herd)
        if spec.animals:
            records = _pedigree(spec.code, spec.animals,
                                {b: d for b, (_, d) in bulls.items()}, rng, herd)
            built.animals = register_animals(s, customer, records)
    ids = sorted(built.animals.values())
    n_geno = int(round(len(ids) * spec.genotyped_share))
    built.genotyped = sorted(rng.choice(ids, n_geno, replace=False).tolist()) if n_geno else []
    built.evaluated = (ids if spec.single_step else list(built.genotyped)) if spec.evaluated \
        else []
    _genotypes(db, system, built, rng)
    if spec.reproduction:
        built.calves = _reproduction(db, system, spec.code, seed, set(built.animals))
    return built


def _panel(s) -> int:
    snps = SnpMap(names=np.array([f"snp{i}" for i in range(N_SNPS)]),
                  chrom=np.array(["1"] * N_SNPS),
                  pos=np.arange(1, N_SNPS + 1, dtype=np.int64) * 1000,
                  allele_a=np.array(["A"] * N_SNPS), allele_b=np.array(["G"] * N_SNPS))
    return store_panel(s, PanelManifest(chip="PortalTest40", snps=snps)).id


def _genotypes(db: Database, system: Identity, farm: BuiltFarm, rng: np.random.Generator) -> None:
    if not farm.genotyped:
        return
    now = datetime.now(UTC)
    with db.session(system, reason="test genotypes") as s:
        panel = _panel(s)
        batch = s.execute(insert(GenotypingBatch).returning(GenotypingBatch.id),
                          [{"name": f"{farm.code}-B1", "panel_id": panel,
                            "stage": "received"}]).scalar_one()
        samples = s.execute(insert(Sample).returning(Sample.id, Sample.animal_id), [
            {"customer_id": farm.id, "animal_id": a, "barcode": f"{farm.code}-S{a}",
             "batch_id": batch} for a in farm.genotyped]).all()
        calls = bytes(rng.integers(0, 256, (N_SNPS + 3) // 4, dtype=np.uint8))
        s.execute(insert(Genotype), [
            {"customer_id": farm.id, "sample_id": sid, "animal_id": aid, "panel_id": panel,
             "batch_id": batch, "n_snps": N_SNPS, "calls": calls,
             "call_rate": float(rng.uniform(0.95, 1.0))} for sid, aid in samples])
        decisions = rng.choice(["pass", "review", "fail"], len(samples), p=[0.9, 0.07, 0.03])
        s.execute(insert(QcResult), [
            {"customer_id": farm.id, "sample_id": sid, "batch_id": batch,
             "call_rate": 0.98, "heterozygosity": 0.3, "decision": str(d),
             "reasons": [] if d == "pass" else [f"call rate {d}"], "decided_at": now}
            for (sid, _), d in zip(samples, decisions, strict=True)])
        for stage in ("extracted", "genotyped", "qc", "released"):
            s.execute(text("UPDATE core.genotyping_batches SET stage = :st WHERE id = :b"),
                      {"st": stage, "b": batch})


def release_run(db: Database, system: Identity, farms: list[BuiltFarm], reference: str,
                *, seed: int) -> int:
    """One released evaluation run over the farms' evaluated animals and the catalogue's
    bulls: GEBVs that follow the pedigree (parent average + Mendelian sampling), reliabilities,
    inbreeding, and parentage with a few excluded sires."""
    rng = np.random.default_rng(seed)
    with db.session(system, reason="test run") as s:
        run = EvaluationRun(method="gblup", status="succeeded", parameters={"test": True})
        s.add(run)
        s.flush()
        run_id = run.id
        ref_id = s.scalar(text("SELECT id FROM core.customers WHERE code = :c"), {"c": reference})
        cids = [f.id for f in farms] + [ref_id]
        ped = pd.DataFrame(s.execute(text(
            "SELECT id, customer_id, sire_id, dam_id FROM core.animals "
            "WHERE customer_id = ANY(:c) ORDER BY birth_date NULLS FIRST, id"),
            {"c": cids}).all(), columns=["id", "customer_id", "sire_id", "dam_id"])
        wanted = set().union(*(f.evaluated for f in farms)) | set(
            ped.loc[ped["customer_id"] == ref_id, "id"])
        bv: dict[int, np.ndarray] = {}
        sd = np.array([SD[t] for t in TRAITS])
        for r in ped.itertuples():
            parents = [bv.get(p) for p in (r.sire_id, r.dam_id) if not pd.isna(p)]
            parents = [p for p in parents if p is not None]
            mean = np.mean(parents, axis=0) if parents else np.zeros(len(TRAITS))
            bv[r.id] = mean + rng.normal(0, 1, len(TRAITS)) * sd * (0.7 if parents else 1.0)
        evaluated = ped[ped["id"].isin(wanted)]
        genotyped = set().union(*(f.genotyped for f in farms))
        rows, inb, par = [], [], []
        for r in evaluated.itertuples():
            rel = rng.uniform(0.35, 0.85, len(TRAITS))
            basis = "genomic" if r.id in genotyped or r.customer_id == ref_id else "pedigree"
            rows += [{"run_id": run_id, "customer_id": int(r.customer_id), "animal_id": int(r.id),
                      "trait": t, "gebv": float(bv[r.id][k]), "reliability": float(rel[k]),
                      "basis": basis}
                     for k, t in enumerate(TRAITS)]
            if r.customer_id != ref_id and r.id in genotyped:
                inb.append({"run_id": run_id, "customer_id": int(r.customer_id),
                            "animal_id": int(r.id), "f_genomic": float(rng.normal(0.02, 0.03)),
                            "f_pedigree": float(abs(rng.normal(0.01, 0.01)))})
                if not pd.isna(r.sire_id):
                    status = "excluded" if rng.random() < 0.05 else "verified"
                    par.append({"run_id": run_id, "customer_id": int(r.customer_id),
                                "animal_id": int(r.id), "parent_role": "sire",
                                "recorded_parent_id": int(r.sire_id),
                                "informative_snps": 900,
                                "opposing_homozygotes": 40 if status == "excluded" else 1,
                                "status": status})
        for table, data in ((EvaluationResult, rows), (Inbreeding, inb), (ParentageResult, par)):
            for i in range(0, len(data), 5000):
                s.execute(insert(table), data[i:i + 5000])
    with db.session(system, reason="test release") as s:
        from reprotech_core.store.evaluations import release_run as release

        release(s, run_id)
    return run_id


def _reproduction(db: Database, system: Identity, code: str, seed: int,
                  registered: set[str]) -> dict[str, int]:
    """The demo's reproduction simulator over this farm's pedigree; entries the herd book
    refuses (the simulated pedigree is not a real herd) are left out. Returns the calves its
    calvings registered (official ID -> id)."""
    from data_models.tenancy import Customer
    from reprotech_core.demo import write_history

    with db.session(system, reason="test reproduction") as s:
        customer = s.scalar(select(Customer).where(Customer.code == code))
        write_history(s, customer, seed=seed, today=date.today(), strict=False)
        animals = s.execute(select(Animal.official_id, Animal.id)
                            .where(Animal.customer_id == customer.id)).all()
    return {name: aid for name, aid in animals if name not in registered}


def add_user(db: Database, system: Identity, username: str, role: str,
             customer: str | None = None) -> Identity:
    with db.session(system) as s:
        accounts.create_user(s, accounts.NewUser(username, username, role, customer))
    return db.identity(username)


REFERENCE = "p-sires"


@dataclass(frozen=True)
class Portal:
    farms: dict[str, BuiltFarm]
    users: dict[str, Identity]
    run_id: int


def build_portal(db: Database, system: Identity) -> Portal:
    """The portal tests' farms and users (see tests/dashboards/conftest.py)."""
    specs = [FarmSpec("pa", 40, reproduction=True, single_step=True),
             FarmSpec("pb", 20, single_step=True), FarmSpec("pc", 12),
             FarmSpec("pone", 1, genotyped_share=0.0, evaluated=False),
             FarmSpec("pempty", 0), FarmSpec("pbasic", 6, tier="basic")]
    farms = {spec.code: build_farm(db, system, spec, REFERENCE, seed=11 + i)
             for i, spec in enumerate(specs)}
    run = release_run(db, system, [farms[c] for c in ("pa", "pb", "pc", "pbasic")], REFERENCE,
                      seed=3)
    users = {name: add_user(db, system, name, role, customer) for name, role, customer in (
        ("pa-user", "customer_user", "pa"), ("pa-admin", "customer_admin", "pa"),
        ("pb-user", "customer_user", "pb"), ("pone-user", "customer_user", "pone"),
        ("pempty-user", "customer_user", "pempty"), ("pbasic-user", "customer_user", "pbasic"),
        ("p-vet", "veterinarian", None), ("p-lab", "lab_ops", None))}
    with db.session(system) as s:
        accounts.assign(s, "p-vet", "pa")
        accounts.assign(s, "p-vet", "pone")
    return Portal(farms, users, run)
