"""Checks on an uploaded genotype file *before* it is parsed.

A parser is the largest attack surface an upload meets: a multi-gigabyte file exhausts memory
and time, a binary or compressed file fed to a text parser fails somewhere deep with a message
nobody understands. So the ingest first checks what is cheap: the file is a regular file (not a
link to somewhere else, not a device), not empty, not larger than ``upload_max_mb``, text
without NUL bytes in its first block, and starting as its format must (a FinalReport starts with
``[Header]``; a gzip-compressed FinalReport is checked inside). Each refusal names the file
and the limit.
"""

from __future__ import annotations

import gzip
import stat
from pathlib import Path

from reprotech_core.errors import ReprotechError

SNIFF_BYTES = 64 * 1024
SIGNATURES = {"finalreport": b"[Header]"}
GZIP = b"\x1f\x8b"
GZIP_READABLE = {"finalreport"}  # formats whose reader decompresses gzip itself
COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ": "xz",
              b"\x28\xb5\x2f\xfd": "zstd"}


class UploadRefused(ReprotechError):
    """An uploaded file was refused before parsing; the message says why."""


def check_upload(path: str | Path, *, max_bytes: int, kind: str = "finalreport") -> int:
    """Refuse a file that is too big, empty, binary or not of ``kind``; returns its size."""
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise UploadRefused(f"{path.name}: no such file") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise UploadRefused(f"{path.name}: not a regular file (links and devices are refused)")
    if info.st_size == 0:
        raise UploadRefused(f"{path.name}: the file is empty")
    if info.st_size > max_bytes:
        raise UploadRefused(f"{path.name}: {info.st_size / 2**20:,.1f} MiB is larger than the "
                            f"upload limit of {max_bytes / 2**20:,.0f} MiB (setting upload_max_mb)")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(GZIP) and kind in GZIP_READABLE:
        # The readers stream gzip (labs send FinalReports compressed): check what is inside.
        try:
            with gzip.open(path, "rb") as inner:
                head = inner.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise UploadRefused(f"{path.name}: a damaged gzip file ({exc})") from None
    else:
        for magic, name in COMPRESSED.items():
            if head.startswith(magic):
                raise UploadRefused(f"{path.name}: a {name}-compressed file; decompress it and "
                                    f"upload the {kind} text file")
    if b"\x00" in head:
        raise UploadRefused(f"{path.name}: binary content (NUL bytes) in a text format")
    signature = SIGNATURES.get(kind)
    if signature is not None and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(signature):
        raise UploadRefused(f"{path.name}: not a {kind} (it must start with "
                            f"{signature.decode()})")
    return info.st_size
