"""The ``[Header]`` section of an Illumina GenomeStudio FinalReport.

A FinalReport (Illumina GenomeStudio "Final Report" export) starts with a ``[Header]`` of
key/value lines (``Num SNPs``, ``Num Samples``, ``File 1 of 3``, ``Content`` = the chip's
``.bpm``), then ``[Data]`` and a column-name line. Reading the header first lets the reader
check the data against what the lab's software promised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.textio import read_text_head

_HEAD_BYTES = 1 << 16


@dataclass(frozen=True)
class FinalReportHeader:
    """What the header says, and where the data start.

    Attributes
    ----------
    fields : dict of str to str
    num_snps, num_samples : int
    file_index, file_count : int
        From ``File n of N`` (1 of 1 when absent).
    columns : list of str
        The column names of the ``[Data]`` section.
    delimiter : str
    data_line : int
        1-based line number of the column-name line; data row ``k`` (0-based) is on line
        ``data_line + 1 + k``.
    """

    fields: dict[str, str]
    num_snps: int
    num_samples: int
    file_index: int
    file_count: int
    columns: list[str]
    delimiter: str
    data_line: int

    @property
    def chip(self) -> str:
        return Path(self.fields.get("Content", "").strip()).stem


def read_header(path: str | Path) -> FinalReportHeader:
    """Parse and check a FinalReport's header (plain or gzip)."""
    text, more = read_text_head(path, max_bytes=_HEAD_BYTES, utf8_only=True)
    if not text.strip():
        raise GenotypeFileError("empty file", file=path)
    lines = text.split("\n")
    if not lines[0].strip().startswith("[Header]"):
        raise GenotypeFileError("not a FinalReport: first line is not [Header]", file=path, line=1)
    data_at = next((i for i, ln in enumerate(lines) if ln.strip().startswith("[Data]")), None)
    if data_at is None or data_at + 1 >= len(lines) - (1 if more else 0):
        raise GenotypeFileError("no [Data] section with column names", file=path)
    fields: dict[str, str] = {}
    for ln in lines[1:data_at]:
        parts = re.split(r"\t|,", ln.rstrip("\r"), maxsplit=1)
        if len(parts) == 2:
            fields[parts[0].strip()] = parts[1].strip()
    col_line = lines[data_at + 1].rstrip("\r")
    delimiter = "\t" if "\t" in col_line else ","
    columns = [c.strip() for c in col_line.split(delimiter)]
    file_index, file_count = _file_n_of_n(fields, path)
    return FinalReportHeader(
        fields=fields,
        num_snps=_int_field(fields, "Num SNPs", path),
        num_samples=_int_field(fields, "Num Samples", path),
        file_index=file_index,
        file_count=file_count,
        columns=columns,
        delimiter=delimiter,
        data_line=data_at + 2,
    )


def _int_field(fields: dict[str, str], key: str, path: str | Path) -> int:
    value = fields.get(key)
    if value is None or not value.replace(",", "").isdigit():
        raise GenotypeFileError(f"header field {key!r} missing or not a number ({value!r})",
                                file=path)
    return int(value.replace(",", ""))


def _file_n_of_n(fields: dict[str, str], path: str | Path) -> tuple[int, int]:
    raw = fields.get("File")
    if raw is None:
        return 1, 1
    m = re.fullmatch(r"(\d+)\s+of\s+(\d+)", raw)
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise GenotypeFileError(f"header 'File' is {raw!r}, expected 'n of N'", file=path)
    return int(m[1]), int(m[2])
