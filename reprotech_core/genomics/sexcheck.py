"""Sex check from X-chromosome heterozygosity.

Bulls carry one X, so outside the pseudo-autosomal region they are (nearly) never
heterozygous. As in PLINK's ``--check-sex`` (Purcell et al. 2007), the X inbreeding estimate
``F = 1 - O(het) / E(het)`` calls a male when F > 0.8. PLINK calls a female below 0.2; with the
~1,500 X SNPs of a 50k bovine chip and inbred dairy cows, female F spreads wider, so we call a
female below 0.5. A decided sex that disagrees with the record is a problem for the lab; an
undecided F (inferred 0) is reported but not failed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reprotech_core.genomics.counts import count_samples_on
from reprotech_core.genomics.snpmap import COW_X, GenotypeSet


def check_sex(
    geno: GenotypeSet,
    *,
    freq_b: np.ndarray,
    female_max_f: float = 0.5,
    male_min_f: float = 0.8,
    min_x_snps: int = 20,
) -> pd.DataFrame | None:
    """Infer sex from X heterozygosity; None when the panel has fewer than ``min_x_snps``.

    Returns columns ``sample``, ``x_called``, ``x_het``, ``x_f``, ``inferred_sex``
    (1 male, 2 female, 0 undecided), ``recorded_sex`` and ``sex_problem``.
    """
    x = np.flatnonzero(geno.snps.chrom == COW_X)
    if x.size < min_x_snps:
        return None
    xc = count_samples_on(geno.packed, x)
    return sex_table(geno.samples, geno.sex, x_missing=xc.missing, x_het=xc.het,
                     x_freq_b=np.asarray(freq_b, dtype=np.float64)[x],
                     female_max_f=female_max_f, male_min_f=male_min_f)


def sex_table(
    samples: np.ndarray,
    recorded_sex: np.ndarray | None,
    *,
    x_missing: np.ndarray,
    x_het: np.ndarray,
    x_freq_b: np.ndarray,
    female_max_f: float = 0.5,
    male_min_f: float = 0.8,
) -> pd.DataFrame:
    """The sex check from per-sample X counts (however they were counted: packed rows or a
    SNP-major ``.bed``) and the X SNPs' B-allele frequencies."""
    called = len(x_freq_b) - x_missing
    p = np.nan_to_num(x_freq_b, nan=0.0)
    mean_2pq = float(np.mean(2 * p * (1 - p)))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 1 - x_het / (called * mean_2pq)
    inferred = np.where(f > male_min_f, 1, np.where(f < female_max_f, 2, 0)).astype(np.int8)
    recorded = recorded_sex if recorded_sex is not None else np.zeros(len(samples), np.int8)
    problem = (recorded != 0) & (inferred != 0) & (inferred != recorded)
    return pd.DataFrame(
        {
            "sample": samples,
            "x_called": called,
            "x_het": x_het,
            "x_f": f,
            "inferred_sex": inferred,
            "recorded_sex": recorded,
            "sex_problem": problem,
        }
    )
