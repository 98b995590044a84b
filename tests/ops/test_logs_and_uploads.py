"""Secrets never reach a log line; uploads are checked before parsing."""

from __future__ import annotations

import io
import json
import logging
import stat

import pytest

from reprotech_core.ops.logs import JsonFormatter, SecretScrubber, register_secret, scrub
from reprotech_core.settings import Settings
from reprotech_core.uploads import UploadRefused, check_upload, private_copy


@pytest.mark.parametrize(("line", "secret"), [
    ("connect postgresql+psycopg://reprotech_app:s3cr3t-Pa55@127.0.0.1:5432/db failed",
     "s3cr3t-Pa55"),
    ("PGPASSWORD=hunter2hunter2 pg_dump", "hunter2hunter2"),
    ("GET /hub/api?token=abcdef0123456789abcdef", "abcdef0123456789abcdef"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9.payload.sig"),
    ("{'password': 'correct horse'}", "correct"),
    ("client_secret=oidc-very-secret", "oidc-very-secret"),
    ("otpauth://totp/Reprotech:ann?secret=JBSWY3DPEHPK3PXP&issuer=R", "JBSWY3DPEHPK3PXP"),
])
def test_secret_shapes_are_masked(line, secret):
    assert secret not in scrub(line) and "***" in scrub(line)


def test_ordinary_lines_are_left_alone():
    line = "backup 20261203T070000Z: 42 tables, 1234 rows in 1.2 s (password policy ok)"
    assert scrub(line) == line


def record_through(handler_format, message, *args, exc=None, **extra):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretScrubber())
    handler.setFormatter(handler_format)
    logger = logging.getLogger("reprotech.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is not None:
            try:
                raise exc
            except Exception:
                logger.exception(message, *args, extra=extra)
        else:
            logger.warning(message, *args, extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_arguments_tracebacks_and_registered_values_are_scrubbed_in_json_logs():
    register_secret("the-metrics-token-value")
    out = record_through(
        JsonFormatter(), "calling %s with %s", "postgresql://u:topsecret1@h/db",
        "the-metrics-token-value",
        exc=RuntimeError("could not connect to postgresql://u:topsecret1@h/db"), job="backup")
    assert "topsecret1" not in out and "the-metrics-token-value" not in out
    event = json.loads(out)
    assert event["level"] == "ERROR" and event["job"] == "backup"
    assert "RuntimeError" in event["exception"] and "***" in event["message"]


def test_text_logs_are_scrubbed_too():
    out = record_through(logging.Formatter("%(message)s"), "url=%s", "https://a:b1c2d3e4@x/")
    assert "b1c2d3e4" not in out


# Uploads ---------------------------------------------------------------------------------------
def test_uploads_are_checked_before_parsing(tmp_path):
    good = tmp_path / "ok.txt"
    good.write_text("[Header]\nGSGT Version\t2.0.5\n[Data]\n")
    assert check_upload(good, max_bytes=1024) == good.stat().st_size
    big = tmp_path / "big.txt"
    big.write_text("[Header]\n" + "x" * 5000)
    with pytest.raises(UploadRefused, match=r"big.txt: .* larger than the upload limit"):
        check_upload(big, max_bytes=4096)
    import gzip

    packed = tmp_path / "ok.txt.gz"  # labs send FinalReports gzipped: the inside is checked
    packed.write_bytes(gzip.compress(good.read_bytes()))
    assert check_upload(packed, max_bytes=1024) == packed.stat().st_size
    cases = {"empty.txt": b"", "broken.txt.gz": b"\x1f\x8b\x08\x00rest",
             "csv.txt.gz": gzip.compress(b"animal,call\n1,AB\n"),
             "zipped.zip": b"PK\x03\x04rest",
             "binary.txt": b"[Header]\x00\x01", "csv.txt": b"animal,call\n1,AB\n"}
    expected = {"empty.txt": "empty", "broken.txt.gz": "damaged gzip",
                "csv.txt.gz": "not a finalreport", "zipped.zip": "zip-compressed",
                "binary.txt": "binary content", "csv.txt": "not a finalreport"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UploadRefused, match=expected[name]):
            check_upload(tmp_path / name, max_bytes=4096)
    (tmp_path / "link.txt").symlink_to(good)
    with pytest.raises(UploadRefused, match="not a regular file"):
        check_upload(tmp_path / "link.txt", max_bytes=4096)


def test_table_uploads_are_checked_by_kind(tmp_path):
    """csv: text in UTF-8 (BOM or not), UTF-16/32; xlsx: a zip only, not a bomb; each refusal
    says what the file is instead."""
    import io
    import zipfile

    from openpyxl import Workbook

    book = io.BytesIO()
    Workbook().save(book)
    text = "event,animal\ninsemination,Zoë\n"
    accepted = {"a.csv": text.encode(), "b.csv": text.encode("utf-8-sig"),
                "c.csv": text.encode("utf-16"), "d.csv": text.encode("utf-16-le"),
                "e.csv": text.encode("utf-32"), "f.xlsx": book.getvalue()}
    for name, content in accepted.items():
        (tmp_path / name).write_bytes(content)
        kind = "xlsx" if name.endswith(".xlsx") else "csv"
        assert check_upload(tmp_path / name, max_bytes=2**20, kind=kind) == len(content)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"a" * 3_000_000)
    encrypted = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptionInfo".encode("utf-16-le")
    refused = {
        ("book.csv", "csv"): (book.getvalue(), "an Excel workbook .* not CSV text: name it .xlsx"),
        ("nul.csv", "csv"): (b"event,animal\nx,\x00y\n", "nul.csv, line 2: binary content"),
        ("gz.csv", "csv"): (b"\x1f\x8b\x08rest", "gzip-compressed file, not text"),
        ("text.xlsx", "xlsx"): (text.encode(), "a text file, not an Excel workbook: name it .csv"),
        ("locked.xlsx", "xlsx"): (encrypted, r"password-protected \(encrypted\) workbook"),
        ("old.xlsx", "xlsx"): (encrypted[:8] + bytes(64), r"Excel 97-2003 \(.xls\)"),
        ("broken.xlsx", "xlsx"): (b"PK\x03\x04" + bytes(40), "a damaged zip file"),
        ("bomb.xlsx", "xlsx"): (bomb.getvalue(), "expands to 3 MiB, more than 10 times the "
                                                 "upload limit"),
    }
    for (name, kind), (content, message) in refused.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UploadRefused, match=message):
            check_upload(tmp_path / name, max_bytes=200_000, kind=kind)
    with pytest.raises(UploadRefused, match=r"^events.csv: not a regular file"):
        check_upload("/dev/null", max_bytes=1024, kind="csv", name="events.csv")
    with pytest.raises(ValueError, match="kind must be one of"):
        check_upload(tmp_path / "a.csv", max_bytes=1024, kind="pdf")


def test_lab_ingest_refuses_an_oversized_file_naming_the_setting(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    big = tmp_path / "plate.txt"
    big.write_text("[Header]\n" + "SNP\tSample\n" * 200_000)  # ~2.4 MB
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(tmp_path), REPROTECH_UPLOAD_MAX_MB="1")
    out = subprocess.run([str(Path(sys.executable).with_name("python")), "-c",
                          "from reprotech_core.store.ingest import ingest_finalreport as f\n"
                          "import sys\n"
                          "f(None, None, [sys.argv[1]], None, batch_name='B')", str(big)],
                         env=env, capture_output=True, text=True)
    assert "UploadRefused" in out.stderr and "upload_max_mb" in out.stderr
    assert Settings(upload_max_mb=1).upload_max_mb == 1


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_traitlets_application_like_the_hub_logs_through_the_scrubber(log_format, capsys):
    from traitlets.config import Application

    from reprotech_core.ops.logs import traitlets_logging_config

    class Hubish(Application):
        pass

    app = Hubish()
    app.logging_config = traitlets_logging_config(Settings(log_format=log_format))
    app._configure_logging()
    app.log.warning("proxy at http://hub:Sup3rS3cretPw@127.0.0.1:8001 answered")
    err = capsys.readouterr().err
    assert "Sup3rS3cretPw" not in err and "***" in err
    if log_format == "json":
        assert json.loads(err.strip().splitlines()[-1])["logger"] == "Hubish"


def test_a_private_copy_is_ours_alone_and_gone_afterwards():
    with private_copy(b"official_id\n", suffix=".csv") as path:
        assert path.name == "upload.csv" and path.read_bytes() == b"official_id\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.exists() and not path.parent.exists()
