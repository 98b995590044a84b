"""A customer's stored genotypes as a :class:`GenotypeSet`, for PLINK/VCF export and analyses."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.animals import Animal
from data_models.lab import Genotype, SnpPanel
from data_models.tenancy import Customer
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.panels import load_panel


def customer_genotypes(session: Session, customer: Customer, *, panel: str | None = None
                       ) -> GenotypeSet:
    """One genotype set per panel: the customer's animals (official IDs as sample IDs) with
    their recorded sex. Row security applies: only what the session may see is returned."""
    panels = session.execute(
        select(SnpPanel.id, SnpPanel.name).join(Genotype, Genotype.panel_id == SnpPanel.id)
        .where(Genotype.customer_id == customer.id).distinct()).all()
    if not panels:
        raise NotFound(f"customer {customer.code} has no stored genotypes")
    if panel is None and len(panels) > 1:
        raise RuleViolation("export.panel", f"customer {customer.code} has genotypes on "
                            f"{', '.join(p.name for p in panels)}; choose one with --panel")
    chosen = next((p for p in panels if panel in (None, p.name)), None)
    if chosen is None:
        raise NotFound(f"customer {customer.code} has no genotypes on panel {panel!r}")
    rows = session.execute(
        select(Animal.official_id, Animal.sex, Genotype.calls)
        .join(Animal, Animal.id == Genotype.animal_id)
        .where(Genotype.customer_id == customer.id, Genotype.panel_id == chosen.id)
        .order_by(Animal.official_id)).all()
    return GenotypeSet(
        packed=np.frombuffer(b"".join(r.calls for r in rows), dtype=np.uint8)
        .reshape(len(rows), -1).copy(),
        samples=np.array([r.official_id for r in rows]),
        snps=load_panel(session, chosen.id),
        sex=np.array([1 if r.sex == "M" else 2 for r in rows], dtype=np.int8))
