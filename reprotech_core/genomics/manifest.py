"""SNP panel manifests and the common SNP map across chips.

A manifest gives, for every SNP name of a chip, its chromosome, position and alleles. We read
Illumina's manifest CSV (``[Heading]`` / ``[Assay]`` / ``[Controls]`` sections, columns
``Name``, ``IlmnStrand``, ``SNP`` like ``[A/G]``, ``Chr``, ``MapInfo``, optional
``SourceStrand``) and plain CSV/TSV with the same columns. Illumina's A/B alleles are the
``SNP`` alleles in Illumina-strand order; on the TOP strand they are the Top alleles, on BOT
their complements (Illumina technical note "TOP/BOT strand and A/B allele", 2006). Forward
alleles are the Top alleles when ``SourceStrand`` equals ``IlmnStrand``, else complemented.
The packed code counts allele B, so the map's ``allele_a``/``allele_b`` are the Top alleles.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.genomics.errors import ManifestError
from reprotech_core.genomics.codes import take_snps
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.genomics.textio import read_text_head

_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")
_CHROM_ORDER = {str(c): c for c in range(1, 30)} | {"X": 30, "Y": 31, "MT": 32, "0": 99}


@dataclass(frozen=True)
class PanelManifest:
    """One chip's SNPs; ``forward_a``/``forward_b`` are None when the manifest cannot tell."""

    chip: str
    snps: SnpMap
    forward_a: np.ndarray | None = None
    forward_b: np.ndarray | None = None

    def alleles(self, coding: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-SNP (A, B) allele letters in ``coding`` "Top" or "Forward"."""
        if coding == "Top":
            return self.snps.allele_a, self.snps.allele_b
        if coding == "Forward":
            if self.forward_a is None or self.forward_b is None:
                raise ManifestError(f"manifest of {self.chip!r} has no SourceStrand: "
                                    "Forward alleles unknown")
            return self.forward_a, self.forward_b
        raise ValueError(f"allele coding must be 'Top' or 'Forward', got {coding!r}")


def read_manifest(path: str | Path, *, chip: str | None = None) -> PanelManifest:
    """Read an Illumina manifest CSV or a plain table with the same columns."""
    text, _ = read_text_head(path, max_bytes=None)
    lines = text.splitlines()
    if not lines:
        raise ManifestError("empty manifest", file=path)
    start, stop, first = 0, len(lines), 1
    if any(line.startswith("[Assay]") for line in lines):
        start = next(i for i, line in enumerate(lines) if line.startswith("[Assay]")) + 1
        stop = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        first = start + 1
    if start >= stop:
        raise ManifestError("the [Assay] section is empty", file=path, line=start)
    body = "\n".join(lines[start:stop])
    sep = "\t" if "\t" in lines[start] else ","
    try:
        df = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        # pandas names the line within the section ("Expected 5 fields in line 7, saw 6")
        raise ManifestError(f"cannot parse manifest from line {first} on ({exc})".strip(),
                            file=path) from None
    need = {"Name", "SNP", "Chr", "MapInfo"}
    if not need <= set(df.columns):
        raise ManifestError(f"manifest needs columns {sorted(need)}, has {list(df.columns)[:8]}",
                            file=path, line=first)
    alleles = df["SNP"].str.extract(r"^\[([A-Za-z]+)/([A-Za-z]+)\]$")
    bad = alleles[0].isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise ManifestError(f"SNP alleles {df['SNP'].iloc[i]!r} are not like [A/G]",
                            file=path, line=first + 1 + i, snp=df["Name"].iloc[i])
    a, b = alleles[0].str.upper().to_numpy(str), alleles[1].str.upper().to_numpy(str)
    strand = df["IlmnStrand"].str.upper().to_numpy(str) if "IlmnStrand" in df else None
    top_a, top_b = (a, b) if strand is None else complement_where(a, b, strand == "BOT")
    fwd_a = fwd_b = None
    if strand is not None and "SourceStrand" in df:
        same = df["SourceStrand"].str.upper().to_numpy(str) == strand
        fwd_a, fwd_b = complement_where(top_a, top_b, ~same)
    pos = pd.to_numeric(df["MapInfo"], errors="coerce")
    if pos.isna().any():
        i = int(np.argmax(pos.isna().to_numpy()))
        raise ManifestError(f"MapInfo {df['MapInfo'].iloc[i]!r} is not a position", file=path,
                            line=first + 1 + i, snp=df["Name"].iloc[i])
    try:
        snps = SnpMap.from_columns(df["Name"], chrom=df["Chr"], pos=pos,
                                   allele_a=top_a, allele_b=top_b)
    except ValueError as exc:
        raise ManifestError(str(exc), file=path) from None
    return PanelManifest(chip or Path(path).name.split(".")[0], snps, fwd_a, fwd_b)


def complement_where(a: np.ndarray, b: np.ndarray, where: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Alleles ``a``/``b`` complemented where ``where`` (a BOT-strand SNP's Top alleles are the
    complements of its Illumina-strand alleles); shared with the SNP_Map reader."""
    comp = np.vectorize(lambda s: s.translate(_COMPLEMENT), otypes=[str])
    if not where.any():
        return a, b
    return np.where(where, comp(a), a), np.where(where, comp(b), b)


def common_map(*maps: SnpMap) -> SnpMap:
    """The union of several chips' SNPs, ordered by chromosome, position and name.

    Raises :class:`ManifestError` when two chips disagree on a SNP's place or alleles.
    """
    frames = [pd.DataFrame({"name": m.names, "chrom": m.chrom, "pos": m.pos,
                            "a": m.allele_a, "b": m.allele_b}) for m in maps]
    allsnps = pd.concat(frames, ignore_index=True).drop_duplicates()
    clash = allsnps["name"].duplicated(keep=False)
    if clash.any():
        name = allsnps.loc[clash, "name"].iloc[0]
        raise ManifestError("chips disagree on chromosome, position or alleles", snp=name)
    allsnps["order"] = allsnps["chrom"].map(_CHROM_ORDER).fillna(98)
    allsnps = allsnps.sort_values(["order", "pos", "name"], kind="stable")
    return SnpMap.from_columns(allsnps["name"], chrom=allsnps["chrom"], pos=allsnps["pos"],
                               allele_a=allsnps["a"], allele_b=allsnps["b"])


def place_on_map(geno: GenotypeSet, target: SnpMap) -> GenotypeSet:
    """Re-order a batch onto ``target``; SNPs the batch's chip lacks become missing calls.

    Raises :class:`ManifestError` if a shared SNP has other alleles on the target map (the
    codes would count a different allele).
    """
    idx = geno.snps.index_of(target.names)
    have = idx >= 0
    differ = (geno.snps.allele_a[idx[have]] != target.allele_a[have]) | (
        geno.snps.allele_b[idx[have]] != target.allele_b[have]
    )
    if differ.any():
        raise ManifestError("alleles differ from the common map", snp=target.names[have][differ][0])
    return GenotypeSet(packed=take_snps(geno.packed, idx), samples=geno.samples, snps=target,
                       sex=geno.sex)


def write_manifest(manifest: PanelManifest, path: str | Path) -> Path:
    """Write a plain manifest CSV (``Name,IlmnStrand,SNP,Chr,MapInfo``) that
    :func:`read_manifest` reads back; alleles are written on the TOP strand."""
    s = manifest.snps
    pd.DataFrame(
        {"Name": s.names, "IlmnStrand": "TOP",
         "SNP": [f"[{a}/{b}]" for a, b in zip(s.allele_a, s.allele_b, strict=True)],
         "Chr": s.chrom, "MapInfo": s.pos}
    ).to_csv(path, index=False)
    return Path(path)
