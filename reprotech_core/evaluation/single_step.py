"""Single-step GBLUP (ssGBLUP): one evaluation of genotyped and non-genotyped animals.

Most cows of a commercial herd are never genotyped; single-step lets their records and their
genotyped relatives' records inform each other (Legarra et al. 2009; Aguilar et al. 2010;
Christensen & Lund 2010). The relationship matrix is H, whose inverse is sparse apart from
one dense block for the genotyped animals (index 2)::

    H^-1 = A^-1 + [0  0 ; 0  tau G_w^-1 - omega A22^-1]

- ``A^-1`` by Henderson's (1976) rules with inbreeding (Quaas 1976: ``A = M^-1 D M^-T``,
  ``M = I - P/2``, ``D_i = 1/2 - (F_s + F_d)/4``, an unknown parent counting ``F = -1``),
  with F from Meuwissen & Luo (1992) in :mod:`.pedigree`.
- ``A22`` (pedigree relationships among the genotyped animals) is computed without the dense
  A of the whole pedigree: columns ``A e_j = M^-1 D M^-T e_j`` by two sparse triangular
  solves, a block of genotyped animals at a time, so memory is ``n_animals x block``.
- G is aligned to A22 (Christensen et al. 2012; Vitezica et al. 2011): ``G* = beta G + alpha``
  with alpha, beta chosen so that the mean diagonal and the mean of all elements of G*
  equal those of A22. VanRaden's G is centred on the genotyped animals' allele frequencies
  (its mean is ~0) while A22 refers to the pedigree base; without the alignment genotyped
  animals' GEBVs sit on another scale than the others' (a bias in the genetic trend).
- ``G_w = (1 - w) G* + w A22`` with ``w = 0.05`` by default (Aguilar et al. 2010): the blend
  makes G_w invertible when G is singular (centred G has rank n - 1 at most; two animals
  with identical genotypes make it rank-deficient further) and shrinks G's sampling noise.
- ``tau = omega = 1`` by default (the textbook H); other values are the usual scaling
  (Misztal et al. 2010) to reduce inflation of young genotyped animals' GEBVs.

The mixed model equations ``[X'X X'Z; Z'X Z'Z + lambda H^-1] [b; u] = [X'y; Z'y]``
(``lambda = s_e^2 / s_u^2``) are solved densely (Cholesky; the inverse gives exact PEVs)
up to ``exact_max_animals`` animals, and above it by Jacobi-preconditioned conjugate gradient
whose product with H^-1 is a sparse product plus one dense n2 x n2 product (memory grows with
the genotyped animals squared, not with the whole pedigree squared). Reliabilities there use
the diagonal approximation ``PEV_i ~ s_e^2 / C_ii`` (C the MME left-hand side): it ignores the
information animals share, so it is an upper bound of the exact reliability; the result names
which one was used.

Unknown parents: an animal with an unknown parent descends from the base population (the
founders' generation, mean 0, no unknown-parent groups or metafounders). This is right when
the missing parents are a random sample of one base; with phantom parents from other
generations or breeds it biases their descendants' GEBVs toward the base. The result names
the treatment (``unknown_parents``) and counts the animals it applies to.

Reliability is ``1 - PEV_i / (s_u^2 (1 + F_i))`` with the pedigree inbreeding F_i for every
animal (as BLUPF90 reports it), so genotyped and non-genotyped values are on one scale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.linalg import lapack
from scipy.sparse import linalg as splinalg

from .design import class_design
from .gblup import DEFAULT_FACTORS, given_variances
from .pedigree import OrderedPedigree, inbreeding_meuwissen_luo, order_pedigree
from .reml import VarianceComponents

log = logging.getLogger(__name__)

UNKNOWN_PARENTS = "base population (unknown parents are founders of one base; no groups)"
DEFAULT_BLEND = 0.05
DEFAULT_EXACT_MAX = 5000


class SingleStepError(ValueError):
    """A single-step input that cannot be evaluated; ``rule`` names the check that failed."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule


def _order(pedigree: pd.DataFrame, add_missing_parents: bool) -> OrderedPedigree:
    try:
        return order_pedigree(pedigree, add_missing_parents=add_missing_parents)
    except ValueError as exc:
        rule = "pedigree_loop" if str(exc).startswith("pedigree loop") else "pedigree_invalid"
        raise SingleStepError(rule, str(exc)) from exc


def mendelian_variances(ped: OrderedPedigree, f: np.ndarray) -> np.ndarray:
    """``D_i = 1/2 - (F_s + F_d)/4`` with ``F = -1`` for an unknown parent (Quaas 1976)."""
    fx = np.r_[f, -1.0]  # index -1 -> unknown parent
    return 0.5 - 0.25 * (fx[ped.sire] + fx[ped.dam])


def a_inverse(ped: OrderedPedigree, f: np.ndarray | None = None) -> sparse.csc_matrix:
    """Sparse A^-1 by Henderson's rules with inbreeding (``M' D^-1 M``, Quaas 1976)."""
    if f is None:
        f = inbreeding_meuwissen_luo(ped)
    m = _m_matrix(ped)
    d_inv = sparse.diags(1.0 / mendelian_variances(ped, f))
    return (m.T @ d_inv @ m).tocsc()


def _m_matrix(ped: OrderedPedigree) -> sparse.csc_matrix:
    """``M = I - P/2``: lower triangular in parents-first order."""
    n = len(ped.ids)
    rows, cols = [np.arange(n)], [np.arange(n)]
    vals = [np.ones(n)]
    for parent in (ped.sire, ped.dam):
        known = np.flatnonzero(parent >= 0)
        rows.append(known)
        cols.append(parent[known])
        vals.append(np.full(known.size, -0.5))
    return sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                     np.concatenate(cols))), shape=(n, n))


def a22(ped: OrderedPedigree, genotyped: np.ndarray, f: np.ndarray | None = None,
        *, block: int = 1000) -> np.ndarray:
    """A among ``genotyped`` (indices into ``ped``) without forming the whole A.

    ``A = M^-1 D M^-T``: each block of columns costs two sparse triangular solves over the
    pedigree (work ~ pedigree size x block), memory ``n_animals x block``.
    """
    if f is None:
        f = inbreeding_meuwissen_luo(ped)
    n, k = len(ped.ids), genotyped.size
    m = _m_matrix(ped)
    lu = splinalg.splu(m, permc_spec="NATURAL", diag_pivot_thresh=0.0)
    d = mendelian_variances(ped, f)
    out = np.empty((k, k))
    for j0 in range(0, k, block):
        cols = genotyped[j0:j0 + block]
        e = np.zeros((n, cols.size))
        e[cols, np.arange(cols.size)] = 1.0
        x = lu.solve(e, trans="T") * d[:, None]
        out[:, j0:j0 + cols.size] = lu.solve(x)[genotyped]
    return (out + out.T) / 2.0


@dataclass(frozen=True)
class Alignment:
    """``G* = beta G + alpha`` (Christensen et al. 2012)."""

    alpha: float
    beta: float


def align_g(g: np.ndarray, a22_: np.ndarray) -> tuple[np.ndarray, Alignment]:
    """Match mean diagonal and mean of all elements of G to A22 (Christensen et al. 2012).

    Solves ``beta mean(diag G) + alpha = mean(diag A22)`` and ``beta mean(G) + alpha =
    mean(A22)``. With a single genotyped animal the two equations coincide: only the
    diagonal is matched (beta = 1).
    """
    dg, ag = float(np.mean(np.diag(g))), float(np.mean(g))
    da, aa = float(np.mean(np.diag(a22_))), float(np.mean(a22_))
    if abs(dg - ag) < 1e-12:
        beta = 1.0
    else:
        beta = (da - aa) / (dg - ag)
    alpha = da - beta * dg
    return beta * g + alpha, Alignment(alpha=alpha, beta=beta)


def _inverse_pd(matrix: np.ndarray, rule: str, what: str) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix by Cholesky (LAPACK potrf/potri)."""
    c, info = lapack.dpotrf(np.asarray(matrix, dtype=np.float64), lower=1)
    if info != 0:
        raise SingleStepError(rule, f"{what} is not positive definite (leading minor {info})")
    inv, info = lapack.dpotri(c, lower=1)
    if info != 0:
        raise SingleStepError(rule, f"{what} could not be inverted (potri info {info})")
    return np.tril(inv) + np.tril(inv, -1).T


@dataclass(frozen=True)
class HInverse:
    """``H^-1 = A^-1 + P' block P``: sparse part, dense block, genotyped indices (in ``ids``)."""

    ids: list[str]
    a_inv: sparse.csc_matrix
    block: np.ndarray  # tau G_w^-1 - omega A22^-1, genotyped x genotyped
    genotyped: np.ndarray  # indices into ids, in the order of G's rows
    inbreeding: np.ndarray
    alignment: Alignment | None
    n_unknown_parent: int
    blend: float

    def dense(self) -> np.ndarray:
        """The full H^-1 (tests and small cases only: n^2 memory)."""
        h = self.a_inv.toarray()
        h[np.ix_(self.genotyped, self.genotyped)] += self.block
        return h

    def matvec(self, v: np.ndarray) -> np.ndarray:
        out = self.a_inv @ v
        out[self.genotyped] += self.block @ v[self.genotyped]
        return out

    def diagonal(self) -> np.ndarray:
        d = self.a_inv.diagonal().copy()
        d[self.genotyped] += np.diag(self.block)
        return d


def h_inverse(
    pedigree: pd.DataFrame,
    g: np.ndarray | None,
    genotyped_ids: Sequence[str],
    *,
    blend: float = DEFAULT_BLEND,
    tau: float = 1.0,
    omega: float = 1.0,
    align: bool = True,
    add_missing_parents: bool = False,
) -> HInverse:
    """H^-1 of Legarra et al. (2009) / Aguilar et al. (2010); see the module docstring.

    Parameters
    ----------
    pedigree
        ``animal, sire, dam`` of every animal (genotyped or not); unknown parents empty/0.
    g
        Genomic relationship matrix of ``genotyped_ids`` (e.g. ``vanraden_grm(...).matrix``);
        ``None`` with no genotyped animals (H^-1 = A^-1: pedigree BLUP).
    blend
        ``w`` in ``G_w = (1 - w) G* + w A22``, in [0, 1].

    Raises
    ------
    SingleStepError
        ``pedigree_loop``, ``pedigree_invalid``, ``genotyped_not_in_pedigree``,
        ``genotyped_duplicated``, ``g_shape``, ``blend_range``, ``g_not_positive_definite``
        (G_w singular: identical genotypes with ``blend=0``), ``a22_not_positive_definite``.
    """
    if not 0.0 <= blend <= 1.0:
        raise SingleStepError("blend_range", f"blend weight must be in [0, 1], got {blend}")
    if tau <= 0 or omega < 0:
        raise SingleStepError("blend_range", f"need tau > 0 and omega >= 0, got {tau}, {omega}")
    ped = _order(pedigree, add_missing_parents)
    f = inbreeding_meuwissen_luo(ped)
    ainv = a_inverse(ped, f)
    n_unknown = int(np.sum((ped.sire < 0) | (ped.dam < 0)))
    gids = [str(a) for a in genotyped_ids]
    if len(set(gids)) != len(gids):
        dup = sorted({a for a in gids if gids.count(a) > 1})
        raise SingleStepError("genotyped_duplicated",
                              f"animals genotyped more than once: {dup[:5]}")
    index = ped.index()
    missing = [a for a in gids if a not in index]
    if missing:
        raise SingleStepError("genotyped_not_in_pedigree",
                              f"{len(missing)} genotyped animals have no pedigree row, "
                              f"e.g. {missing[:5]}")
    geno = np.array([index[a] for a in gids], dtype=np.int64)
    if not gids:
        return HInverse(ped.ids, ainv, np.zeros((0, 0)), geno, f, None, n_unknown, blend)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != (len(gids), len(gids)):
        raise SingleStepError("g_shape", f"G is {g.shape} for {len(gids)} genotyped animals")
    a22_ = a22(ped, geno, f)
    alignment = None
    if align:
        g, alignment = align_g(g, a22_)
    g_w = (1.0 - blend) * g + blend * a22_
    block = tau * _inverse_pd(g_w, "g_not_positive_definite",
                              "the blended G (identical genotypes? use blend > 0)")
    block -= omega * _inverse_pd(a22_, "a22_not_positive_definite", "A22")
    log.info("single_step.h_inverse", extra={"n": len(ped.ids), "n_genotyped": len(gids),
                                             "blend": blend})
    return HInverse(ped.ids, ainv, block, geno, f, alignment, n_unknown, blend)


@dataclass(frozen=True)
class SingleStepResult:
    """One trait's single-step evaluation.

    ``animals``: animal, trait, gebv, pev, reliability, has_record, genotyped (True = the
    value uses the animal's own genotype; False = pedigree-based, informed by genotyped
    relatives through H).
    """

    trait: str
    animals: pd.DataFrame
    fixed: pd.Series
    variances: VarianceComponents
    blend: float
    alignment: Alignment | None
    reliability_method: str  # "exact" (inverse of the MME) or "diagonal approximation"
    solver: str  # "dense cholesky" or "pcg"
    iterations: int
    unknown_parents: str
    n_unknown_parent: int
    seconds: dict[str, float] = field(default_factory=dict)


def _records(ids: list[str], records: pd.DataFrame, trait: str,
             min_records: int) -> tuple[np.ndarray, pd.DataFrame]:
    if "animal" not in records.columns or trait not in records.columns:
        raise SingleStepError("records_columns", f"records need 'animal' and {trait!r} columns")
    rec = records[records[trait].notna()]
    # ``<factor>:<trait>`` is this trait's own class of ``<factor>`` (its contemporary group,
    # :meth:`.contemporary.ContemporaryGroups.apply`), fitted as ``<factor>`` as GBLUP does.
    own = {c: c.removesuffix(f":{trait}") for c in rec.columns if c.endswith(f":{trait}")}
    rec = rec.drop(columns=[c for c in own.values() if c in rec.columns]).rename(columns=own)
    animals = rec["animal"].astype(str)
    dup = animals[animals.duplicated()].unique().tolist()
    if dup:
        raise SingleStepError("records_duplicated", f"animals with more than one record: "
                                                    f"{dup[:5]}")
    index = {a: i for i, a in enumerate(ids)}
    unknown = sorted(set(animals) - set(index))
    if unknown:
        raise SingleStepError("records_not_in_pedigree",
                              f"{len(unknown)} recorded animals have no pedigree row, "
                              f"e.g. {unknown[:5]}")
    if len(rec) < min_records:
        raise SingleStepError("too_few_records",
                              f"trait {trait!r}: {len(rec)} records, need {min_records}")
    return np.array([index[a] for a in animals], dtype=np.int64), rec


def single_step_gblup(
    h_inv: HInverse,
    records: pd.DataFrame,
    trait: str,
    *,
    variances: VarianceComponents | None = None,
    h2: float | None = None,
    factors: Sequence[str] = DEFAULT_FACTORS,
    min_records: int = 20,
    method: str = "auto",
    exact_max_animals: int = DEFAULT_EXACT_MAX,
    rtol: float = 1e-10,
    max_iterations: int = 10000,
) -> SingleStepResult:
    """Solve the single-step MME for one trait; GEBVs and reliabilities for ALL animals.

    Exactly one of ``variances`` (e.g. the REML result of the GBLUP of the same trait) or
    ``h2`` (split of the residual phenotypic variance, as :func:`.gblup.given_variances`).
    ``method``: "dense", "pcg" or "auto" (dense up to ``exact_max_animals`` animals).

    Raises
    ------
    SingleStepError
        ``variances_given`` (neither or both), ``records_columns``, ``records_duplicated``,
        ``records_not_in_pedigree``, ``too_few_records``, ``mme_not_positive_definite``,
        ``pcg_not_converged``, ``method``.
    """
    if (variances is None) == (h2 is None):
        raise SingleStepError("variances_given", "give exactly one of variances or h2")
    if method not in ("auto", "dense", "pcg"):
        raise SingleStepError("method", f"method must be auto, dense or pcg, got {method!r}")
    t0 = time.perf_counter()
    ids = h_inv.ids
    n = len(ids)
    obs, rec = _records(ids, records, trait, min_records)
    y = rec[trait].to_numpy(dtype=np.float64)
    design = class_design(rec, factors=factors)
    x, names = design.dense(), design.names
    if h2 is not None:
        if not 0.0 < h2 < 1.0:
            raise SingleStepError("variances_given", f"h2 must be in (0, 1), got {h2}")
        variances = given_variances(y, design, h2)
    assert variances is not None
    lam = variances.sigma_e2 / variances.sigma_u2
    p = x.shape[1]
    zz = np.bincount(obs, minlength=n).astype(np.float64)
    rhs = np.r_[x.T @ y, np.bincount(obs, weights=y, minlength=n)]
    use_dense = method == "dense" or (method == "auto" and n <= exact_max_animals)
    if use_dense:
        sol, pev_scaled, iterations = _solve_dense(h_inv, x, obs, zz, lam, rhs)
        solver, rel_method = "dense cholesky", "exact"
    else:
        sol, pev_scaled, iterations = _solve_pcg(h_inv, x, obs, zz, lam, rhs, rtol,
                                                 max_iterations)
        solver, rel_method = "pcg", "diagonal approximation"
    b, u = sol[:p], sol[p:]
    pev = variances.sigma_e2 * pev_scaled
    base = variances.sigma_u2 * (1.0 + h_inv.inbreeding)
    rel = np.clip(1.0 - pev / base, 0.0, 1.0)
    has = np.zeros(n, dtype=bool)
    has[obs] = True
    genotyped = np.zeros(n, dtype=bool)
    genotyped[h_inv.genotyped] = True
    table = pd.DataFrame({"animal": ids, "trait": trait, "gebv": u, "pev": pev,
                          "reliability": rel, "has_record": has, "genotyped": genotyped})
    seconds = {"solve": time.perf_counter() - t0}
    log.info("single_step.trait_done", extra={"trait": trait, "solver": solver,
                                              "iterations": iterations, **seconds})
    return SingleStepResult(
        trait=trait, animals=table, fixed=pd.Series(b, index=names), variances=variances,
        blend=h_inv.blend,
        alignment=h_inv.alignment, reliability_method=rel_method, solver=solver,
        iterations=iterations, unknown_parents=UNKNOWN_PARENTS,
        n_unknown_parent=h_inv.n_unknown_parent, seconds=seconds)


def _solve_dense(h_inv: HInverse, x: np.ndarray, obs: np.ndarray, zz: np.ndarray,
                 lam: float, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Cholesky of the full MME; PEV/s_e^2 from the diagonal of its inverse (exact)."""
    n, p = zz.size, x.shape[1]
    c = np.zeros((p + n, p + n))
    c[:p, :p] = x.T @ x
    xz = np.zeros((p, n))
    np.add.at(xz.T, obs, x)
    c[:p, p:] = xz
    c[p:, :p] = xz.T
    c[p:, p:] = lam * h_inv.dense()
    c[p + np.arange(n), p + np.arange(n)] += zz
    inv = _inverse_pd(c, "mme_not_positive_definite", "the mixed model equations")
    return inv @ rhs, np.diag(inv)[p:], 0


def _solve_pcg(h_inv: HInverse, x: np.ndarray, obs: np.ndarray, zz: np.ndarray, lam: float,
               rhs: np.ndarray, rtol: float, max_iterations: int
               ) -> tuple[np.ndarray, np.ndarray, int]:
    """Jacobi-PCG on the MME; PEV/s_e^2 approximated by ``1 / C_ii`` (upper-bound reliability)."""
    n, p = zz.size, x.shape[1]
    xtx = x.T @ x

    def matvec(v: np.ndarray) -> np.ndarray:
        vb, vu = v[:p], v[p:]
        top = xtx @ vb + x.T @ vu[obs]
        bottom = np.bincount(obs, weights=x @ vb, minlength=n) + zz * vu
        return np.r_[top, bottom + lam * h_inv.matvec(vu)]

    diag = np.r_[np.diag(xtx), zz + lam * h_inv.diagonal()]
    if np.any(diag <= 0):
        raise SingleStepError("mme_not_positive_definite", "a zero or negative MME diagonal")
    op = splinalg.LinearOperator((p + n, p + n), matvec=matvec, dtype=np.float64)
    pre = splinalg.LinearOperator((p + n, p + n), matvec=lambda v: v / diag, dtype=np.float64)
    count = [0]

    def step(_: np.ndarray) -> None:
        count[0] += 1

    sol, info = splinalg.cg(op, rhs, rtol=rtol, atol=0.0, maxiter=max_iterations, M=pre,
                            callback=step)
    if info != 0:
        raise SingleStepError("pcg_not_converged",
                              f"PCG did not reach rtol {rtol} in {max_iterations} iterations")
    return sol, 1.0 / diag[p:], count[0]
