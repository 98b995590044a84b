"""Animals and their pedigree.

Pedigree rules (sire male, dam female, parents born before the calf, no animal its own
ancestor, parents in the same customer or the reference catalogue) and the tier's animal
limit are enforced by triggers (migrations), so they hold for every writer, notebooks included.
An animal named as a parent, bull or sire by its farm's records cannot move to another farm
(migration 0013).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data_models.base import CORE, Base, created_at, pk


class Animal(Base):
    __tablename__ = "animals"
    __table_args__ = (
        UniqueConstraint("customer_id", "official_id"),
        UniqueConstraint("id", "customer_id"),
        ForeignKeyConstraint(
            ["herd_id", "customer_id"], [f"{CORE}.herds.id", f"{CORE}.herds.customer_id"]
        ),
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint("sire_id IS DISTINCT FROM id AND dam_id IS DISTINCT FROM id", name="not_own_parent"),
        CheckConstraint("length(official_id) BETWEEN 1 AND 64", name="official_id_length"),
        CheckConstraint("entry_date IS NULL OR birth_date IS NULL OR entry_date >= birth_date",
                        name="entry_after_birth"),
        {"schema": CORE},
    )
    id: Mapped[int] = pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(f"{CORE}.customers.id"), nullable=False, index=True
    )
    herd_id: Mapped[int | None] = mapped_column(index=True)
    official_id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    breed: Mapped[str] = mapped_column(String(32), nullable=False)
    sex: Mapped[str] = mapped_column(String(1), nullable=False)
    birth_date: Mapped[date | None] = mapped_column(Date)
    # Parents: of this customer or of the reference catalogue (triggers, migrations 0002, 0013).
    sire_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.animals.id"), index=True,
                                                info={"catalogue_reference": "sire"})
    dam_id: Mapped[int | None] = mapped_column(ForeignKey(f"{CORE}.animals.id"), index=True,
                                               info={"catalogue_reference": "dam"})
    # From the herd register (migration 0016): the farm's own number, when and how the animal
    # entered the herd; a placeholder is a parent created only because a register named it.
    management_number: Mapped[str | None] = mapped_column(String(32))
    entry_date: Mapped[date | None] = mapped_column(Date)
    entry_status: Mapped[str | None] = mapped_column(String(32))
    placeholder: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = created_at()
