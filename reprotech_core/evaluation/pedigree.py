"""Pedigree relationships: the numerator relationship matrix A and inbreeding coefficients.

A is built with the tabular method (Henderson 1976; Emik & Terrill 1949) over a pedigree
ordered so that parents precede offspring: ``a_ij = (a_i,s(j) + a_i,d(j)) / 2`` and
``a_jj = 1 + a_s(j),d(j) / 2``. It is dense (``n^2`` memory), fine for the tens of thousands
of animals a GRM blend needs. Inbreeding coefficients for whole pedigrees use Meuwissen &
Luo (1992), which only visits each animal's ancestors and so scales to millions of records.

Unknown parents are ``None``/NaN/empty/"0". A parent that has no row of its own is an error
unless ``add_missing_parents=True``, which adds it as a founder (logged): silently inventing
founders hides typos in sire IDs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

UNKNOWN_PARENT_CODES = frozenset({"", "0", "NA", "nan", "None"})


@dataclass(frozen=True)
class OrderedPedigree:
    """Animals ordered parents-first with integer parent indices (-1 = unknown)."""

    ids: list[str]
    sire: np.ndarray
    dam: np.ndarray

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.ids)}


def _parent(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return None if text in UNKNOWN_PARENT_CODES else text


def order_pedigree(
    pedigree: pd.DataFrame,
    *,
    animal: str = "animal",
    sire: str = "sire",
    dam: str = "dam",
    add_missing_parents: bool = False,
) -> OrderedPedigree:
    """Validate a pedigree and sort it so every parent precedes its offspring.

    Raises
    ------
    ValueError
        Missing columns, empty or duplicated animal IDs, an animal that is its own parent,
        a parent without a row (unless ``add_missing_parents``), the same animal recorded as
        sire of one animal and dam of another, or a loop (an animal its own ancestor).
    """
    for col in (animal, sire, dam):
        if col not in pedigree.columns:
            raise ValueError(f"pedigree has no column {col!r} (columns: {list(pedigree.columns)})")
    ids = [str(a).strip() for a in pedigree[animal]]
    if any(a in UNKNOWN_PARENT_CODES for a in ids):
        raise ValueError("pedigree has an empty or unknown-coded animal ID")
    seen: set[str] = set()
    dup = [a for a in ids if a in seen or seen.add(a)]  # type: ignore[func-returns-value]
    if dup:
        raise ValueError(f"animal IDs recorded more than once in the pedigree: {dup[:5]}")
    sires = [_parent(v) for v in pedigree[sire]]
    dams = [_parent(v) for v in pedigree[dam]]
    known = set(ids)
    missing = sorted({p for p in sires + dams if p is not None and p not in known})
    if missing:
        if not add_missing_parents:
            raise ValueError(
                f"{len(missing)} parents have no pedigree row, e.g. {missing[:5]}; "
                "fix the IDs or pass add_missing_parents=True to treat them as founders"
            )
        log.warning("pedigree.parents_added_as_founders", extra={"n": len(missing)})
        ids = missing + ids
        sires = [None] * len(missing) + sires
        dams = [None] * len(missing) + dams
    for a, s, d in zip(ids, sires, dams):
        if a in (s, d):
            raise ValueError(f"animal {a!r} is recorded as its own parent")
    both = set(s for s in sires if s) & set(d for d in dams if d)
    if both:
        raise ValueError(f"animals recorded both as sire and as dam: {sorted(both)[:5]}")
    order = _parents_first(ids, sires, dams)
    pos = {ids[i]: k for k, i in enumerate(order)}
    return OrderedPedigree(
        ids=[ids[i] for i in order],
        sire=np.array([pos[sires[i]] if sires[i] else -1 for i in order], dtype=np.int64),
        dam=np.array([pos[dams[i]] if dams[i] else -1 for i in order], dtype=np.int64),
    )


def _parents_first(ids: list[str], sires: list, dams: list) -> list[int]:
    """Topological order (Kahn); a leftover animal lies on or below a loop."""
    index = {a: i for i, a in enumerate(ids)}
    children: list[list[int]] = [[] for _ in ids]
    n_parents = np.zeros(len(ids), dtype=np.int64)
    for i, (s, d) in enumerate(zip(sires, dams)):
        for p in (s, d):
            if p is not None:
                children[index[p]].append(i)
                n_parents[i] += 1
    ready = [i for i in range(len(ids)) if n_parents[i] == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for c in children[i]:
            n_parents[c] -= 1
            if n_parents[c] == 0:
                ready.append(c)
    if len(order) < len(ids):
        stuck = sorted(ids[i] for i in np.flatnonzero(n_parents > 0))
        raise ValueError(f"pedigree loop: these animals are (descended from) their own ancestors: "
                         f"{stuck[:5]}")
    return order


def numerator_relationship_matrix(ped: OrderedPedigree) -> np.ndarray:
    """Wright's numerator relationship matrix A by the tabular method, in ``ped.ids`` order."""
    n = len(ped.ids)
    a = np.zeros((n, n), dtype=np.float64)
    for j in range(n):
        s, d = ped.sire[j], ped.dam[j]
        row = np.zeros(j)
        if s >= 0:
            row += 0.5 * a[s, :j]
        if d >= 0:
            row += 0.5 * a[d, :j]
        a[j, :j] = row
        a[:j, j] = row
        a[j, j] = 1.0 + (0.5 * a[s, d] if s >= 0 and d >= 0 else 0.0)
    return a


def relationship_submatrix(ped: OrderedPedigree, a: np.ndarray, animals: list[str]) -> np.ndarray:
    """Rows/columns of A for ``animals`` (e.g. the genotyped ones, in GRM order)."""
    index = ped.index()
    unknown = [x for x in animals if x not in index]
    if unknown:
        raise ValueError(f"{len(unknown)} animals are not in the pedigree, e.g. {unknown[:5]}")
    idx = np.array([index[x] for x in animals], dtype=np.int64)
    return a[np.ix_(idx, idx)]


def inbreeding_meuwissen_luo(ped: OrderedPedigree) -> np.ndarray:
    """Pedigree inbreeding coefficients by Meuwissen & Luo (1992).

    For each animal the method walks its ancestors from youngest to oldest, accumulating the
    ``L`` row of ``A = L D L'`` (``D_i = 1/2 - (F_s + F_d)/4``, or 3/4 / 1 for one / no known
    parent), and ``F_i = sum_k L_ik^2 D_k - 1``. Full-sib families share their parents'
    result. Cost grows with the number of ancestors, not ``n^2``.
    """
    n = len(ped.ids)
    sire, dam = ped.sire, ped.dam
    f = np.zeros(n + 1)  # f[-1] == f[n] = -1 sentinel for unknown parents
    f[n] = -1.0
    dii = np.empty(n)
    done: dict[tuple[int, int], float] = {}
    for i in range(n):
        s, d = int(sire[i]), int(dam[i])
        dii[i] = 0.5 - 0.25 * (f[s] + f[d])  # unknown parent contributes F = -1
        if s < 0 or d < 0:
            f[i] = 0.0
            continue
        key = (s, d)
        if key in done:  # full sib of an animal already computed
            f[i] = done[key]
            continue
        lrow: dict[int, float] = {i: 1.0}
        total = 0.0
        pending = {i}
        while pending:
            j = max(pending)  # youngest first: its parents are processed after it
            pending.remove(j)
            lj = lrow[j]
            total += lj * lj * dii[j]
            for p in (int(sire[j]), int(dam[j])):
                if p >= 0:
                    lrow[p] = lrow.get(p, 0.0) + 0.5 * lj
                    pending.add(p)
        f[i] = total - 1.0
        done[key] = f[i]
    return f[:n]
