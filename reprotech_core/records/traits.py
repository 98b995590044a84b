"""The trait codes performance records are stored under, and what a plausible value is.

One list: the import's kinds, its range rule, the derived phenotypes and migration 0017 (which
inserts these codes into ``core.traits``; a test checks the two agree) all read it.

Ranges are deliberately wide — they catch a unit or a column mix-up (milk in litres x 10, fat
in grams, a protein percentage in the kg column), not a high yielder: a 305-day yield of
25,000 kg is a world-record cow, 500 kg a cow dried off early. Sources: ICAR guidelines
section 2 (lactation calculation) and national herd-book record ranges.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


LACTATION_TRAITS: dict[str, tuple[str, Range]] = {  # file column -> (trait code, range)
    "milk_kg": ("milk_305d", Range(500, 25_000, "kg")),
    "fat_kg": ("fat_305d", Range(10, 1_500, "kg")),
    "protein_kg": ("protein_305d", Range(10, 1_000, "kg")),
}
LACTATION_NUMBERS = Range(1, 20, "")

# Health events a vet or herd software records; each is stored as 1 on the day diagnosed.
HEALTH_EVENTS = ("clinical_mastitis", "lameness", "metritis", "retained_placenta", "ketosis",
                 "displaced_abomasum", "milk_fever")

DERIVED_TRAITS = ("days_open", "first_service_conception", "productive_life")

# Plausible values of any trait imported as a number (``--kind traits``); a trait not named
# here is checked only for being a finite number.
TRAIT_RANGES: dict[str, Range] = {
    **{code: rng for code, rng in LACTATION_TRAITS.values()},
    **{code: Range(0, 1, "event") for code in HEALTH_EVENTS},
    "days_open": Range(20, 600, "days"),
    "first_service_conception": Range(0, 1, "0/1"),
    "productive_life": Range(0, 6_000, "days"),
}

RECORD_TRAITS = (*(code for code, _ in LACTATION_TRAITS.values()), *HEALTH_EVENTS,
                 *DERIVED_TRAITS)
