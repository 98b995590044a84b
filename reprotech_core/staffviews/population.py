"""Population analytics for researchers and administrators, on pseudonymised data only.

Sources: the research snapshot of the analytics store (``research/*.parquet`` read with
DuckDB: SNP statistics, per-animal heterozygosity, packed genotypes) and the research views
(``research.animals``, ``research.evaluation_results``: pseudonyms, herds, birth years,
released GEBVs). No customer identity is read anywhere here; every function first checks the
actor holds ``research:read``.

- PCA: top principal components of the VanRaden (2008) GRM (:mod:`~reprotech_core.evaluation.pca`)
  on at most ``max_animals`` animals (a deterministic sample above that: the picture of
  population structure does not need every animal, and the GRM is O(n^2 m)); genomic
  inbreeding ``F = diag(G) - 1`` comes from the same matrix.
- Allele-frequency spectrum: the folded spectrum (minor allele frequency histogram).
- Pedigree inbreeding by birth year (Meuwissen & Luo 1992) over the pseudonymised pedigree.
- GEBV distribution by herd; the genetic trend of :func:`research_gebvs` is
  :func:`reprotech_core.results.index.genetic_trend` (the portal's too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from reprotech_core.errors import NotFound, PermissionDenied
from reprotech_core.evaluation.grm import vanraden_grm
from reprotech_core.evaluation.inbreeding import genomic_inbreeding, inbreeding_trend
from reprotech_core.evaluation.pca import genomic_pca
from reprotech_core.evaluation.pedigree import inbreeding_meuwissen_luo, order_pedigree
from reprotech_core.genomics.snpmap import select_snps
from reprotech_core.research.access import load_cohort_from_store
from reprotech_core.roles import has_permission
from reprotech_core.store.analytics import connect

MAX_PCA_ANIMALS = 2000


def require_research(session: Session) -> None:
    if not has_permission(session, "research:read"):
        raise PermissionDenied("population analytics need the research:read permission")


def research_store(folder: Path) -> Path:
    """The research snapshot folder of an analytics store; :class:`NotFound` when the
    snapshot was never written (the page says so instead of failing)."""
    base = Path(folder) / "research"
    if not (base / "snp_stats.parquet").is_file():
        raise NotFound(f"no research snapshot in {folder}; the population report job "
                       "(`reprotech lab snapshot`) writes it")
    return base


def store_version(folder: Path) -> tuple[float, ...]:
    """Modification times of the research files: a cache key that changes with a snapshot."""
    base = research_store(folder)
    return tuple(p.stat().st_mtime for p in sorted(base.glob("*.parquet")))


def allele_frequency_spectrum(folder: Path, *, bins: int = 25,
                              panel: str | None = None) -> pd.DataFrame:
    """Folded spectrum: SNPs per minor-allele-frequency bin on [0, 0.5] (``bin_start``,
    ``bin_end``, ``snps``, ``share``); monomorphic SNPs fall in the first bin."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    con = connect("research", folder=folder)
    try:
        maf = con.execute("SELECT maf FROM snp_stats WHERE maf IS NOT NULL AND "
                          "(CAST(? AS VARCHAR) IS NULL OR panel = ?)", [panel, panel]
                          ).df()["maf"].to_numpy(float)
    finally:
        con.close()
    edges = np.linspace(0.0, 0.5, bins + 1)
    counts, _ = np.histogram(np.clip(maf, 0.0, 0.5), bins=edges)
    total = max(int(counts.sum()), 1)
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "snps": counts,
                         "share": counts / total})


def heterozygosity_by_herd(folder: Path) -> pd.DataFrame:
    """Per pseudonymised herd: genotyped animals, mean call rate, mean and SD heterozygosity."""
    con = connect("research", folder=folder)
    try:
        return con.execute(
            "SELECT herd, count(*) AS animals, avg(call_rate) AS mean_call_rate, "
            "avg(heterozygosity) AS mean_heterozygosity, "
            "stddev_samp(heterozygosity) AS sd_heterozygosity "
            "FROM animal_stats WHERE herd IS NOT NULL GROUP BY herd ORDER BY herd").df()
    finally:
        con.close()


@dataclass(frozen=True)
class PopulationStructure:
    """PCA scores and genomic inbreeding per animal, with what they were computed on."""

    animals: pd.DataFrame  # animal, herd, birth_year, pc1, pc2, f_genomic
    variance_explained: np.ndarray
    n_animals_total: int
    n_snps: int
    panel: str


def population_structure(folder: Path, *, max_animals: int = MAX_PCA_ANIMALS,
                         seed: int = 2008) -> PopulationStructure:
    """PCA of the research snapshot's genotypes (most used panel) and ``F = diag(G) - 1``."""
    cohort = load_cohort_from_store(folder)
    total = cohort.n_animals
    if total < 3:
        raise NotFound(f"PCA needs at least 3 genotyped animals; the snapshot has {total}")
    if total > max_animals:
        rows = np.sort(np.random.default_rng(seed).choice(total, max_animals, replace=False))
        cohort = cohort.subset(rows)
    autosomal = cohort.autosomal_mask()
    geno = cohort.genotypes
    if autosomal.any() and not autosomal.all():
        geno = select_snps(geno, np.flatnonzero(autosomal))
    n_snps = len(geno.snps)
    grm = vanraden_grm(geno)
    pca = genomic_pca(grm.matrix, n_components=min(2, cohort.n_animals - 1))
    scores = np.column_stack([pca.scores, np.zeros((cohort.n_animals, 2 - pca.scores.shape[1]))])
    animals = cohort.animals.reindex(columns=["animal", "herd", "birth_year"]).assign(
        pc1=scores[:, 0], pc2=scores[:, 1], f_genomic=genomic_inbreeding(grm.matrix))
    panel = cohort.snapshot.split(":")[1] if ":" in cohort.snapshot else ""
    return PopulationStructure(animals, pca.variance_explained, total, n_snps, panel)


def research_gebvs(session: Session) -> pd.DataFrame:
    """Released GEBVs of the newest released run per trait, with pseudonymised herd and
    birth year (``animal, herd, birth_year, trait, gebv, reliability``)."""
    require_research(session)
    rows = session.execute(text(
        """
        SELECT r.animal, a.herd, a.birth_year, r.trait, r.gebv, r.reliability
          FROM research.evaluation_results r JOIN research.animals a USING (animal)
         WHERE r.released
           AND r.run_id = (SELECT max(x.run_id) FROM research.evaluation_results x
                            WHERE x.released AND x.trait = r.trait)
         ORDER BY r.trait, a.herd, r.animal
        """)).all()
    return pd.DataFrame(rows, columns=["animal", "herd", "birth_year", "trait", "gebv",
                                       "reliability"])


def gebv_by_herd(gebvs: pd.DataFrame, trait: str) -> pd.DataFrame:
    """Per herd, the distribution of one trait's GEBVs (``herd, animals, mean, q25, median,
    q75, min, max``), herds by median."""
    if trait not in set(gebvs["trait"]):
        raise ValueError(f"no released GEBVs for trait {trait!r}; traits: "
                         f"{sorted(set(gebvs['trait']))}")
    t = gebvs[gebvs["trait"] == trait].dropna(subset=["herd"])
    g = t.groupby("herd")["gebv"]
    out = pd.DataFrame({"animals": g.size(), "mean": g.mean(), "q25": g.quantile(0.25),
                        "median": g.median(), "q75": g.quantile(0.75), "min": g.min(),
                        "max": g.max()}).reset_index()
    return out.sort_values(["median", "herd"], ascending=[False, True]).reset_index(drop=True)


def pedigree_inbreeding(session: Session) -> pd.DataFrame:
    """Pedigree inbreeding (Meuwissen & Luo 1992) of every animal in the research views
    (``animal, herd, birth_year, f_pedigree``); parents outside the views count as founders."""
    require_research(session)
    rows = session.execute(text(
        "SELECT animal, sire, dam, herd, birth_year FROM research.animals")).all()
    ped = pd.DataFrame(rows, columns=["animal", "sire", "dam", "herd", "birth_year"])
    if ped.empty:
        return ped.drop(columns=["sire", "dam"]).assign(f_pedigree=pd.Series(dtype=float))
    ordered = order_pedigree(ped, add_missing_parents=True)
    f = pd.Series(inbreeding_meuwissen_luo(ordered), index=ordered.ids)
    return ped.drop(columns=["sire", "dam"]).assign(f_pedigree=ped["animal"].map(f).to_numpy())


def inbreeding_by_year(table: pd.DataFrame, columns: tuple[str, ...] = ("f_pedigree",)
                       ) -> pd.DataFrame:
    """Mean, SD and count of inbreeding per birth year (all herds together)."""
    if table.empty:
        return pd.DataFrame(columns=["birth_year", *[f"{c}_{s}" for c in columns
                                                     for s in ("mean", "std", "count")]])
    out = inbreeding_trend(table, columns=list(columns), by=("birth_year",))
    out["birth_year"] = out["birth_year"].astype(int)
    return out
