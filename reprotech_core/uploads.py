"""Checks on an uploaded or imported file *before* it is parsed.

A parser is the largest attack surface an upload meets: a multi-gigabyte file exhausts memory
and time, a binary or compressed file fed to a text parser fails somewhere deep with a message
nobody understands. So every import (the web upload and the CLI alike) first checks what is
cheap: the file is a regular file (not a link to somewhere else, not a device or a pipe), not
empty, not larger than the limit (setting ``upload_max_mb``), and starting as its kind must:

- ``finalreport``: text starting with ``[Header]``; gzip is accepted and checked inside;
- ``csv``: text — UTF-8 (with or without BOM), UTF-16 or UTF-32 (see
  :mod:`reprotech_core.table_files`); an Excel workbook, a compressed file or NUL bytes in
  UTF-8 text are refused;
- ``xlsx``: a zip (an Excel workbook is one) whose declared content does not expand beyond
  ``XLSX_MAX_EXPANSION`` times the limit (a zip bomb); an encrypted workbook or an old
  ``.xls`` is refused by name.

Each refusal names the file and the limit or the reason. The genotype store, the sample sheets
and the breeding-event imports call it, so it lives beside the table reader at the bottom of the
core, not in ``ops/``, which sits above them.
"""

from __future__ import annotations

import gzip
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reprotech_core.errors import ReprotechError
from reprotech_core.table_files import (
    COMPRESSED,
    EXCEL_SUFFIXES,
    excel_refusal,
    file_format,
    is_utf8,
    sniff_encoding,
    text_refusal,
)

SNIFF_BYTES = 64 * 1024
SIGNATURES = {"finalreport": b"[Header]"}
GZIP_READABLE = {"finalreport"}  # formats whose reader decompresses gzip itself
KINDS = ("finalreport", "csv", "xlsx")
XLSX_MAX_EXPANSION = 10  # an .xlsx's XML is ~5-8x its zip; more is a bomb, not a herd book


class UploadRefused(ReprotechError):
    """An uploaded file was refused before parsing; the message says why and ``rule`` names
    the check (``upload.too_large`` …) for reports and tests.

    Not a :class:`~reprotech_core.errors.RuleViolation`: the callers that turn a refused upload
    into their own rule (``import.unreadable``, ``upload.refused``) show the message as is.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def table_kind(path: str | Path) -> str:
    """The upload kind of a table file by its name: ``xlsx`` or ``csv``."""
    return "xlsx" if Path(path).suffix.lower() in EXCEL_SUFFIXES else "csv"


def check_upload(path: str | Path, *, max_bytes: int, kind: str = "finalreport",
                 name: str | None = None) -> int:
    """Refuse a file that is too big, empty, not regular, or not of ``kind``; returns its size.

    ``name`` is how messages call the file (a web upload is stored under a name of our own).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    path = Path(path)
    name = name or path.name
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise UploadRefused("upload.missing", f"{name}: no such file") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise UploadRefused("upload.not_regular", f"{name}: not a regular file (links, devices "
                            "and pipes are refused)")
    if info.st_size == 0:
        raise UploadRefused("upload.empty", f"{name}: the file is empty")
    if info.st_size > max_bytes:
        raise UploadRefused("upload.too_large", f"{name}: {info.st_size / 2**20:,.1f} MiB is "
                            f"larger than the upload limit of {max_bytes / 2**20:,.0f} MiB "
                            "(setting upload_max_mb)")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if kind == "xlsx":
        _check_workbook(path, name, head, max_bytes)
    elif kind == "csv":
        _check_text_table(name, head)
    else:
        _check_finalreport(path, name, head, kind)
    return info.st_size


def _check_workbook(path: Path, name: str, head: bytes, max_bytes: int) -> None:
    refusal = excel_refusal(file_format(head), head)
    if refusal:
        raise UploadRefused("upload.format", f"{name}: {refusal}")
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UploadRefused("upload.format", f"{name}: a damaged zip file, not a readable "
                            f"workbook ({exc})") from None
    if expanded > XLSX_MAX_EXPANSION * max_bytes:
        raise UploadRefused("upload.zip_bomb", f"{name}: the workbook expands to "
                            f"{expanded / 2**20:,.0f} MiB, more than {XLSX_MAX_EXPANSION} "
                            f"times the upload limit of {max_bytes / 2**20:,.0f} MiB (setting "
                            "upload_max_mb)")


def _check_text_table(name: str, head: bytes) -> None:
    refusal = text_refusal(file_format(head))
    if refusal:
        raise UploadRefused("upload.format", f"{name}: {refusal}")
    if is_utf8(sniff_encoding(head)) and b"\x00" in head:  # UTF-16/32 carry NULs by design
        line = head.count(b"\n", 0, head.index(b"\x00")) + 1
        raise UploadRefused("upload.binary", f"{name}, line {line}: binary content (NUL bytes) "
                            "in a text table")


def _check_finalreport(path: Path, name: str, head: bytes, kind: str) -> None:
    fmt = file_format(head)
    if fmt == "gzip" and kind in GZIP_READABLE:
        # The readers stream gzip (labs send FinalReports compressed): check what is inside.
        try:
            with gzip.open(path, "rb") as inner:
                head = inner.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise UploadRefused("upload.format", f"{name}: a damaged gzip file ({exc})") from None
    elif fmt in COMPRESSED:
        raise UploadRefused("upload.compressed", f"{name}: a {fmt}-compressed file; decompress "
                            f"it and upload the {kind} text file")
    codec = sniff_encoding(head)
    if not is_utf8(codec):
        raise UploadRefused("upload.encoding", f"{name}: {codec.upper()} text; a {kind} must be "
                            "UTF-8 (or ASCII): export it again as UTF-8")
    if b"\x00" in head:
        raise UploadRefused("upload.binary", f"{name}: binary content (NUL bytes) in a text "
                            "format")
    signature = SIGNATURES[kind]
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(signature):
        raise UploadRefused("upload.format", f"{name}: not a {kind} (it must start with "
                            f"{signature.decode()})")


@contextmanager
def private_copy(content: bytes, *, suffix: str) -> Iterator[Path]:
    """A browser upload's bytes as a file of our own naming (``upload<suffix>``) in a fresh
    folder only we can enter (0700, the file 0600), removed afterwards.

    Why our name: the browser's file name is the sender's text; used as a path it could place
    the file anywhere (``../../x.csv``) or follow a planted link. Created exclusively, the
    file never follows one. Callers label reports with the browser's name, never this path.
    """
    with tempfile.TemporaryDirectory(prefix="reprotech-upload-") as folder:  # mode 0700
        path = Path(folder) / f"upload{suffix}"
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        yield path
