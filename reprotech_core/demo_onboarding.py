"""The demo farms' first day, as a new customer's: files in, through the real imports.

Each farm's part of the simulated herd (:func:`reprotech_core.store.simulated.plan_herd`)
becomes the files a farm and a lab really hand over, written once under
``var/onboarding/<farm>/``:

- ``register.csv`` (every second farm: ``register.xlsx``, so both readers run): a herd-book
  export with Interbull IDs; AI sires are named by ID and resolve against the shared
  catalogue; imported with :func:`~reprotech_core.herd.register_import.import_register`;
- ``records.csv``: the simulated phenotypes as a ``traits`` records file, under the trait codes
  the evaluation reads; imported with
  :func:`~reprotech_core.records.performance_import.import_records`;
- ``samples.csv``: the scanner's sample sheet (barcode, animal), read and registered by the
  functions behind ``reprotech lab samples`` and the Lab files page.

Why through the files: ``./run up`` then exercises every rule of the onboarding path each
time, and the demo shows what a customer's first import looks like. The imports run on every
load: a second load re-imports the same files and they report nothing to write. A refusal is a
bug in the demo's simulated data (the rules are not to be bent for it), raised with the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.accounts import customer_by_code
from reprotech_core.animals import AnimalRecord
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import ReprotechError
from reprotech_core.genomics.simulate import SimulatedHerd
from reprotech_core.herd.register_import import import_register
from reprotech_core.records.performance_import import import_records
from reprotech_core.settings import Settings
from reprotech_core.store.samples import read_sample_sheet, register_samples
from reprotech_core.store.simulated import HerdPlan, barcode_of

# The register's header as a herd-book export spells it (the import maps these aliases).
REGISTER_COLUMNS = {"official_id": "Official ID", "sex": "Sex", "birth_date": "Date of birth",
                    "breed": "Breed", "sire": "Sire", "dam": "Dam", "herd_code": "Herd"}
RECORDED_AFTER_BIRTH = timedelta(days=1000)  # a cow's phenotypes: her first lactation's date


class OnboardingRefused(ReprotechError):
    """An import refused a demo file: the simulated data broke a rule, which is a bug."""


@dataclass(frozen=True)
class FarmFiles:
    """A farm's files; None where the farm has nothing to hand over (a file without rows is
    refused by ``table.empty``, rightly: the simulation can leave a small farm without
    animals or without recorded cows)."""

    register: Path | None
    records: Path | None
    samples: Path | None


def farm_files(settings: Settings, farm: str, *, excel: bool) -> FarmFiles:
    """Where the farm's files are written (whether or not they exist yet)."""
    folder = settings.var_dir / "onboarding" / farm
    return FarmFiles(folder / ("register.xlsx" if excel else "register.csv"),
                     folder / "records.csv", folder / "samples.csv")


def write_register(animals: list[AnimalRecord], path: Path) -> Path:
    """A herd-book export of ``animals``: ISO dates in a CSV, date cells in a workbook."""
    frame = pd.DataFrame([{col: getattr(a, field) for field, col in REGISTER_COLUMNS.items()}
                          for a in animals], columns=list(REGISTER_COLUMNS.values()))
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False, sheet_name="Register")
    else:
        frame.to_csv(path, index=False)
    return path


def phenotype_records(herd: SimulatedHerd, official_id: dict[str, str],
                      animals: list[AnimalRecord]) -> pd.DataFrame:
    """The simulated phenotypes of the cows among ``animals`` as rows of a ``traits`` records
    file. Cows of all but the youngest generation have records (dated a lactation after
    birth); bulls and young animals are predicted from their genotypes."""
    ped = herd.pedigree.set_index("animal")
    recorded = ped[(ped["sex"] == 2) & (ped["generation"] < ped["generation"].max())]
    herd_of = {a.official_id: a.herd_code for a in animals}
    rows = []
    for animal, pheno in herd.phenotypes.loc[recorded.index].iterrows():
        oid = official_id[animal]
        if oid not in herd_of:
            continue
        day = pd.Timestamp(ped.at[animal, "birth_date"]).date() + RECORDED_AFTER_BIRTH
        rows += [{"animal": oid, "trait": trait, "value": float(value), "date": day,
                  "herd": herd_of[oid]} for trait, value in pheno.items() if np.isfinite(value)]
    return pd.DataFrame(rows, columns=["animal", "trait", "value", "date", "herd"])


def write_sample_sheet(animals: list[AnimalRecord], path: Path) -> Path:
    """One tube per animal, as the lab's barcode scanner lists them."""
    pd.DataFrame({"barcode": [barcode_of(a.official_id) for a in animals],
                  "animal": [a.official_id for a in animals]}).to_csv(path, index=False)
    return path


def write_farm_files(herd: SimulatedHerd, plan: HerdPlan, farm: str, files: FarmFiles
                     ) -> FarmFiles:
    """The farm's files, each written only when missing (their content is the seed's); the
    files it has no rows for are None."""
    animals = plan.farms[farm]
    records = phenotype_records(herd, plan.official_ids, animals)
    writers: list[tuple[Path | None, bool, Callable[[Path], object]]] = [
        (files.register, bool(animals), lambda p: write_register(animals, p)),
        (files.records, not records.empty, lambda p: records.to_csv(p, index=False)),
        (files.samples, bool(animals), lambda p: write_sample_sheet(animals, p))]
    written: list[Path | None] = []
    for path, has_rows, write in writers:
        if path is not None and has_rows and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        written.append(path if has_rows else None)
    return FarmFiles(*written)


def onboard(db: Database, actor: Identity, farm: str, files: FarmFiles, *,
            max_bytes: int) -> list[str]:
    """Import the farm's register, records and sample sheet, each in its own transaction as a
    person running the three commands would; one summary line per file."""
    if files.register is None:
        return [f"{farm}: no animals in the simulated herd; nothing to import"]
    lines = [f"{farm}: {_register(db, actor, farm, files.register, max_bytes)}"]
    if files.records is not None:
        lines.append(f"{farm}: {_records(db, actor, farm, files.records, max_bytes)}")
    if files.samples is not None:
        lines.append(f"{farm}: {_samples(db, actor, farm, files.samples, max_bytes)}")
    return lines


def _register(db: Database, actor: Identity, farm: str, path: Path, max_bytes: int) -> str:
    with db.session(actor, reason=f"herd register imported from {path.name}") as s:
        report = import_register(s, customer_by_code(s, farm), path, max_bytes=max_bytes)
        if not report.ok:
            raise OnboardingRefused(_refusal(farm, report.summary(), [
                f"{p.rule}: {p.message}" for p in report.problems]))
    return report.summary()


def _records(db: Database, actor: Identity, farm: str, path: Path, max_bytes: int) -> str:
    with db.session(actor, reason=f"performance records imported from {path.name}") as s:
        report = import_records(s, customer_by_code(s, farm), path, max_bytes=max_bytes)
        if not report.ok:
            raise OnboardingRefused(_refusal(farm, path.name, [
                f"{e.rule}: {e.message}" for e in report.errors]))
    counts = report.summary()
    return (f"{path.name}: {report.rows} rows read; "
            + ", ".join(f"{counts[k]} {k}" for k in ("new", "changed", "unchanged"))
            + ("; nothing to write" if not counts["new"] + counts["changed"]
               else "; written"))


def _samples(db: Database, actor: Identity, farm: str, path: Path, max_bytes: int) -> str:
    """The sheet's samples, as the lab registers them (a sheet sent again registers nothing)."""
    sheet = read_sample_sheet(path, max_bytes=max_bytes)
    with db.session(actor, reason=f"samples received from {path.name}") as s:
        done = register_samples(s, customer_by_code(s, farm), sheet)
    return f"{path.name}: {len(sheet)} samples; {done.summary()}"


def _refusal(farm: str, summary: str, problems: list[str]) -> str:
    shown = "\n  ".join(problems[:20])
    return f"demo farm {farm}: {summary} (a bug in the demo's simulated data):\n  {shown}"
