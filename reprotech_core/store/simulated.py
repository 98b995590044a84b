"""A simulated herd (reprotech_core.genomics.simulate) as the platform's records.

:func:`plan_herd` deals the recorded (sometimes wrong) pedigree to farms and the shared AI-sire
catalogue; the demo (:mod:`reprotech_core.demo`) writes the farms' part as herd-book files and
imports them as a new customer's would arrive. :func:`place_herd` registers the same plan by
direct calls: the tests' fast path to several genotyped farms in one transaction.
:func:`as_lab_file` gives the genotypes as the lab reports them, keyed by sample barcode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.tenancy import Customer
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from reprotech_core.genomics.simulate import SimulatedHerd
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.samples import ReceivedSample, register_samples


@dataclass(frozen=True)
class PlacedHerd:
    customers: dict[str, str]  # simulator customer -> platform customer code
    reference: list[str]  # animals in the reference catalogue
    barcodes: dict[str, str]  # animal -> sample barcode


@dataclass(frozen=True)
class HerdPlan:
    """The records a simulated herd becomes: each farm's animals and herds, the catalogue's
    bulls, and every simulated animal's official ID. The demo writes the farms' part as
    herd-book files; :func:`place_herd` registers it directly."""

    farms: dict[str, list[AnimalRecord]]  # platform customer code -> its animals
    herds: dict[str, list[str]]  # platform customer code -> its herd codes
    reference: list[AnimalRecord]  # the AI bulls, for the shared catalogue
    official_ids: dict[str, str]  # simulator animal -> official ID


def barcode_of(animal: str, prefix: str = "BC") -> str:
    return prefix + animal[-9:]


def interbull_id(animal: str, sex: str) -> str:
    """A simulated animal's ID in the 19-character Interbull form a herd book exports (breed
    HOL, country CAN, sex, 12-digit number): the register import accepts no other letters.
    Its last nine digits are the simulator's, so barcodes stay those of :func:`barcode_of`."""
    return f"HOLCAN{sex}{int(animal[-9:]):012d}"


def plan_herd(herd: SimulatedHerd, *, customer_codes: dict[str, str],
              official_id: Callable[[str, str], str]) -> HerdPlan:
    """Deal the simulated pedigree to the farms and the catalogue; pure.

    ``official_id(simulator_id, sex)`` names each animal (sex ``M``/``F``). Sires used outside
    their own customer (AI bulls) go to the reference catalogue, as they would in reality;
    their own dams are not recorded there (the catalogue holds no farm's cows)."""
    sexes = dict(zip(herd.pedigree["animal"], herd.pedigree["sex"], strict=True))
    names = {a: official_id(a, "M" if s == 1 else "F") for a, s in sexes.items()}
    ped = herd.pedigree.copy()
    for col in ("animal", "sire", "dam"):
        ped[col] = [None if _id(a) is None else names[str(a)] for a in ped[col]]
    own = dict(zip(ped["animal"], ped["customer"], strict=True))
    progeny_customers = ped.dropna(subset=["sire"]).groupby("sire")["customer"].agg(set)
    ai = {s for s, custs in progeny_customers.items() if custs - {own[s]}}
    farms: dict[str, list[AnimalRecord]] = {code: [] for code in customer_codes.values()}
    reference = []
    for row in ped.itertuples():
        in_ref = row.animal in ai
        recorded_sire, recorded_dam = _id(row.sire), _id(row.dam)
        sire = recorded_sire if recorded_sire and (not in_ref or recorded_sire in ai) else None
        rec = AnimalRecord(
            official_id=row.animal, breed="Holstein", sex="M" if row.sex == 1 else "F",
            birth_date=pd.Timestamp(row.birth_date).date(),
            herd_code=None if in_ref else row.herd, sire=sire,
            dam=None if in_ref else recorded_dam)
        (reference if in_ref else farms[customer_codes[row.customer]]).append(rec)
    herds = {code: sorted({r.herd_code for r in records if r.herd_code})
             for code, records in farms.items()}
    return HerdPlan(farms, herds, reference, names)


def place_herd(
    session: Session, herd: SimulatedHerd, *, customer_codes: dict[str, str],
    reference_code: str, tier: str = "professional", barcode_prefix: str = "BC",
    animal_prefix: str = "SIMCAN",
) -> PlacedHerd:
    """Register the herd's customers, herds, animals and samples (one call, one transaction):
    the tests' fast path to a genotyped multi-farm herd, without the import files.

    ``animal_prefix`` replaces the simulator's ``SIMCAN`` so several simulated herds can share
    a database (official IDs are meant to be unique in the world).
    """
    plan = plan_herd(herd, customer_codes=customer_codes,
                     official_id=lambda animal, _sex: animal_prefix + animal[-9:])
    ref = _customer(session, reference_code, "AI sire catalogue", "reference", "reference")
    register_animals(session, ref, plan.reference)
    for code, records in plan.farms.items():
        customer = _customer(session, code, f"Farm {code}", "farm", tier)
        for h in plan.herds[code]:
            accounts.create_herd(session, customer=customer, code=h, name=h.title())
        register_animals(session, customer, records)
        register_samples(session, customer, samples_of(records, barcode_prefix))
    register_samples(session, ref, samples_of(plan.reference, barcode_prefix))
    return PlacedHerd(dict(customer_codes), sorted(r.official_id for r in plan.reference),
                      {a: barcode_of(a, barcode_prefix) for a in plan.official_ids.values()})


def samples_of(records: list[AnimalRecord], barcode_prefix: str) -> list[ReceivedSample]:
    """One received sample per registered animal, as if its sheet had a line each."""
    return [ReceivedSample(line, barcode_of(r.official_id, barcode_prefix), r.official_id)
            for line, r in enumerate(records, start=2)]


def _id(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _customer(session: Session, code: str, name: str, kind: str, tier: str) -> Customer:
    existing = session.scalar(select(Customer).where(Customer.code == code))
    return existing or accounts.create_customer(session, code=code, name=name, tier=tier,
                                                kind=kind)


def as_lab_file(geno: GenotypeSet, rows: np.ndarray, *, barcode_prefix: str = "BC"
                ) -> GenotypeSet:
    """The genotypes of ``rows`` as the lab reports them: sample IDs are the barcodes."""
    return GenotypeSet(packed=geno.packed[rows], snps=geno.snps,
                       samples=np.array([barcode_of(a, barcode_prefix)
                                         for a in geno.samples[rows]]),
                       sex=None if geno.sex is None else geno.sex[rows])
