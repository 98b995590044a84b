"""Expected and realised accuracy of genomic prediction.

Daetwyler et al. (2008): for a training set of ``N`` animals with heritability ``h2`` and
``Me`` independent chromosome segments, the expected correlation between GEBV and true
breeding value of an unphenotyped animal is ``r = sqrt(N h2 / (N h2 + Me))``. ``Me`` for a
population of effective size ``Ne`` and genome length ``L`` Morgans is about
``2 Ne L / ln(4 Ne L)`` (Goddard 2009); for unlinked loci it is the number of loci.
Customers compare our reliabilities with this expectation, so both are reported.
"""

from __future__ import annotations

import numpy as np


def daetwyler_accuracy(n_records: int, h2: float, n_segments: float) -> float:
    """Expected GEBV accuracy, Daetwyler et al. (2008), eq. for ``Me`` independent segments."""
    if n_records < 1:
        raise ValueError(f"n_records must be >= 1, got {n_records}")
    if not 0.0 < h2 < 1.0:
        raise ValueError(f"h2 must be in (0, 1), got {h2}")
    if n_segments <= 0:
        raise ValueError(f"n_segments must be > 0, got {n_segments}")
    return float(np.sqrt(n_records * h2 / (n_records * h2 + n_segments)))


def effective_segments(ne: float, genome_morgans: float) -> float:
    """``Me = 2 Ne L / ln(4 Ne L)`` (Goddard 2009), e.g. Holstein Ne ~100, L ~30 M."""
    if ne <= 0 or genome_morgans <= 0 or 4 * ne * genome_morgans <= np.e:
        raise ValueError("need Ne > 0 and L > 0 with 4 Ne L > e")
    x = 2.0 * ne * genome_morgans
    return float(x / np.log(2.0 * x))


def realised_accuracy(gebv: np.ndarray, tbv: np.ndarray) -> float:
    """Correlation of GEBV with true breeding values (simulation) for validation animals."""
    gebv, tbv = np.asarray(gebv, dtype=np.float64), np.asarray(tbv, dtype=np.float64)
    if gebv.shape != tbv.shape or gebv.size < 3:
        raise ValueError("need at least 3 paired GEBVs and TBVs of the same shape")
    if np.std(gebv) == 0 or np.std(tbv) == 0:
        raise ValueError("GEBVs or TBVs have no variance: accuracy undefined")
    return float(np.corrcoef(gebv, tbv)[0, 1])
