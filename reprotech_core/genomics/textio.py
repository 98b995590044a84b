"""Opening text genotype files: plain or gzip (detected by content), and rejecting binary junk.

Lab files arrive compressed or not, whatever their name says, so the gzip magic bytes decide.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from reprotech_core.genomics.errors import GenotypeFileError

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


def decode(raw: bytes, path: str | Path, *, line_offset: int = 0) -> str:
    """Decode UTF-8 text, naming the line of the first NUL or undecodable byte."""
    bad_at = raw.find(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_at = exc.start if bad_at < 0 else min(bad_at, exc.start)
        text = ""
    if bad_at >= 0:
        line = line_offset + raw.count(b"\n", 0, bad_at) + 1
        raise GenotypeFileError(f"binary content (byte {bad_at}): not a text file", file=path,
                                line=line)
    return text


def read_text_head(path: str | Path, *, max_bytes: int | None) -> tuple[str, bool]:
    """The first ``max_bytes`` (all when None) of a text file, decoded, and whether it was
    cut short."""
    try:
        with open_binary(path) as fh:
            raw = fh.read() if max_bytes is None else fh.read(max_bytes)
            more = max_bytes is not None and bool(fh.read(1))
    except (OSError, EOFError) as exc:
        raise GenotypeFileError(f"cannot read ({exc})", file=path) from None
    return decode(raw, path), more
