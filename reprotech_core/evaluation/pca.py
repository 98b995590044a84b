"""Principal components of genotypes from the GRM, for population-structure dashboards.

With ``G = Z Z' / s`` (VanRaden 2008), the eigenvectors of G are the left singular vectors of
the centred genotype matrix, so PCA needs no second pass over the genotypes once G exists
(Patterson et al. 2006 use the same duality). Scores are ``U_k sqrt(lambda_k)``: the
animals' coordinates on each axis, with variance proportional to the eigenvalue. Only the
top ``n_components`` eigenpairs are computed (LAPACK ``syevr`` subset), O(n^2 k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg


@dataclass(frozen=True)
class GenomicPca:
    """Top principal components: scores (n x k), eigenvalues, share of total variance."""

    scores: np.ndarray
    eigenvalues: np.ndarray
    variance_explained: np.ndarray


def genomic_pca(g: np.ndarray, *, n_components: int = 10) -> GenomicPca:
    """Top ``n_components`` principal components of the genotypes behind ``g``."""
    g = np.asarray(g)
    n = g.shape[0]
    if g.ndim != 2 or g.shape != (n, n):
        raise ValueError(f"G must be square, got {g.shape}")
    if not 1 <= n_components < n:
        raise ValueError(f"n_components must be in [1, {n - 1}], got {n_components}")
    values, vectors = linalg.eigh(g.astype(np.float64), subset_by_index=[n - n_components, n - 1],
                                  driver="evr")
    values, vectors = values[::-1], vectors[:, ::-1]
    values = np.maximum(values, 0.0)
    # Fix each axis's sign so the largest loading is positive: stable plots across runs.
    flip = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(n_components)])
    vectors = vectors * flip
    return GenomicPca(scores=vectors * np.sqrt(values), eigenvalues=values,
                      variance_explained=values / np.trace(g))
