"""The SNP map and the in-memory genotype set that readers return and writers take.

A :class:`SnpMap` is the panel's SNP order: name, chromosome, position and the two alleles
behind the packed codes (code = count of ``allele_b``). A :class:`GenotypeSet` is packed calls
(animals x bytes, see :mod:`reprotech_core.genomics.packing`) with the sample IDs and the map:
the unit file readers and the store return (:mod:`reprotech_core.store.genotypes`), ingest
stores, and QC and the evaluation take, so calls never travel without the IDs of their rows
and the map of their columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reprotech_core.genomics.codes import take_snps
from reprotech_core.genomics.packing import pack, packed_width

# Bovine chromosome names as PLINK 2 writes them with --cow (29 autosomes, X, Y, MT).
COW_X = "X"
AUTOSOME_NAMES = frozenset(str(c) for c in range(1, 30))


@dataclass(frozen=True)
class SnpMap:
    """SNP order of a panel.

    Attributes
    ----------
    names : ndarray of str
        Unique SNP names, in panel order.
    chrom : ndarray of str
        Chromosome ("1".."29", "X", "Y", "MT", "0" for unplaced).
    pos : ndarray of int64
        Base-pair position (0 when unknown).
    allele_a, allele_b : ndarray of str
        The allele counted by code 0 (A) and the one counted by the dosage (B).
    """

    names: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    allele_a: np.ndarray
    allele_b: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.names)
        for field in ("chrom", "pos", "allele_a", "allele_b"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"SnpMap.{field} has {len(getattr(self, field))} rows, names {n}")
        if len(np.unique(self.names)) != n:
            names, counts = np.unique(self.names, return_counts=True)
            raise ValueError(f"SNP name {names[counts > 1][0]!r} appears twice in the map")

    @classmethod
    def from_columns(
        cls,
        names: object,
        *,
        chrom: object = None,
        pos: object = None,
        allele_a: object = None,
        allele_b: object = None,
    ) -> SnpMap:
        """Build a map; missing columns default to chromosome "0", position 0, alleles A/B."""
        nm = np.asarray(names, dtype=object).astype(str)
        n = len(nm)

        def col(value: object, default: object, dtype: object) -> np.ndarray:
            if value is None:
                return np.full(n, default, dtype=dtype)
            return np.asarray(value).astype(dtype)

        return cls(
            names=nm,
            chrom=col(chrom, "0", str),
            pos=col(pos, 0, np.int64),
            allele_a=col(allele_a, "A", str),
            allele_b=col(allele_b, "B", str),
        )

    def __len__(self) -> int:
        return len(self.names)

    def index_of(self, names: object) -> np.ndarray:
        """Positions of ``names`` in this map, ``-1`` where absent."""
        query = np.asarray(names, dtype=object).astype(str)
        return pd.Index(self.names).get_indexer(query).astype(np.int64)

    def take(self, index: np.ndarray) -> SnpMap:
        """The sub-map of SNPs at ``index``."""
        return SnpMap(
            names=self.names[index],
            chrom=self.chrom[index],
            pos=self.pos[index],
            allele_a=self.allele_a[index],
            allele_b=self.allele_b[index],
        )


@dataclass(frozen=True)
class GenotypeSet:
    """Packed calls of ``n`` animals on a :class:`SnpMap`.

    Attributes
    ----------
    packed : ndarray of uint8, shape (n, packed_width(len(snps)))
    samples : ndarray of str, shape (n,)
    snps : SnpMap
    sex : ndarray of int8 or None
        1 male, 2 female, 0 unknown (PLINK coding), when the source says.
    """

    packed: np.ndarray
    samples: np.ndarray
    snps: SnpMap
    sex: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.packed.dtype != np.uint8 or self.packed.ndim != 2:
            raise ValueError("packed must be a 2-D uint8 array")
        if self.packed.shape != (len(self.samples), packed_width(len(self.snps))):
            raise ValueError(
                f"packed has shape {self.packed.shape}, expected "
                f"({len(self.samples)}, {packed_width(len(self.snps))})"
            )
        if self.sex is not None and len(self.sex) != len(self.samples):
            raise ValueError("sex must have one entry per sample")

    @classmethod
    def from_dosages(
        cls,
        dosages: np.ndarray,
        *,
        samples: object = None,
        snps: SnpMap | None = None,
        sex: np.ndarray | None = None,
    ) -> GenotypeSet:
        """Pack in-memory dosages (simulations, tests, benchmarks; ``n x m``, MISSING = -1).

        Unnamed samples are numbered ``"0".."n-1"``; an unnamed map is ``snp0..`` on the
        unplaced chromosome "0", which is all a science function that ignores positions needs.
        """
        d = np.asarray(dosages)
        if d.ndim != 2:
            raise ValueError(f"dosages must be 2-D (animals x SNPs), got {d.ndim}-D")
        names = (np.arange(d.shape[0]).astype(str) if samples is None
                 else np.asarray(samples).astype(str))
        if snps is None:
            snps = SnpMap.from_columns([f"snp{j}" for j in range(d.shape[1])])
        return cls(packed=pack(d), samples=names, snps=snps, sex=sex)


def select_samples(geno: GenotypeSet, rows: np.ndarray) -> GenotypeSet:
    """The genotype set restricted (or re-ordered) to the samples at ``rows``."""
    idx = np.asarray(rows)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    return GenotypeSet(packed=geno.packed[idx], samples=geno.samples[idx], snps=geno.snps,
                       sex=None if geno.sex is None else geno.sex[idx])


def autosomes(geno: GenotypeSet) -> GenotypeSet:
    """The genotype set on the cattle autosomes 1-29 only.

    Relationships, parentage and ROH leave out X (a bull passes no X to his sons, and
    hemizygous X calls look homozygous, which would distort G and make correct sires look
    excluded), Y, MT and unplaced SNPs.
    """
    return select_snps(geno, np.flatnonzero(np.isin(geno.snps.chrom, list(AUTOSOME_NAMES))))


def select_snps(geno: GenotypeSet, index: np.ndarray) -> GenotypeSet:
    """The genotype set restricted (or re-ordered) to the SNPs at ``index``."""
    idx = np.asarray(index, dtype=np.int64)
    return GenotypeSet(
        packed=take_snps(geno.packed, idx), samples=geno.samples, snps=geno.snps.take(idx),
        sex=geno.sex,
    )
