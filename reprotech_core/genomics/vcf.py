"""VCF (GT field) read and write for biallelic SNPs (VCF v4.2, https://samtools.github.io/hts-specs/).

REF is our A allele and ALT our B allele, so the dosage of ALT is our code. Writing turns blocks
of packed rows into SNP-major text through a 4-entry byte table; reading takes each sample's
GT from the byte after each tab (GT must be the first FORMAT key, as the specification
requires when present), so both run as array operations per line, not per genotype.
Haploid calls (bulls' X in some pipelines) are read as homozygous, as PLINK does.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np

from reprotech_core.genomics.codes import codes_of, pack_codes, transpose_packed
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.packing import MISSING_CODE, packed_width
from reprotech_core.genomics.snpmap import GenotypeSet, SnpMap
from reprotech_core.genomics.textio import decode, open_binary, read_text_head
from reprotech_core.table_files import SNIFF_BYTES

_FIXED = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
_GT_TEXT = np.array([list(b"0/0\t"), list(b"0/1\t"), list(b"1/1\t"), list(b"./.\t")], np.uint8)
_ZERO, _ONE, _DOT = ord("0"), ord("1"), ord(".")
_BLOCK_SNPS = 4096


def write_vcf(geno: GenotypeSet, path: str | Path, *, source: str = "reprotech") -> Path:
    """Write ``geno`` as an uncompressed VCF with one GT column per sample."""
    path = Path(path)
    n, m = len(geno.samples), len(geno.snps)
    s = geno.snps
    with path.open("wb") as fh:
        head = ["##fileformat=VCFv4.2", f"##source={source}"]
        head += [f"##contig=<ID={c}>" for c in dict.fromkeys(s.chrom.tolist())]
        head += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
                 "\t".join(_FIXED + geno.samples.tolist())]
        fh.write(("\n".join(head) + "\n").encode())
        for c0 in range(0, packed_width(m), _BLOCK_SNPS // 4):
            c1 = min(c0 + _BLOCK_SNPS // 4, packed_width(m))
            j0, j1 = 4 * c0, min(4 * c1, m)
            snp_major = codes_of(transpose_packed(geno.packed[:, c0:c1], j1 - j0))[:, :n]
            text = _GT_TEXT[snp_major]  # (snps, n, 4)
            text[:, -1, 3] = ord("\n")
            for k, j in enumerate(range(j0, j1)):
                fixed = f"{s.chrom[j]}\t{s.pos[j]}\t{s.names[j]}\t{s.allele_a[j]}\t" \
                        f"{s.allele_b[j]}\t.\tPASS\t.\tGT\t"
                fh.write(fixed.encode() + text[k].tobytes())
    return path


def read_vcf(path: str | Path) -> GenotypeSet:
    """Read a biallelic VCF's GT calls (plain or gzip) into packed rows."""
    try:
        return _read_vcf(path)
    except (OSError, EOFError) as exc:
        raise GenotypeFileError(f"cannot read ({exc}; truncated or corrupt gzip?)",
                                file=path) from None


def _read_vcf(path: str | Path) -> GenotypeSet:
    read_text_head(path, max_bytes=SNIFF_BYTES, utf8_only=True)  # UTF-16 is named, not misread
    samples: list[str] | None = None
    names, chrom, pos, ref, alt = [], [], [], [], []
    blocks: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            if raw.startswith(b"##"):
                continue
            if samples is None:
                header = decode(raw, path, line_offset=number - 1).rstrip("\r\n").split("\t")
                if header[:9] != _FIXED[: len(header[:9])] or len(header) < 9:
                    raise GenotypeFileError("expected the #CHROM header line with FORMAT",
                                            file=path, line=number)
                samples = header[9:]
                continue
            fields = _split_fixed(raw, path, number)
            names.append(fields[2]), chrom.append(fields[0]), pos.append(fields[1])
            ref.append(fields[3]), alt.append(fields[4])
            pending.append(_gt_codes(raw, len(samples), path, number, fields[2]))
            if len(pending) == _BLOCK_SNPS:
                blocks.append(pack_codes(np.stack(pending)))
                pending = []
    if samples is None:
        raise GenotypeFileError("empty VCF or no #CHROM header line", file=path)
    if pending:
        blocks.append(pack_codes(np.stack(pending)))
    n, m = len(samples), len(names)
    packed = np.full((n, packed_width(m)), 0xFF, dtype=np.uint8)
    for b, block in enumerate(blocks):
        j0 = b * _BLOCK_SNPS
        snps_here = min(_BLOCK_SNPS, m - j0)
        packed[:, j0 // 4 : j0 // 4 + packed_width(snps_here)] = transpose_packed(block, n)
    try:
        snps = SnpMap.from_columns(names, chrom=chrom, pos=np.array(pos, dtype=np.int64),
                                   allele_a=ref, allele_b=alt)
    except ValueError as exc:
        raise GenotypeFileError(str(exc), file=path) from None
    return GenotypeSet(packed=packed, samples=np.array(samples, dtype=str), snps=snps)


def _split_fixed(raw: bytes, path, number: int) -> list[str]:
    """The 9 fixed fields of a data line, decoded (the samples' GTs are read as bytes)."""
    parts = raw.split(b"\t", 9)
    fields = decode(b"\t".join(parts[:9]), path, line_offset=number - 1).split("\t")
    if len(parts) < 10 or not fields[1].isdigit():
        raise GenotypeFileError("not a VCF data line (fewer than 10 columns or bad POS)",
                                file=path, line=number)
    if "," in fields[4] or fields[4] in (".", "*"):
        raise GenotypeFileError(f"ALT {fields[4]!r}: only biallelic SNPs are supported",
                                file=path, line=number, snp=fields[2])
    if not fields[8].startswith("GT"):
        raise GenotypeFileError("FORMAT does not start with GT", file=path, line=number,
                                snp=fields[2])
    return fields


def _gt_codes(raw: bytes, n: int, path, number: int, snp: str) -> np.ndarray:
    """Codes of one line's n samples from the characters after the tabs."""
    b = np.frombuffer(raw.rstrip(b"\r\n") + b"\t   ", dtype=np.uint8)
    tabs = np.flatnonzero(b == 9)
    if len(tabs) != n + 9:
        raise GenotypeFileError(f"{len(tabs) - 9} sample columns, header has {n}", file=path,
                                line=number, snp=snp)
    start = tabs[8:-1] + 1
    a1, sep, a2 = b[start], b[start + 1], b[start + 2]
    diploid = (sep == ord("/")) | (sep == ord("|"))
    a2 = np.where(diploid, a2, a1)  # haploid: hemizygous call counted twice
    valid = np.isin(a1, (_ZERO, _ONE, _DOT)) & np.isin(a2, (_ZERO, _ONE, _DOT))
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise GenotypeFileError("GT is not 0, 1 or . (multiallelic?)", file=path, line=number,
                                snp=snp, sample=f"column {i + 10}")
    codes = (a1 == _ONE).astype(np.uint8) + (a2 == _ONE)
    codes[(a1 == _DOT) | (a2 == _DOT)] = MISSING_CODE
    return codes
