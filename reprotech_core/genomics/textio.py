"""Opening text genotype files: plain or gzip (detected by content), and rejecting binary junk.

Lab files arrive compressed or not, whatever their name says, so the gzip magic bytes decide.
Decoding is the platform's one text decoder (:mod:`reprotech_core.table_files`): a NUL or a
byte that is not UTF-8 is named by line and column, never a traceback.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.table_files import (
    SNIFF_BYTES,
    TableError,
    decode_text,
    is_utf8,
    sniff_encoding,
)

_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_binary(path: str | Path) -> BinaryIO:
    """A binary file object, decompressing gzip transparently."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # noqa: SIM115


def arrow_stream(path: str | Path) -> pa.NativeFile:
    """An Arrow input stream (C-speed gzip inflation) for :mod:`pyarrow.csv`."""
    return pa.input_stream(str(path), compression="gzip" if is_gzip(path) else None)


def decode(raw: bytes, path: str | Path, *, line_offset: int = 0, final: bool = True) -> str:
    """Decode UTF-8 text (the encoding of FinalReports and VCFs), naming line and column of
    the first NUL or undecodable byte (see :func:`reprotech_core.table_files.decode_text`)."""
    try:
        return decode_text(raw, str(path), codec="utf-8-sig" if line_offset == 0 else "utf-8",
                           first_line=line_offset + 1, final=final)
    except TableError as exc:
        raise as_genotype_error(exc, path) from None


def as_genotype_error(exc: TableError, path: str | Path) -> GenotypeFileError:
    """The genotype readers' error for a table reader's refusal (column in the reason)."""
    reason = exc.reason if exc.column is None else f"column {exc.column}: {exc.reason}"
    return GenotypeFileError(reason, file=path, line=exc.line)


def read_text_head(path: str | Path, *, max_bytes: int | None,
                   utf8_only: bool = False) -> tuple[str, bool]:
    """The first ``max_bytes`` (all when None) of a text file, decoded, and whether it was
    cut short. UTF-16/32 (by BOM or NUL pattern) is decoded too, unless ``utf8_only`` (a file
    whose body a UTF-8 parser reads): then it is refused naming the expected encoding."""
    try:
        with open_binary(path) as fh:
            raw = fh.read() if max_bytes is None else fh.read(max_bytes)
            more = max_bytes is not None and bool(fh.read(1))
    except (OSError, EOFError) as exc:
        raise GenotypeFileError(f"cannot read ({exc})", file=path) from None
    codec = sniff_encoding(raw[:SNIFF_BYTES])
    if utf8_only and not is_utf8(codec):
        raise GenotypeFileError(f"{codec.upper()} text; this file must be UTF-8 (or ASCII): "
                                "export or save it again as UTF-8", file=path, line=1)
    try:
        return decode_text(raw, str(path), codec=codec, final=not more), more
    except TableError as exc:
        raise as_genotype_error(exc, path) from None
