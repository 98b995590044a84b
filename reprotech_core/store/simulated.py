"""Put a simulated herd (reprotech_core.genomics.simulate) into the platform's records.

Used by the demo and the tests, so both exercise the same paths a real lab uses: customers,
herds and animals registered with their recorded (sometimes wrong) pedigree, samples with
barcodes, and genotypes arriving as FinalReport files.

Sires used outside their own customer (AI bulls) go to the reference catalogue, as they would
in reality; their own dams are not recorded there (the catalogue holds no farm's cows).
"""

from __future__ import annotations

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


def barcode_of(animal: str, prefix: str = "BC") -> str:
    return prefix + animal[-9:]


def place_herd(
    session: Session, herd: SimulatedHerd, *, customer_codes: dict[str, str],
    reference_code: str, tier: str = "professional", barcode_prefix: str = "BC",
    animal_prefix: str = "SIMCAN",
) -> PlacedHerd:
    """Register the herd's customers, herds, animals and samples (one call, one transaction).

    ``animal_prefix`` replaces the simulator's ``SIMCAN`` so several simulated herds can share
    a database (official IDs are meant to be unique in the world).
    """
    ped = herd.pedigree.copy()
    for col in ("animal", "sire", "dam"):
        ped[col] = [None if _id(a) is None else animal_prefix + str(a)[-9:] for a in ped[col]]
    own = dict(zip(ped["animal"], ped["customer"], strict=True))
    progeny_customers = ped.dropna(subset=["sire"]).groupby("sire")["customer"].agg(set)
    ai = {s for s, custs in progeny_customers.items() if custs - {own[s]}}
    ref = _customer(session, reference_code, "AI sire catalogue", "reference", "reference")
    records = {code: [] for code in customer_codes.values()}
    ref_records = []
    for row in ped.itertuples():
        in_ref = row.animal in ai
        recorded_sire, recorded_dam = _id(row.sire), _id(row.dam)
        sire = recorded_sire if recorded_sire and (not in_ref or recorded_sire in ai) else None
        rec = AnimalRecord(
            official_id=row.animal, breed="Holstein", sex="M" if row.sex == 1 else "F",
            birth_date=pd.Timestamp(row.birth_date).date(),
            herd_code=None if in_ref else row.herd, sire=sire,
            dam=None if in_ref else recorded_dam)
        (ref_records if in_ref else records[customer_codes[row.customer]]).append(rec)
    register_animals(session, ref, ref_records)
    for sim_code, code in customer_codes.items():
        customer = _customer(session, code, f"Farm {code}", "farm", tier)
        for h in sorted(set(ped.loc[(ped["customer"] == sim_code) & ~ped["animal"].isin(ai),
                                    "herd"])):
            accounts.create_herd(session, customer=customer, code=h, name=h.title())
        register_animals(session, customer, records[code])
        register_samples(session, customer, _samples_of(records[code], barcode_prefix))
    register_samples(session, ref, _samples_of(ref_records, barcode_prefix))
    return PlacedHerd(dict(customer_codes), sorted(ai),
                      {a: barcode_of(a, barcode_prefix) for a in ped["animal"]})


def _samples_of(records: list[AnimalRecord], barcode_prefix: str) -> list[ReceivedSample]:
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
