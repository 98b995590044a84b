"""A research cohort: pseudonymised animals and their genotype set on one panel.

The container every workbench analysis takes (dataset in, result out). Rows of ``animals``
and of ``genotypes`` (a :class:`~reprotech_core.genomics.snpmap.GenotypeSet` whose sample IDs
are the pseudonyms) are the same animals in the same order, so a cohort hands the evaluation
functions (``vanraden_grm(cohort.genotypes)``) the same object the store and files give.
``animals`` carries the research views' columns: ``animal`` (pseudonym), ``herd``,
``customer`` (pseudonyms), ``breed``, ``sex``, ``birth_year`` and, when loaded from the
database, ``sire`` and ``dam`` pseudonyms.
No official ID or name is ever part of a cohort.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.genomics.plink_bed import write_plink
from reprotech_core.genomics.snpmap import AUTOSOME_NAMES, GenotypeSet, SnpMap, select_samples

from .provenance import record


class EmptyCohort(ValueError):
    """A cohort (or a group of it) has no genotyped animals to analyse."""


@dataclass(frozen=True)
class Cohort:
    """Animals (one row each) and their genotypes (packed calls, pseudonyms, SNP map)."""

    animals: pd.DataFrame
    genotypes: GenotypeSet
    snapshot: str = "in-memory"

    def __post_init__(self) -> None:
        if "animal" not in self.animals.columns:
            raise ValueError("cohort animals need an 'animal' column (pseudonym)")
        if not np.array_equal(self.animals["animal"].astype(str).to_numpy(),
                              self.genotypes.samples.astype(str)):
            raise ValueError(f"the cohort's {len(self.genotypes.samples)} genotyped samples are "
                             f"not its {len(self.animals)} animals in the same order")
        if self.animals["animal"].duplicated().any():
            dup = self.animals.loc[self.animals["animal"].duplicated(), "animal"].iloc[0]
            raise ValueError(f"animal {dup!r} appears twice in the cohort")

    @property
    def packed(self) -> np.ndarray:
        return self.genotypes.packed

    @property
    def snps(self) -> SnpMap:
        return self.genotypes.snps

    @property
    def n_animals(self) -> int:
        return len(self.animals)

    @property
    def n_snps(self) -> int:
        return len(self.snps)

    def digest(self) -> str:
        """SHA-256 over animal pseudonyms, packed calls and SNP names: the data's identity."""
        h = hashlib.sha256()
        h.update("\n".join(self.animals["animal"].astype(str)).encode())
        h.update(np.ascontiguousarray(self.packed).tobytes())
        h.update("\n".join(self.snps.names.astype(str)).encode())
        return h.hexdigest()

    def require_genotypes(self, what: str = "this analysis", minimum: int = 1) -> None:
        """Raise :class:`EmptyCohort` naming ``what`` when fewer than ``minimum`` animals."""
        if self.n_animals < minimum:
            raise EmptyCohort(f"{what} needs at least {minimum} genotyped animals; the cohort "
                              f"({self.snapshot}) has {self.n_animals}")

    def subset(self, rows: np.ndarray | pd.Series) -> Cohort:
        """The cohort restricted to ``rows`` (boolean mask or positions)."""
        idx = np.asarray(rows)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return Cohort(self.animals.iloc[idx].reset_index(drop=True),
                      select_samples(self.genotypes, idx), self.snapshot)

    def autosomal_mask(self) -> np.ndarray:
        """SNPs on the cattle autosomes 1-29 (diversity and Ne exclude X and unplaced SNPs)."""
        return np.isin(self.snps.chrom.astype(str), list(AUTOSOME_NAMES))

    def groups(self, by: str) -> dict[str, np.ndarray]:
        """Row positions per value of column ``by`` (missing values left out), sorted by value."""
        if by not in self.animals.columns:
            raise ValueError(f"cohort has no column {by!r}; columns: {list(self.animals.columns)}")
        values = self.animals[by]
        keep = values.notna().to_numpy()
        labels = values.astype(str).to_numpy()
        return {g: np.flatnonzero(keep & (labels == g)) for g in sorted(set(labels[keep]))}


def export_plink(cohort: Cohort, prefix: str | Path) -> Path:
    """Write the cohort as PLINK 1 files: FID = herd pseudonym, IID = animal pseudonym.

    Exports carry the pseudonyms only (the cohort holds nothing else), plus
    ``prefix.provenance.json`` recording the snapshot and data digest of what was written.
    """
    a = cohort.animals
    sex = a["sex"].map({"M": 1, "F": 2}).fillna(0).to_numpy(np.int8) if "sex" in a else None
    geno = replace(cohort.genotypes, sex=sex)
    fam = pd.DataFrame({"fid": a["herd"].fillna("0").astype(str).to_numpy()}) if "herd" in a \
        else None
    out = write_plink(geno, prefix, fam=fam)
    prov = record("export_plink", snapshot=cohort.snapshot, inputs={"cohort": cohort},
                  parameters={"prefix": str(prefix)})
    out.with_name(out.name + ".provenance.json").write_text(prov.to_json())
    return out
