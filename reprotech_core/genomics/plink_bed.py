"""PLINK 1 binary filesets (.bed/.bim/.fam): read and write.

The ``.bed`` is SNP-major with its own 2-bit coding (00 hom A1, 01 missing, 10 het, 11 hom A2;
Purcell et al. 2007, https://www.cog-genomics.org/plink/1.9/formats#bed). We write A1 = our B
allele and A2 = our A allele, so PLINK 2's ``ALT_FREQS`` is our B-allele frequency. Conversion
runs through byte lookup tables on blocks, and reading memory-maps the ``.bed``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.genomics.codes import transpose_packed
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.packing import packed_width
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.genomics.textio import as_genotype_error
from reprotech_core.table_files import TableError, read_text

BED_MAGIC = bytes([0x6C, 0x1B, 0x01])
_BLOCK_BYTES = 64 * 2**20  # unpacked bytes per conversion block


def _prefix(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".bed", ".bim", ".fam") else p


def read_bim(path: str | Path) -> SnpMap:
    """Read a ``.bim``: chrom, SNP ID, cM, position, A1 (our B allele), A2 (our A allele)."""
    df = _read_table(path, 6, "bim")
    pos = pd.to_numeric(df[3], errors="coerce")
    bad = pos.isna().to_numpy()
    if bad.any():
        line = int(np.argmax(bad))
        raise GenotypeFileError(f"position {df[3].iloc[line]!r} is not a number", file=path,
                                line=line + 1)
    return SnpMap.from_columns(df[1], chrom=df[0], pos=pos, allele_a=df[5], allele_b=df[4])


def read_fam(path: str | Path) -> pd.DataFrame:
    """Read a ``.fam`` into columns fid, iid, father, mother, sex (0/1/2), phenotype."""
    df = _read_table(path, 6, "fam")
    df.columns = ["fid", "iid", "father", "mother", "sex", "phenotype"]
    df["sex"] = pd.to_numeric(df["sex"], errors="coerce").fillna(0).astype(np.int8)
    return df


def _read_table(path: str | Path, n_cols: int, kind: str) -> pd.DataFrame:
    """A whitespace-separated .bim/.fam, decoded by the platform's text decoder (a NUL or
    non-UTF-8 byte is named by line and column) before pandas splits it."""
    try:
        text = read_text(path, name=str(path))
    except TableError as exc:
        raise as_genotype_error(exc, path) from None
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, dtype=str, engine="c")
    except pd.errors.EmptyDataError:
        raise GenotypeFileError(f"empty .{kind} file", file=path) from None
    except pd.errors.ParserError as exc:  # names the line: "Expected 6 fields in line 3, saw 7"
        raise GenotypeFileError(f"not a .{kind} file ({exc})".strip(), file=path) from None
    if df.shape[1] != n_cols:
        raise GenotypeFileError(f".{kind} needs {n_cols} columns, found {df.shape[1]}", file=path)
    bad = df.isna().any(axis=1).to_numpy()
    if bad.any():
        raise GenotypeFileError("missing field", file=path, line=int(np.argmax(bad)) + 1)
    return df


def open_bed(path: str | Path, *, n_samples: int, n_snps: int) -> np.ndarray:
    """Memory-map a SNP-major ``.bed`` as ``(n_snps, ceil(n_samples / 4))`` uint8, checked.

    Each refusal names its rule: ``bed.magic`` (not a PLINK 1 .bed), ``bed.mode`` (the old
    individual-major layout, mode byte 0), ``bed.snp_count`` (whole SNP rows, but not as many
    as the ``.bim`` lists) and ``bed.truncated`` / ``bed.size`` (not a whole number of rows).
    """
    bed = Path(path)
    width = packed_width(n_samples)
    expected = 3 + n_snps * width
    try:
        size = bed.stat().st_size
        with bed.open("rb") as fh:
            magic = fh.read(3)
    except OSError as exc:
        raise GenotypeFileError(f"cannot read ({exc.strerror})", file=bed) from None
    if magic[:2] != BED_MAGIC[:2]:
        raise GenotypeFileError("not a SNP-major PLINK 1 .bed (bad magic bytes)", file=bed,
                                rule="bed.magic")
    if magic[2:] != BED_MAGIC[2:]:
        mode = f"mode byte {magic[2]:#04x}" if len(magic) == 3 else "no mode byte"
        raise GenotypeFileError(
            f"not a SNP-major PLINK 1 .bed ({mode}: individual-major or unknown layout; "
            "rewrite it with plink --make-bed)", file=bed, rule="bed.mode")
    if size != expected:
        body = size - 3
        if width and body % width == 0:
            raise GenotypeFileError(
                f"holds {body // width} SNPs of {n_samples} samples, but the .bim lists "
                f"{n_snps}", file=bed, rule="bed.snp_count")
        raise GenotypeFileError(
            f"size {size} bytes, but {n_samples} samples x {n_snps} SNPs need {expected}"
            + (" (truncated)" if size < expected else ""),
            file=bed, rule="bed.truncated" if size < expected else "bed.size",
        )
    return np.memmap(bed, dtype=np.uint8, mode="r", offset=3, shape=(n_snps, width))


def iter_bed_samples(
    prefix: str | Path, *, block_samples: int | None = None
) -> Iterator[tuple[slice, np.ndarray]]:
    """Stream a fileset as blocks of our animal-major packed rows.

    Yields ``(sample_slice, packed_block)``; memory is one block (``block_samples`` animals,
    by default about 64 MB unpacked).
    """
    pre = _prefix(prefix)
    snps = read_bim(pre.with_suffix(".bim"))
    fam = read_fam(pre.with_suffix(".fam"))
    n, m = len(fam), len(snps)
    bed = open_bed(pre.with_suffix(".bed"), n_samples=n, n_snps=m)
    if block_samples is None:
        block_samples = max(4, _BLOCK_BYTES // max(m, 1))
    step = max(1, block_samples // 4)  # whole bytes of samples per block
    for b0 in range(0, bed.shape[1], step):
        b1 = min(b0 + step, bed.shape[1])
        s0, s1 = 4 * b0, min(4 * b1, n)
        block = np.asarray(bed[:, b0:b1])  # padding SNP rows: 0x55 = bed missing
        yield slice(s0, s1), transpose_packed(block, s1 - s0, recode="from_bed", pad_byte=0x55)


def read_plink(prefix: str | Path, *, block_samples: int | None = None) -> GenotypeSet:
    """Read a PLINK 1 binary fileset (``prefix.bed/.bim/.fam``) into a :class:`GenotypeSet`."""
    pre = _prefix(prefix)
    snps = read_bim(pre.with_suffix(".bim"))
    fam = read_fam(pre.with_suffix(".fam"))
    packed = np.empty((len(fam), packed_width(len(snps))), dtype=np.uint8)
    for rows, block in iter_bed_samples(pre, block_samples=block_samples):
        packed[rows] = block
    return GenotypeSet(
        packed=packed,
        samples=fam["iid"].to_numpy(dtype=str),
        snps=snps,
        sex=fam["sex"].to_numpy(dtype=np.int8),
    )


def write_plink(
    geno: GenotypeSet,
    prefix: str | Path,
    *,
    fam: pd.DataFrame | None = None,
    block_snps: int | None = None,
) -> Path:
    """Write ``prefix.bed/.bim/.fam``; returns the prefix.

    ``fam`` may give fid/father/mother/sex/phenotype columns (one row per sample, same order);
    by default FID = IID, no parents, sex from ``geno.sex``, phenotype -9.
    """
    pre = _prefix(prefix)
    n, m = len(geno.samples), len(geno.snps)
    fam_df = _fam_frame(geno, fam)
    fam_df.to_csv(pre.with_suffix(".fam"), sep=" ", header=False, index=False)
    s = geno.snps
    pd.DataFrame(
        {"c": s.chrom, "id": s.names, "cm": 0, "pos": s.pos, "a1": s.allele_b, "a2": s.allele_a}
    ).to_csv(pre.with_suffix(".bim"), sep="\t", header=False, index=False)
    if block_snps is None:
        block_snps = max(4, _BLOCK_BYTES // max(n, 1))
    step = max(1, block_snps // 4)
    with pre.with_suffix(".bed").open("wb") as fh:
        fh.write(BED_MAGIC)
        for c0 in range(0, geno.packed.shape[1], step):
            c1 = min(c0 + step, geno.packed.shape[1])
            n_snps_block = min(4 * c1, m) - 4 * c0
            # padding samples must be bed 00 (PLINK 2 counts them otherwise): our 2 = 0xAA
            bed = transpose_packed(geno.packed[:, c0:c1], n_snps_block, recode="to_bed",
                                   pad_byte=0xAA)
            fh.write(bed.tobytes())
    return pre


def _fam_frame(geno: GenotypeSet, fam: pd.DataFrame | None) -> pd.DataFrame:
    n = len(geno.samples)
    sex = geno.sex if geno.sex is not None else np.zeros(n, np.int8)
    base = pd.DataFrame(
        {
            "fid": geno.samples,
            "iid": geno.samples,
            "father": "0",
            "mother": "0",
            "sex": sex,
            "phenotype": -9,
        }
    )
    if fam is not None:
        if len(fam) != n:
            raise ValueError(f"fam has {len(fam)} rows for {n} samples")
        for col in base.columns.drop("iid"):
            if col in fam:
                base[col] = fam[col].to_numpy()
    return base
