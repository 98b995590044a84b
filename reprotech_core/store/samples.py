"""Samples received by the lab: a barcode tied to a customer's animal."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import Sample
from data_models.tenancy import Customer
from reprotech_core.errors import RuleViolation


def register_samples(
    session: Session, customer: Customer, samples: Iterable[tuple[str, str]],
    *, tissue: str | None = None,
) -> dict[str, int]:
    """Register (barcode, animal official ID) pairs for ``customer``; barcode -> sample id.

    Unknown animals and barcodes already in use are refused with every offender named.
    """
    pairs = list(samples)
    wanted = {oid for _, oid in pairs}
    animals = dict(session.execute(
        select(Animal.official_id, Animal.id).where(
            Animal.customer_id == customer.id, Animal.official_id.in_(wanted))).all())
    unknown = sorted(wanted - animals.keys())
    if unknown:
        raise RuleViolation("sample.animal_unknown",
                            f"customer {customer.code}: no animals {', '.join(unknown[:10])}")
    taken = set(session.scalars(select(Sample.barcode).where(
        Sample.barcode.in_([b for b, _ in pairs]))))
    if taken:
        raise RuleViolation("sample.barcode_taken",
                            f"barcodes already registered: {', '.join(sorted(taken)[:10])}")
    if not pairs:
        return {}
    rows = session.execute(
        insert(Sample).returning(Sample.barcode, Sample.id),
        [{"customer_id": customer.id, "animal_id": animals[oid], "barcode": barcode,
          "tissue": tissue} for barcode, oid in pairs],
    )
    return dict(rows.all())
