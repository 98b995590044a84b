"""A customer's stored genotypes as a :class:`GenotypeSet`, for PLINK/VCF export and analyses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.lab import Genotype, SnpPanel
from data_models.tenancy import Customer
from reprotech_core.errors import NotFound, RuleViolation
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.store.genotypes import read_genotypes


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
    return read_genotypes(session, panel_id=chosen.id, customer_id=customer.id,
                          label="official_id")
