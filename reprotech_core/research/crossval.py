"""Is a new trait worth evaluating genomically? GBLUP with k-fold cross-validation.

The records of one fold at a time are hidden, GBLUP (:func:`reprotech_core.evaluation.gblup.
evaluate_traits`, REML unless ``h2`` is given) is fitted on the rest, and the hidden animals'
GEBVs are compared with their records: predictive ability ``r(y, GEBV)``, accuracy
``r / sqrt(h2)`` (Legarra et al. 2008) and the regression of ``y`` on GEBV (1 = unbiased,
< 1 = GEBVs over-dispersed). Folds are drawn at random with a seed (``by`` draws whole
groups, e.g. herds, which is the harder and more honest test for a new farm).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reprotech_core.evaluation.gblup import evaluate_traits

from .diversity import Analysis
from .gwas import TooFewRecords
from .provenance import record


def _folds(records: pd.DataFrame, k: int, by: str | None, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if by is None:
        return rng.permutation(np.arange(len(records)) % k)
    groups = records[by].astype(str).to_numpy()
    levels = rng.permutation(np.unique(groups))
    if len(levels) < k:
        raise ValueError(f"{len(levels)} groups of {by!r} cannot make {k} folds")
    fold_of = {g: i % k for i, g in enumerate(levels)}
    return np.array([fold_of[g] for g in groups])


def cross_validate(
    g: np.ndarray,
    ids: Sequence[str],
    records: pd.DataFrame,
    trait: str,
    *,
    folds: int = 5,
    by: str | None = None,
    h2: float | None = None,
    factors: Sequence[str] = (),
    min_records: int = 30,
    seed: int = 0,
    snapshot: str = "in-memory",
) -> Analysis:
    """k-fold cross-validated GBLUP for ``trait``: one row per fold plus ``fold = "all"``.

    ``g`` and ``ids`` as for :func:`evaluate_traits`; ``records`` has ``animal``, ``trait``
    and the ``factors`` columns. Columns: ``fold, n_train, n_test, h2, r, accuracy, slope``.
    """
    if folds < 2:
        raise ValueError(f"need at least 2 folds, got {folds}")
    if trait not in records.columns:
        raise ValueError(f"records have no column {trait!r}")
    rec = records[records[trait].notna()].reset_index(drop=True)
    rec = rec[rec["animal"].astype(str).isin(set(map(str, ids)))].reset_index(drop=True)
    if len(rec) < max(min_records, 2 * folds):
        raise TooFewRecords(f"trait {trait!r}: {len(rec)} genotyped animals with a record; "
                            f"cross-validation needs at least {max(min_records, 2 * folds)}")
    fold = _folds(rec, folds, by, seed)
    train_min = max(10, min_records - len(rec) // folds - 1)
    rows, pred = [], np.full(len(rec), np.nan)
    for f in range(folds):
        test = fold == f
        masked = rec.assign(**{trait: np.where(test, np.nan, rec[trait])})
        res = evaluate_traits(g, list(ids), masked[["animal", trait, *factors]],
                              traits=[trait], h2=None if h2 is None else {trait: h2},
                              factors=factors, min_records=train_min)[0]
        gebv = res.animals.set_index("animal")["gebv"]
        pred[test] = gebv.loc[rec.loc[test, "animal"].astype(str)].to_numpy()
        rows.append(_metrics(str(f), rec.loc[test, trait].to_numpy(), pred[test],
                             int((~test).sum()), res.variances.h2))
    rows.append(_metrics("all", rec[trait].to_numpy(), pred, len(rec),
                         float(np.mean([r["h2"] for r in rows]))))
    prov = record("gblup_cross_validation", snapshot=snapshot,
                  inputs={"grm": np.asarray(g, dtype=np.float32), "records": rec},
                  parameters={"trait": trait, "folds": folds, "by": by, "h2": h2,
                              "factors": list(factors), "seed": seed})
    return Analysis(pd.DataFrame(rows), prov)


def _metrics(name: str, y: np.ndarray, gebv: np.ndarray, n_train: int, h2: float) -> dict:
    r = float(np.corrcoef(y, gebv)[0, 1]) if np.std(gebv) > 0 and len(y) > 2 else float("nan")
    slope = float(np.polyfit(gebv, y, 1)[0]) if np.std(gebv) > 0 else float("nan")
    return {"fold": name, "n_train": n_train, "n_test": len(y), "h2": h2, "r": r,
            "accuracy": r / np.sqrt(h2) if h2 > 0 else float("nan"), "slope": slope}
