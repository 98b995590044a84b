"""Genetic diversity within and differentiation between groups (herds, customers, cohorts).

Per group, from genotype counts (:func:`reprotech_core.genomics.counts.count_genotypes`) on
the autosomal SNPs:

- observed heterozygosity ``Ho``: mean over SNPs of the share of heterozygous calls;
- expected heterozygosity ``He``: mean over SNPs of Nei's (1978) unbiased gene diversity
  ``2n/(2n-1) (1 - p^2 - q^2)`` with ``n`` called animals, so small herds are not penalised;
- ``F_IS = 1 - Ho/He``; allelic diversity as the share of polymorphic SNPs (``P_poly``) and
  the mean number of alleles per SNP (``Na``, between 1 and 2 on a biallelic chip).

Differentiation: Hudson's Fst as the ratio of averages over SNPs (Hudson et al. 1992; Bhatia
et al. 2013, eq. 10), the estimator PLINK 2 ``--fst`` uses by default. Relationships between
groups: means of the VanRaden (2008) GRM's blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from reprotech_core.genomics.counts import SnpCounts, count_genotypes

from .cohort import Cohort, EmptyCohort
from .provenance import Provenance, record


@dataclass(frozen=True)
class Analysis:
    """A result table with the provenance that regenerates it."""

    table: pd.DataFrame
    provenance: Provenance


def _counts(cohort: Cohort, rows: np.ndarray, snp_mask: np.ndarray) -> SnpCounts:
    snp, _ = count_genotypes(np.ascontiguousarray(cohort.packed[rows]), cohort.n_snps)
    return SnpCounts(*(c[snp_mask] for c in (snp.hom_a, snp.het, snp.hom_b, snp.missing)))


def diversity_stats(counts: SnpCounts) -> dict[str, float]:
    """Ho, He (Nei 1978 unbiased), F_IS, P_poly and Na from one group's per-SNP counts.

    SNPs without a call in the group are left out; a group whose SNPs are all uncalled
    raises :class:`EmptyCohort`.
    """
    n = counts.observed.astype(np.float64)
    called = n > 0
    if not called.any():
        raise EmptyCohort("no SNP has a call in this group")
    n, het = n[called], counts.het[called].astype(np.float64)
    p = (2.0 * counts.hom_b[called] + het) / (2.0 * n)
    gene_div = 1.0 - p**2 - (1.0 - p) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        he_snp = np.where(n > 1, 2.0 * n / (2.0 * n - 1.0) * gene_div, gene_div)
    ho, he = float(np.mean(het / n)), float(np.mean(he_snp))
    poly = (p > 0.0) & (p < 1.0)
    return {"n_snps": int(called.sum()), "ho": ho, "he": he,
            "f_is": 1.0 - ho / he if he > 0 else float("nan"),
            "p_poly": float(poly.mean()), "na": float(1.0 + poly.mean())}


def diversity(cohort: Cohort, *, by: str = "herd", autosomes_only: bool = True) -> Analysis:
    """Diversity per value of ``by`` (``herd``, ``customer``, ``birth_year`` ...) and overall.

    Returns one row per group (``group`` = ``"all"`` for the whole cohort) with ``n_animals``,
    ``n_snps``, ``ho``, ``he``, ``f_is``, ``p_poly``, ``na``.
    """
    cohort.require_genotypes("diversity")
    mask = cohort.autosomal_mask() if autosomes_only else np.ones(cohort.n_snps, bool)
    if not mask.any():
        raise ValueError("the panel has no autosomal SNP; pass autosomes_only=False")
    groups = {"all": np.arange(cohort.n_animals), **cohort.groups(by)}
    rows = [{by: g, "n_animals": len(idx), **diversity_stats(_counts(cohort, idx, mask))}
            for g, idx in groups.items() if len(idx)]
    prov = record("diversity", snapshot=cohort.snapshot, inputs={"cohort": cohort},
                  parameters={"by": by, "autosomes_only": autosomes_only})
    return Analysis(pd.DataFrame(rows), prov)


def hudson_fst(p1: np.ndarray, n1: np.ndarray, p2: np.ndarray, n2: np.ndarray) -> float:
    """Hudson's Fst, ratio of averages over SNPs (Bhatia et al. 2013, eq. 10).

    ``p`` are allele frequencies and ``n`` numbers of sampled haplotypes (2 x called animals)
    per SNP; SNPs with fewer than 2 haplotypes in either group are left out.
    """
    ok = (n1 > 1) & (n2 > 1)
    if not ok.any():
        raise EmptyCohort("no SNP is called in at least one animal of both groups")
    p1, p2, n1, n2 = p1[ok], p2[ok], n1[ok].astype(float), n2[ok].astype(float)
    num = (p1 - p2) ** 2 - p1 * (1 - p1) / (n1 - 1) - p2 * (1 - p2) / (n2 - 1)
    den = p1 * (1 - p2) + p2 * (1 - p1)
    if den.sum() <= 0:
        return float("nan")  # both groups fixed for the same allele everywhere
    return float(num.sum() / den.sum())


def fst(cohort: Cohort, *, by: str = "herd", autosomes_only: bool = True,
        min_animals: int = 2) -> Analysis:
    """Pairwise Hudson Fst between the groups of ``by``; groups under ``min_animals`` skipped.

    Returns rows ``group_a, group_b, n_a, n_b, fst`` (one per pair).
    """
    cohort.require_genotypes("Fst", minimum=2)
    mask = cohort.autosomal_mask() if autosomes_only else np.ones(cohort.n_snps, bool)
    freqs = {}
    for g, idx in cohort.groups(by).items():
        if len(idx) < min_animals:
            continue
        c = _counts(cohort, idx, mask)
        n_hap = 2 * c.observed
        with np.errstate(invalid="ignore", divide="ignore"):
            freqs[g] = ((2 * c.hom_b + c.het) / n_hap, n_hap, len(idx))
    if len(freqs) < 2:
        raise EmptyCohort(f"Fst needs two groups of {by!r} with at least {min_animals} "
                          f"genotyped animals; found {len(freqs)}")
    rows = [{"group_a": a, "group_b": b, "n_a": freqs[a][2], "n_b": freqs[b][2],
             "fst": hudson_fst(freqs[a][0], freqs[a][1], freqs[b][0], freqs[b][1])}
            for a, b in combinations(sorted(freqs), 2)]
    prov = record("fst_hudson", snapshot=cohort.snapshot, inputs={"cohort": cohort},
                  parameters={"by": by, "autosomes_only": autosomes_only,
                              "min_animals": min_animals})
    return Analysis(pd.DataFrame(rows), prov)


def relationship_summary(g: np.ndarray, labels: np.ndarray | pd.Series, *,
                         snapshot: str = "in-memory") -> Analysis:
    """Mean genomic relationship within and between groups from a GRM (rows = ``labels``).

    Within a group the mean is over distinct pairs (the diagonal, ``1 + F``, is reported
    apart as ``mean_self``); between groups over all cross pairs. Rows ``group_a, group_b,
    n_pairs, mean, sd, mean_self`` (``mean_self`` only on within rows).
    """
    g = np.asarray(g)
    lab = np.asarray(labels).astype(str)
    if g.ndim != 2 or g.shape != (lab.size, lab.size):
        raise ValueError(f"GRM {g.shape} does not match {lab.size} group labels")
    names = sorted(set(lab))
    idx = {k: np.flatnonzero(lab == k) for k in names}
    rows = []
    for i, a in enumerate(names):
        for b in names[i:]:
            block = g[np.ix_(idx[a], idx[b])].astype(np.float64)
            if a == b:
                vals = block[np.triu_indices(len(idx[a]), 1)]
                self_mean = float(np.mean(np.diag(block)))
            else:
                vals, self_mean = block.ravel(), float("nan")
            rows.append({"group_a": a, "group_b": b, "n_pairs": int(vals.size),
                         "mean": float(vals.mean()) if vals.size else float("nan"),
                         "sd": float(vals.std(ddof=1)) if vals.size > 1 else float("nan"),
                         "mean_self": self_mean})
    prov = record("relationship_summary", snapshot=snapshot,
                  inputs={"grm": np.asarray(g, dtype=np.float32), "labels": lab},
                  parameters={})
    return Analysis(pd.DataFrame(rows), prov)
