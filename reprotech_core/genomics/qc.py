"""Genotype quality control on packed calls: per-SNP and per-sample statistics and decisions.

Statistics follow PLINK 2 (Chang et al. 2015, GigaScience 4:7) so they can be cross-checked
with ``--freq``, ``--missing`` and ``--hardy``; default thresholds are those of the dairy
evaluation pipelines (preGSf90 of BLUPF90, the US evaluation centre): sample call rate >= 0.90,
SNP call rate >= 0.90, MAF >= 0.01. Statistics are computed once on all calls (no iterative
removal), so every reported number can be reproduced from the input alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reprotech_core.genomics.counts import SnpCounts, count_genotypes, count_samples_on
from reprotech_core.genomics.hwe import hwe_exact_p
from reprotech_core.genomics.pairs import find_duplicates, parent_conflicts
from reprotech_core.genomics.sexcheck import check_sex
from reprotech_core.genomics.snpmap import AUTOSOME_NAMES, GenotypeSet, SnpMap


@dataclass(frozen=True, kw_only=True)
class QcThresholds:
    """QC limits; a sample or SNP failing any of them is reported with the reason.

    ``hwe_p`` is None by default: selection and crossbreeding make HWE departures common in
    cattle, so the p-value is reported but only filters when a limit is given.
    """

    sample_call_rate: float = 0.90
    snp_call_rate: float = 0.90
    maf: float = 0.01
    hwe_p: float | None = None
    hwe_midp: bool = False
    het_z: float = 4.0
    duplicate_discordance: float = 0.01
    parent_conflict_rate: float = 0.01


@dataclass(frozen=True)
class QcResult:
    """Per-SNP and per-sample tables, duplicate pairs and parent checks.

    ``snps`` and ``samples`` carry a ``fail`` column: empty when the row passes, otherwise the
    failed rules joined by ``;`` (e.g. ``"call_rate<0.9;maf<0.01"``).
    """

    snps: pd.DataFrame
    samples: pd.DataFrame
    duplicates: pd.DataFrame
    parents: pd.DataFrame
    thresholds: QcThresholds = field(default_factory=QcThresholds)

    @property
    def failed_samples(self) -> pd.DataFrame:
        return self.samples[self.samples["fail"] != ""]

    @property
    def failed_snps(self) -> pd.DataFrame:
        return self.snps[self.snps["fail"] != ""]


def _reasons(rules: list[tuple[np.ndarray, str]], n: int) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    for failed, label in rules:
        out[failed] = np.where(out[failed] == "", label, out[failed] + ";" + label)
    return out.astype(str)


def snp_table(geno: GenotypeSet, counts: SnpCounts, *, thresholds: QcThresholds) -> pd.DataFrame:
    """Per-SNP frequency, call rate, MAF and HWE (autosomal-style test on every SNP)."""
    return snp_table_of(geno.snps, len(geno.samples), counts, thresholds=thresholds)


def snp_table_of(
    s: SnpMap, n: int, counts: SnpCounts, *, thresholds: QcThresholds
) -> pd.DataFrame:
    """:func:`snp_table` from the map and the sample count alone (no genotypes in memory:
    the PLINK fileset path counts straight from the ``.bed``)."""
    obs = counts.observed
    with np.errstate(invalid="ignore", divide="ignore"):
        freq_b = (2 * counts.hom_b + counts.het) / (2 * obs)
        call_rate = obs / n if n else np.full(len(obs), np.nan)
        het_obs = counts.het / obs
    maf = np.minimum(freq_b, 1 - freq_b)
    hwe = hwe_exact_p(counts.het, counts.hom_a, counts.hom_b, midp=thresholds.hwe_midp)
    t = thresholds
    rules = [
        (~(call_rate >= t.snp_call_rate), f"call_rate<{t.snp_call_rate:g}"),
        (~(maf >= t.maf), f"maf<{t.maf:g}"),
    ]
    if t.hwe_p is not None:
        rules.append((hwe < t.hwe_p, f"hwe_p<{t.hwe_p:g}"))
    return pd.DataFrame(
        {
            "snp": s.names,
            "chrom": s.chrom,
            "pos": s.pos,
            "allele_a": s.allele_a,
            "allele_b": s.allele_b,
            "hom_a": counts.hom_a,
            "het": counts.het,
            "hom_b": counts.hom_b,
            "missing": counts.missing,
            "call_rate": call_rate,
            "freq_b": freq_b,
            "maf": maf,
            "het_obs": het_obs,
            "het_exp": 2 * freq_b * (1 - freq_b),
            "hwe_p": hwe,
            "fail": _reasons(rules, len(s)),
        }
    )


def run_qc(
    geno: GenotypeSet,
    *,
    thresholds: QcThresholds = QcThresholds(),
    pedigree: pd.DataFrame | None = None,
    block_rows: int | None = None,
) -> QcResult:
    """Full QC of a genotype set.

    Parameters
    ----------
    geno : GenotypeSet
    thresholds : QcThresholds
    pedigree : DataFrame, optional
        Columns ``animal``, ``sire``, ``dam``; genotyped parent-progeny pairs are checked for
        opposing homozygotes.
    block_rows : int, optional
        Animals per counting block (memory bound); the kernel's default when None.
    """
    m = len(geno.snps)
    kw = {} if block_rows is None else {"block_rows": block_rows}
    counts, per_sample = count_genotypes(geno.packed, m, **kw)
    snps = snp_table(geno, counts, thresholds=thresholds)
    autosomal = np.isin(geno.snps.chrom, list(AUTOSOME_NAMES))
    other = np.flatnonzero(~autosomal)
    if other.size:  # the few non-autosomal SNPs: a small second pass on their bytes only
        extra = count_samples_on(geno.packed, other)
        auto_het = per_sample.het - extra.het
        auto_called = (m - other.size) - (per_sample.missing - extra.missing)
    else:
        auto_het, auto_called = per_sample.het, m - per_sample.missing
    samples = sample_table(geno.samples, m, per_sample.missing, auto_het, auto_called, thresholds)
    sex = check_sex(geno, freq_b=snps["freq_b"].to_numpy())
    dups = find_duplicates(
        geno.packed, geno.samples, snps["maf"].to_numpy(),
        max_discordance=thresholds.duplicate_discordance,
    )
    samples = with_sex_and_duplicates(samples, sex, dups)
    parents = (
        parent_conflicts(
            geno.packed, geno.samples, pedigree,
            autosomal=autosomal, max_conflict_rate=thresholds.parent_conflict_rate,
        )
        if pedigree is not None
        else pd.DataFrame()
    )
    return QcResult(snps, samples, dups, parents, thresholds)


def with_sex_and_duplicates(
    samples: pd.DataFrame, sex: pd.DataFrame | None, dups: pd.DataFrame
) -> pd.DataFrame:
    """The sample table with the sex-check columns and the sex and duplicate failures."""
    if sex is not None:
        for col in sex.columns.drop("sample"):  # same row order; IDs need not be unique
            samples[col] = sex[col].to_numpy()
        mismatch = sex["sex_problem"].to_numpy()
        samples["fail"] = merge_reason(samples["fail"].to_numpy(), mismatch, "sex_mismatch")
    dup_ids = set(dups["sample_1"]) | set(dups["sample_2"])
    samples["fail"] = merge_reason(
        samples["fail"].to_numpy(), samples["sample"].isin(dup_ids).to_numpy(), "duplicate"
    )
    return samples


def merge_reason(current: np.ndarray, failed: np.ndarray, label: str) -> np.ndarray:
    """Add ``label`` to the ``;``-joined fail reasons of the rows where ``failed``."""
    return np.where(failed, np.where(current == "", label, current + ";" + label), current)


def sample_table(
    sample_ids: np.ndarray, m: int, missing: np.ndarray, auto_het: np.ndarray,
    auto_called: np.ndarray, t: QcThresholds,
) -> pd.DataFrame:
    """Per-sample call rate over ``m`` SNPs and autosomal heterozygosity with its z-score."""
    call_rate = 1 - missing / m if m else np.full(len(missing), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        het_rate = auto_het / auto_called
    sd = np.nanstd(het_rate) if len(het_rate) > 1 else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        het_z = (het_rate - np.nanmean(het_rate)) / sd if sd and sd > 0 else np.zeros(len(het_rate))
    rules = [
        (~(call_rate >= t.sample_call_rate), f"call_rate<{t.sample_call_rate:g}"),
        (np.abs(het_z) > t.het_z, f"|het_z|>{t.het_z:g}"),
    ]
    return pd.DataFrame(
        {
            "sample": sample_ids,
            "missing": missing,
            "call_rate": call_rate,
            "het_rate": het_rate,
            "het_z": het_z,
            "fail": _reasons(rules, len(missing)),
        }
    )
