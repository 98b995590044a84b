"""Reliabilities on the large-herd path through a core of animals (Nyström / APY).

The exact reliabilities need the whole G (``N x N``) or the inverse of the SNP-BLUP
coefficient matrix (``M x M``); neither fits a herd of 100,000. The SNP-BLUP path instead
writes G as what a *core* of ``c`` animals explains plus an animal's own remainder
(the Nyström approximation; the APY assumption of Misztal et al. 2014, J. Dairy Sci.
97:3943, that animals outside the core are independent given the core)::

    G ~ F F' + D,   F = G_{.,core} U L^-1/2   (G_core = U L U', tiny eigenvalues dropped),
                    D = diag(G_ii - |f_i|^2) >= 0

which keeps every ``G_ii`` exact and is exact for the core's rows and columns. Under that
covariance the GBLUP reliabilities of :mod:`.gblup` (``Var(u_hat) = s_u^4 G_.o P G_o.``,
fixed effects absorbed through ``P``) only need ``c x c`` and ``p x c`` algebra: with
``B = F_o`` (recorded rows) and ``W = diag(1 / (s_u^2 d_o + s_e^2))``, ``V = W^-1 +
s_u^2 B B'`` and the projection ``P`` of :mod:`.gblup` follows from that of ``W^-1`` alone
(``P_W = W - W X (X'WX)^-1 X'W``, the fixed effects absorbed through their sparse design,
:mod:`.design`) by the low-rank update ``P = P_W - P_W B R B' P_W`` with ``R = (I / s_u^2 +
B' P_W B)^-1``. The cost is one product of the genotypes with the core's (``2 N c M``
flops, float32 BLAS) and ``O(N c^2)`` per trait; memory is ``F`` (``N x c`` float32), the
core's centred genotypes and ``X'WB`` (``p x c``, ``p`` the fixed-effect levels).

With ``c = N`` the result is the exact one (tested). Which animals form the core decides
how much is lost: an animal reaches the others' records through relatives, so the core
takes the genotyped parents with the most genotyped offspring first (a sire links his
daughters; a random core splits his family) and, among equals, the parents of unrecorded
animals (whose reliability comes from relatives alone), then random animals. A core too small
for every dam (2 % of a 100,000 herd) leaves a calf reaching its dam's record only through
the core; :func:`parent_links` gives the calf back what ``F F'`` misses of that relationship
(``G_ij - f_i . f_j``, one dot product per pair), used for animals without a record. How close
this comes to the exact reliabilities, by core size and herd size, is in
``benchmarks/evaluation/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from reprotech_core.genomics.packing import MISSING, unpack

from .design import ClassDesign
from .reml import VarianceComponents

ROW_BLOCK = 512  # animals per unpacked block: 0.18 GB (float32, int8, mask) at 60,000 SNPs


@dataclass(frozen=True)
class CoreFactor:
    """``G ~ F F' + diag(residual)``, built once and shared by every trait."""

    f: np.ndarray  # N x rank, float32
    residual: np.ndarray  # N, float64: G_ii - |f_i|^2, clipped at 0
    core: np.ndarray  # the core's rows, sorted

    @property
    def rank(self) -> int:
        return self.f.shape[1]


def choose_core(n_animals: int, size: int, *, parents: np.ndarray | None = None,
                unrecorded: np.ndarray | None = None, seed: int = 2026) -> np.ndarray:
    """Rows of the core: genotyped parents by number of genotyped offspring (most first;
    among equals, parents of an ``unrecorded`` animal first, then at random), then random
    animals, ``min(size, n_animals)`` in all, sorted.

    ``parents`` holds each animal's sire and dam rows (``N x 2``, -1 where the parent is
    unknown or not genotyped); ``unrecorded`` (``N`` booleans) marks animals without a
    record of any trait — the young candidates, whose reliability comes from relatives
    alone (at 10,000 animals, preferring their parents lifted the young's agreement with
    the exact reliabilities from r 0.71–0.96 to 0.997–0.999 with the same core size).
    """
    if size < 1:
        raise ValueError(f"core size must be positive, got {size}")
    rng = np.random.default_rng(seed)
    size = min(size, n_animals)
    order = rng.permutation(n_animals)
    if parents is not None:
        parents = np.asarray(parents)
        if parents.shape != (n_animals, 2):
            raise ValueError(f"parents must be {n_animals} x 2 rows, got {parents.shape}")
        known = parents[parents >= 0]
        if known.size and known.max() >= n_animals:
            raise ValueError(f"a parent row {int(known.max())} is outside the "
                             f"{n_animals} animals")
        offspring = np.bincount(known, minlength=n_animals)
        of_young = np.zeros(n_animals, dtype=bool)
        if unrecorded is not None:
            unrecorded = np.asarray(unrecorded, dtype=bool)
            if unrecorded.shape != (n_animals,):
                raise ValueError(f"unrecorded must mark {n_animals} animals, "
                                 f"got {unrecorded.shape}")
            young_parents = parents[unrecorded]
            of_young[young_parents[young_parents >= 0]] = True
        order = order[np.lexsort((~of_young[order], -offspring[order]))]
    return np.sort(order[:size])


def core_factor(packed: np.ndarray, n_snps: int, p: np.ndarray, scale: float,
                core: np.ndarray, g_diag: np.ndarray, *, block: int = ROW_BLOCK,
                tol: float = 1e-8) -> CoreFactor:
    """``F`` and the remainders from the packed genotypes (VanRaden method 1 with mean
    imputation, as :func:`.grm.vanraden_grm`; ``p`` the allele frequencies, NaN-free, and
    ``scale = 2 sum p q``); ``g_diag`` is G's diagonal. Eigenvalues of ``G_core`` below
    ``tol`` times the largest are dropped (duplicated or collinear core animals)."""
    core = np.asarray(core)
    n = packed.shape[0]
    if core.size == 0 or core.min() < 0 or core.max() >= n:
        raise ValueError(f"core rows must be within the {n} animals")
    two_p = (2.0 * p).astype(np.float32)
    z_core = _centred(packed[core], n_snps, two_p)
    cross = np.empty((n, core.size), np.float32)
    for i0 in range(0, n, block):
        cross[i0:i0 + block] = _centred(packed[i0:i0 + block], n_snps, two_p) @ z_core.T
    del z_core
    cross /= np.float32(scale)
    values, vectors = np.linalg.eigh(cross[core].astype(np.float64))
    keep = values > tol * max(values[-1], 0.0)
    if not keep.any():
        raise ValueError("the core's genomic relationships are all zero")
    project = (vectors[:, keep] / np.sqrt(values[keep])).astype(np.float32)
    rank = project.shape[1]
    for i0 in range(0, n, block):  # F overwrites the cross-products it is made of
        cross[i0:i0 + block, :rank] = cross[i0:i0 + block] @ project
    f = cross[:, :rank]
    explained = np.einsum("ij,ij->i", f, f, dtype=np.float64)
    return CoreFactor(f, np.maximum(np.asarray(g_diag, np.float64) - explained, 0.0), core)


@dataclass(frozen=True)
class ParentLinks:
    """What the core misses of animals' relationships with their parents outside it:
    ``G_ij - f_i . f_j`` for each listed offspring ``i`` and parent ``j``."""

    child: np.ndarray  # rows
    parent: np.ndarray  # rows, none in the core
    residual: np.ndarray


def parent_links(packed: np.ndarray, n_snps: int, p: np.ndarray, scale: float,
                 factor: CoreFactor, parents: np.ndarray, children: np.ndarray, *,
                 block: int = ROW_BLOCK) -> ParentLinks:
    """:class:`ParentLinks` of ``children`` (rows) with their genotyped parents outside the
    core (``parents``: sire and dam rows, ``N x 2``, -1 unknown). A core parent needs none:
    ``F F'`` is exact in the core's columns. One dot product of centred genotypes per
    pair."""
    parents = np.asarray(parents)
    in_core = np.zeros(parents.shape[0], dtype=bool)
    in_core[factor.core] = True
    children = np.asarray(children, dtype=np.int64)
    child, parent = np.repeat(children, 2), parents[children].ravel()
    keep = parent >= 0
    keep[keep] = ~in_core[parent[keep]]
    child, parent = child[keep], parent[keep]
    two_p = (2.0 * p).astype(np.float32)
    residual = np.empty(child.size)
    for i0 in range(0, child.size, block):
        c, q = child[i0:i0 + block], parent[i0:i0 + block]
        zc, zp = _centred(packed[c], n_snps, two_p), _centred(packed[q], n_snps, two_p)
        residual[i0:i0 + block] = (
            np.einsum("ij,ij->i", zc, zp, dtype=np.float64) / scale
            - np.einsum("ij,ij->i", factor.f[c], factor.f[q], dtype=np.float64))
    return ParentLinks(child, parent, residual)


def core_reliabilities(factor: CoreFactor, g_diag: np.ndarray, obs: np.ndarray,
                       design: ClassDesign, vc: VarianceComponents, *,
                       links: ParentLinks | None = None,
                       block: int = 16 * ROW_BLOCK) -> np.ndarray:
    """GBLUP reliabilities ``Var(u_hat_i) / (s_u^2 G_ii)`` of every animal under
    ``G ~ F F' + D`` for one trait recorded on rows ``obs`` (sorted) with fixed-effect
    design ``design`` (rows in ``obs`` order). Recorded rows are read in blocks, twice;
    nothing of ``n_recorded x p`` or ``N x N`` is formed, and the fixed effects are absorbed
    through their sparse design (:class:`.design.WeightedDesign`), so thousands of
    contemporary groups cost ``groups x c``.

    ``links`` (:func:`parent_links`) put back, for an animal without a record of this trait,
    its covariance with recorded parents outside the core, which ``F F'`` only partly holds:
    with ``c_i = F_o f_i + r_i`` (``r_i`` its links) ``Var(u_hat_i) / s_u^4 = f_i'B'PBf_i +
    2 r_i'P B f_i + r_i'P r_i``, which needs ``P B`` and ``P`` at those parents only. The
    records' own covariance stays that of the core."""
    s2u, s2e = vc.sigma_u2, vc.sigma_e2
    f, d = factor.f, factor.residual
    c = factor.rank
    w = 1.0 / (s2u * d[obs] + s2e)
    fit = design.weighted(w)
    bwb = np.zeros((c, c))  # B'W B
    k = np.zeros((design.n_columns, c))  # X'W B
    for j0 in range(0, obs.size, block):
        j1 = min(j0 + block, obs.size)
        b = f[obs[j0:j1]]
        wb = b * w[j0:j1, None].astype(np.float32)
        bwb += b.T @ wb
        k += design.rows(j0, j1).T @ wb.astype(np.float64)
    coef = fit.solve(k)  # S^-1 X'W B
    h = bwb - k.T @ coef  # B' P_W B
    r = _spd_inverse(np.eye(c) / s2u + (h + h.T) / 2)
    t32 = ((h @ r + r @ h) / (2 * s2u)).astype(np.float32)  # B'P B = H R / s_u^2
    quad = np.empty(f.shape[0])
    for i0 in range(0, f.shape[0], block):
        fi = f[i0:i0 + block]
        quad[i0:i0 + block] = np.einsum("ij,ij->i", fi @ t32, fi, dtype=np.float64)
    # Recorded animals also reach their own record through their remainder d_i:
    # + 2 d_i (P B)_i . b_i + d_i^2 P_ii, with P B = P_W B R / s_u^2 and
    # P_ii = (P_W)_ii - (P_W B)_i R (P_W B)_i'.
    r32 = r.astype(np.float32)
    coef32 = coef.astype(np.float32)
    # links sorted by the parent's record, so each block meets its parents' links in one run;
    # the rows of P_W B are kept only for parents that share a calf (both outside the core)
    child, pos, res = _links_of(links, obs, f.shape[0])
    first, second = _pairs(child)
    shared = np.unique(np.r_[pos[first], pos[second]])
    pwb_shared = np.empty((shared.size, c), np.float32)
    for j0 in range(0, obs.size, block):
        j1 = min(j0 + block, obs.size)
        rows, b = obs[j0:j1], f[obs[j0:j1]]
        wj = w[j0:j1]
        pwb = wj[:, None].astype(np.float32) * (b - design.rows(j0, j1) @ coef32)
        pwb_r = pwb @ r32
        pb_b = np.einsum("ij,ij->i", pwb_r, b, dtype=np.float64) / s2u
        p_ii = wj - wj**2 * fit.leverages(j0, j1) \
            - np.einsum("ij,ij->i", pwb_r, pwb, dtype=np.float64)
        quad[rows] += 2.0 * d[rows] * pb_b + d[rows] ** 2 * p_ii
        lo, hi = np.searchsorted(pos, [j0, j1])
        if hi > lo:  # + 2 r_ij f_i'(P B)_j + r_ij^2 P_jj of the calves of this block's parents
            at, calves = pos[lo:hi] - j0, child[lo:hi]
            fpb = np.einsum("ij,ij->i", f[calves], pwb_r[at], dtype=np.float64) / s2u
            np.add.at(quad, calves, 2.0 * res[lo:hi] * fpb + res[lo:hi] ** 2 * p_ii[at])
        lo, hi = np.searchsorted(shared, [j0, j1])
        pwb_shared[lo:hi] = pwb[shared[lo:hi] - j0]
    if first.size:  # + 2 r_ij r_ik P_jk for a calf of two recorded parents outside the core
        a, b = pos[first], pos[second]
        ka, kb = np.searchsorted(shared, a), np.searchsorted(shared, b)
        p_ab = -w[a] * w[b] * fit.cross_leverages(a, b) - np.einsum(
            "ij,ij->i", pwb_shared[ka] @ r32, pwb_shared[kb], dtype=np.float64)
        np.add.at(quad, child[first], 2.0 * res[first] * res[second] * p_ab)
    return np.clip(s2u * quad / np.asarray(g_diag, np.float64), 0.0, 1.0)


def _links_of(links: ParentLinks | None, obs: np.ndarray, n: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The links of this trait, sorted by the parent's position among the records
    (``obs``): unrecorded child, that position, the residual relationship."""
    if links is None:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    pos = np.full(n, -1)
    pos[obs] = np.arange(obs.size)
    use = np.flatnonzero((pos[links.child] < 0) & (pos[links.parent] >= 0))
    use = use[np.argsort(pos[links.parent[use]], kind="stable")]
    return links.child[use], pos[links.parent[use]], links.residual[use]


def _pairs(child: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the entries of children listed twice (their two parents)."""
    order = np.argsort(child, kind="stable")
    same = np.flatnonzero(child[order][1:] == child[order][:-1])
    return order[same], order[same + 1]


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    factor = linalg.cho_factor(a)
    return linalg.cho_solve(factor, np.eye(a.shape[0]))


def _centred(packed_rows: np.ndarray, n_snps: int, two_p: np.ndarray) -> np.ndarray:
    """float32 ``x - 2p`` of some rows, missing calls 0 (mean imputation)."""
    x = unpack(packed_rows, n_snps)
    z = x.astype(np.float32)
    z -= two_p
    z[x == MISSING] = 0.0
    return z
