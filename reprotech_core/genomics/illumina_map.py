"""Illumina's ``SNP_Map.txt`` as a chip map, and choosing it or a manifest by the file's header.

GenomeStudio writes ``SNP_Map.txt`` next to every FinalReport: tab-separated, one header line
``Index, Name, Chromosome, Position, GenTrain Score, SNP, ILMN Strand, Customer Strand, NormID``
and one row per SNP in the chip's index order. A lab often has this file and not the manifest,
so ingest accepts it as the map.

What it can give: the SNP order (``Index``), chromosome and position, and the Top alleles. The
``SNP`` column holds the alleles on the Illumina (design) strand, as the manifest's ``SNP``
column does, and ``ILMN Strand`` says whether that strand is TOP or BOT, so the Top alleles -
the ones the packed code counts - follow by the same rule as for the manifest (Illumina
technical note "TOP/BOT strand and A/B allele", 2006): on TOP they are the ``SNP`` alleles, on
BOT their complements. A FinalReport read on the map of ``SNP_Map.txt`` therefore gives the
same codes and the same stored panel as on the manifest of the chip.

What it cannot give: the Forward (dbSNP) strand. ``Customer Strand`` is the strand of the
sequence the chip's designer submitted, not the genome's forward strand, so the map offers no
Forward alleles: a FinalReport read with ``Allele1 - Forward`` needs the manifest. Nor does
the file name its chip: the panel takes the FinalReport's ``Content`` name (or one given).
Strands other than TOP/BOT (PLUS/MINUS of indel designs) have no A/B rule here and are refused.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from reprotech_core.genomics.errors import ManifestError
from reprotech_core.genomics.finalreport_header import read_header
from reprotech_core.genomics.manifest import PanelManifest, complement_where, read_manifest
from reprotech_core.genomics.snpmap import SnpMap
from reprotech_core.genomics.textio import read_text_head

#: The columns ingest needs from ``SNP_Map.txt`` (GenomeStudio writes GenTrain Score,
#: Customer Strand and NormID too; they are not needed for genotypes and are ignored).
SNP_MAP_COLUMNS = ("Index", "Name", "Chromosome", "Position", "SNP", "ILMN Strand")
#: The header names that mark a file as ``SNP_Map.txt`` (a manifest says Chr and MapInfo).
_SIGNATURE = {"Index", "Name", "Chromosome", "Position"}
_STRANDS = ("TOP", "BOT")


def map_kind(path: str | Path) -> str:
    """``"snp_map"`` for GenomeStudio's ``SNP_Map.txt``, else ``"manifest"``, by the first line's
    column names (never by the file's name: labs rename files)."""
    text, _ = read_text_head(path, max_bytes=64 * 1024)
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "snp_map" if _SIGNATURE <= {c.strip() for c in first.split("\t")} else "manifest"


def read_chip_map(path: str | Path, *, chip: str | None = None,
                  finalreport: str | Path | None = None) -> PanelManifest:
    """The chip map in ``path``: a manifest or ``SNP_Map.txt``, told apart by the header.

    ``chip`` names the panel; without it a manifest is named by its file and an SNP_Map by the
    ``Content`` of ``finalreport``'s header (the chip the export was made on).
    """
    if map_kind(path) == "manifest":
        return read_manifest(path, chip=chip)
    if chip is None and finalreport is not None:
        chip = read_header(finalreport).chip or None
    if not chip:
        raise ManifestError("SNP_Map.txt does not name its chip and the FinalReport header has "
                            "no Content: give the chip's name", file=path, rule="snpmap.chip")
    return read_snp_map(path, chip=chip)


def read_snp_map(path: str | Path, *, chip: str) -> PanelManifest:
    """Read ``SNP_Map.txt`` as the map of ``chip`` (SNPs in ``Index`` order, Top alleles).

    Raises :class:`ManifestError` naming file, line, column and rule (``snpmap.*``).
    """
    text, _ = read_text_head(path, max_bytes=None)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ManifestError("empty SNP map", file=path, rule="snpmap.empty")
    try:
        df = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False,
                         skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        raise ManifestError(f"rows do not match the header ({exc})", file=path,
                            rule="snpmap.ragged") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in SNP_MAP_COLUMNS if c not in df.columns]
    if missing:
        why = (" (without SNP and ILMN Strand the file gives no alleles: export SNP_Map.txt "
               "with all its columns, or give the chip's manifest)"
               if {"SNP", "ILMN Strand"} & set(missing) else "")
        raise ManifestError(f"SNP_Map.txt needs columns {', '.join(missing)}{why}", file=path,
                            line=1, column=missing[0], rule="snpmap.columns")
    if df.empty:
        raise ManifestError("no SNP rows under the header", file=path, line=1,
                            rule="snpmap.empty")
    line_of = _data_lines(lines)
    df = df.apply(lambda col: col.str.strip())

    def refuse(mask: np.ndarray, column: str, rule: str, reason: str) -> None:
        if mask.any():
            i = int(np.argmax(mask))
            value = df[column].iloc[i]
            raise ManifestError(reason.format(value=value), file=path, line=int(line_of[i]),
                                column=column, snp=df["Name"].iloc[i] or None, rule=rule)

    index = pd.to_numeric(df["Index"], errors="coerce")
    refuse((index.isna() | (index < 1) | (index % 1 != 0)).to_numpy(), "Index",
           "snpmap.index", "Index {value!r} is not a positive whole number")
    refuse(index.duplicated().to_numpy(), "Index", "snpmap.index", "Index {value!r} appears twice")
    refuse((df["Name"] == "").to_numpy(), "Name", "snpmap.name", "empty SNP name")
    refuse(df["Name"].duplicated().to_numpy(), "Name", "snpmap.duplicate",
           "SNP {value!r} appears twice")
    pos = pd.to_numeric(df["Position"], errors="coerce")
    refuse((pos.isna() | (pos < 0) | (pos % 1 != 0)).to_numpy(), "Position", "snpmap.position",
           "Position {value!r} is not a base-pair position")
    refuse((df["Chromosome"] == "").to_numpy(), "Chromosome", "snpmap.chromosome",
           "empty chromosome (unplaced SNPs are chromosome 0)")
    alleles = df["SNP"].str.extract(r"^\[([A-Za-z]+)/([A-Za-z]+)\]$")
    refuse(alleles[0].isna().to_numpy(), "SNP", "snpmap.alleles",
           "SNP alleles {value!r} are not like [A/G]")
    strand = df["ILMN Strand"].str.upper()
    refuse(~strand.isin(_STRANDS).to_numpy(), "ILMN Strand", "snpmap.strand",
           "ILMN Strand {value!r} is not TOP or BOT (only TOP/BOT designs have Illumina's A/B "
           "rule; give the chip's manifest)")
    top_a, top_b = complement_where(alleles[0].str.upper().to_numpy(str),
                                    alleles[1].str.upper().to_numpy(str),
                                    (strand == "BOT").to_numpy())
    order = np.argsort(index.to_numpy(), kind="stable")
    snps = SnpMap.from_columns(df["Name"].to_numpy()[order],
                               chrom=df["Chromosome"].to_numpy()[order],
                               pos=pos.to_numpy()[order], allele_a=top_a[order],
                               allele_b=top_b[order])
    return PanelManifest(chip, snps)


def _data_lines(lines: list[str]) -> np.ndarray:
    """1-based file line of each data row (blank lines are skipped by the parser)."""
    return np.array([n for n, line in enumerate(lines, start=1) if line.strip()][1:], np.int64)
