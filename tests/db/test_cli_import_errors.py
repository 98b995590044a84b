"""Bad files through the `reprotech` command: a clean message naming file and line, a
non-zero exit, no traceback, and nothing in `core.*` changed.

Every case runs the command's real entry point (``reprotech.cli.main``: argument
parsing, the command, the error printing and exit code) on the suite's PostgreSQL. The
installed console script in a subprocess, pointed at that database through the environment as
on a server, runs a few of them end to end (it takes ~10 s to start on this machine, so not all).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pytest

from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, register_animals
from tests.support import run_cli, workbook

BIN = Path(sys.executable).with_name("reprotech")
CUSTOMER = "cli-imp"
EVENTS = "event,animal,date,bull,technician\n"
GOOD_ROW = "insemination,CI-C1,2024-03-04,CI-BULL,T1\n"


def core_counts(conninfo: str) -> dict[str, int]:
    """Rows of every table of the ``core`` schema, counted by the administrative login (no row
    security), to prove a refused import stored nothing anywhere."""
    with psycopg.connect(conninfo) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'core' ORDER BY 1")]
        return {t: conn.execute(f'SELECT count(*) FROM core."{t}"').fetchone()[0]
                for t in tables}


@pytest.fixture(scope="module")
def cli_env(pg_settings, db, system) -> dict[str, str]:
    """The environment of a `reprotech` process on the suite's cluster, with one farm."""
    with db.session(system) as s:
        farm = accounts.create_customer(s, code=CUSTOMER, name="CLI import farm",
                                        tier="professional")
        accounts.create_herd(s, customer=farm, code="cli-imp-h", name="Main")
        register_animals(s, farm, [
            AnimalRecord("CI-C1", "Holstein", "F", date(2020, 1, 1), herd_code="cli-imp-h"),
            AnimalRecord("CI-C2", "Holstein", "F", date(2020, 2, 1), herd_code="cli-imp-h"),
            AnimalRecord("CI-BULL", "Holstein", "M", date(2018, 1, 1), herd_code="cli-imp-h")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECH_")}
    env.update(REPROTECH_HOME=str(pg_settings.home), REPROTECH_DATA_DIR=str(pg_settings.var_dir),
               REPROTECH_DB_HOST=pg_settings.db_host, REPROTECH_DB_PORT=str(pg_settings.db_port),
               COLUMNS="400")
    return env


def reprotech(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The installed console script, as a person runs it."""
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def cli(cli_env, pg_settings, monkeypatch, capsys) -> Callable[..., tuple[int, str]]:
    """``cli(*args)``: (exit code, stdout + stderr) of ``reprotech *args`` through its entry
    point in this process, on the suite's database."""
    return lambda *args: run_cli(monkeypatch, capsys, pg_settings, *args)


ENCRYPTED = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptionInfo".encode("utf-16-le")
             + bytes(512))  # the OLE2 container Office writes for a password-protected workbook

# name, content, what the message must say (after "error: ")
REPRO_CASES = [
    ("latin1.csv", (EVENTS + "insemination,CI-C1,2024-03-04,CI-BULL,B\xe9atrice\n").encode("cp1252"),
     "latin1.csv, line 2, column 40: byte 0xE9 is not UTF-8; save the file as UTF-8"),
    ("nul.csv", (EVENTS + GOOD_ROW).encode() + b"insemination,CI-C2,2024-03-05,CI\x00,T1\n",
     "nul.csv, line 3: binary content (NUL bytes)"),
    ("huge-field.csv", (EVENTS + "insemination,CI-C1,2024-03-04,CI-BULL,").encode()
     + b"T" * 200_000 + b"\n", "huge-field.csv, line 2: a field longer than 131,072 characters"),
    ("long-value.csv", (EVENTS + "insemination,CI-C1,2024-03-04,CI-BULL," + "T" * 65 + "\n"
                        ).encode(),
     "long-value.csv, line 2, column technician: 65 characters; technician holds at most 64"),
    ("ragged.csv", (EVENTS + GOOD_ROW + "insemination,CI-C2,2024-03-05,CI-BULL,T1,x\n").encode(),
     "ragged.csv, line 3, column 6: 6 fields, but the header on line 1 names 5 columns"),
    ("short.csv", (EVENTS + "insemination,CI-C2,2024-03-05\n").encode(),
     "short.csv, line 2: 3 fields, but the header on line 1 names 5 columns"),
    ("quote.csv", (EVENTS + 'insemination,CI-C1,2024-03-04,"CI-BULL,T1\n' + GOOD_ROW).encode(),
     "quote.csv, line 2: a quoted field is not closed before the end of the file"),
    ("header-only.csv", EVENTS.encode(), "header-only.csv: no rows below the header on line 1"),
    ("empty.csv", b"", "empty.csv: the file is empty"),
    ("blank.csv", b"\r\n \r\n", "blank.csv: the file has no header line"),
    ("text.xlsx", (EVENTS + GOOD_ROW).encode(), "text.xlsx: a text file, not an Excel workbook"),
    ("damaged.xlsx", b"PK\x03\x04" + bytes(200), "damaged.xlsx: a damaged zip file"),
    ("locked.xlsx", ENCRYPTED, "locked.xlsx: a password-protected (encrypted) workbook"),
    ("sheets.xlsx", workbook([EVENTS.strip().split(","), GOOD_ROW.strip().split(",")], 2),
     "sheets.xlsx: the workbook has 2 sheets ('Sheet', 'Sheet2')"),
    ("workbook.csv", workbook([EVENTS.strip().split(",")]),
     "workbook.csv: an Excel workbook (or another zip file), not CSV text: name it .xlsx"),
    ("semicolon.csv", (EVENTS + GOOD_ROW).replace(",", ";").encode(),
     "semicolon.csv, line 1: this file is separated by semicolons (European Excel): save it as "
     "'CSV UTF-8 (comma delimited)' or as .xlsx"),
    ("title.csv", ("Breeding events 2024\n" + EVENTS + GOOD_ROW).encode(),
     "title.csv, line 1, column 1: this line holds one value ('Breeding events 2024') and line 2 "
     "holds 5: a title or merged row above the header?"),
    ("formula.xlsx", workbook([EVENTS.strip().split(","),
                               ["insemination", "CI-C1", "=TODAY()", "CI-BULL", "T1"]]),
     "formula.xlsx, line 2, column date: the formula '=TODAY()' has no calculated value"),
]


def assert_refused(code: int, output: str, message: str) -> None:
    assert code != 0, output
    assert message in " ".join(output.split()), output
    assert "Traceback" not in output


@pytest.mark.parametrize(("name", "content", "message"), REPRO_CASES,
                         ids=[c[0] for c in REPRO_CASES])
def test_repro_import_refuses_a_bad_file_cleanly(cli, admin_conninfo, tmp_path, name, content,
                                                 message):
    (tmp_path / name).write_bytes(content)
    before = core_counts(admin_conninfo)
    assert_refused(*cli("repro", "import", str(tmp_path / name), "--customer", CUSTOMER),
                   message)
    assert core_counts(admin_conninfo) == before


def test_repro_import_refuses_links_and_devices(cli, admin_conninfo, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(EVENTS + GOOD_ROW)
    (tmp_path / "link.csv").symlink_to(good)
    before = core_counts(admin_conninfo)
    for path, message in [(tmp_path / "link.csv", "link.csv: not a regular file"),
                          (Path("/dev/zero"), "zero: not a regular file")]:
        assert_refused(*cli("repro", "import", str(path), "--customer", CUSTOMER), message)
    assert core_counts(admin_conninfo) == before


def test_repro_import_reads_utf16_and_a_bom(cli, admin_conninfo, tmp_path):
    """Unambiguous encodings are decoded, not refused: UTF-16 (Excel's "Unicode text") with
    and without BOM, UTF-8 with BOM."""
    before = core_counts(admin_conninfo)
    header = EVENTS.replace("\n", ",method,result\n")
    rows = ["insemination,CI-C1,2024-03-04,CI-BULL,T1,,\n",
            "insemination,CI-C2,2024-03-05,CI-BULL,Zoë,,\n",
            "pregnancy_check,CI-C1,2024-04-20,,Zoë,ultrasound,pregnant\n"]
    for n, (codec, row) in enumerate(zip(("utf-16", "utf-16-le", "utf-8-sig"), rows,
                                         strict=True)):
        path = tmp_path / f"events{n}.csv"
        path.write_bytes((header + row).encode(codec))
        code, output = cli("repro", "import", str(path), "--customer", CUSTOMER)
        assert code == 0 and "1 rows read; imported 1" in output, output
    after = core_counts(admin_conninfo)
    assert after["inseminations"] == before["inseminations"] + 2
    assert after["pregnancy_diagnoses"] == before["pregnancy_diagnoses"] + 1


SAMPLE_CASES = [
    ("latin1.csv", "barcode,animal,tissue\nB\xe9-1,CI-C1,hair\n".encode("latin-1"),
     "latin1.csv, line 2, column 2: byte 0xE9 is not UTF-8; save the file as UTF-8"),
    ("nul.csv", b"barcode,animal\nB-1,CI-C1\nB-2\x00,CI-C2\n", "nul.csv, line 3: binary content"),
    ("long.csv", ("barcode,animal\n" + "B" * 65 + ",CI-C1\n").encode(),
     "long.csv, line 2, column barcode: 65 characters; barcode holds at most 64"),
    ("ragged.csv", b"barcode,animal\nB-1,CI-C1\nB-2,CI-C2,hair,x\n",
     "ragged.csv, line 3, column 3: 4 fields, but the header on line 1 names 2 columns"),
    ("header-only.csv", b"barcode,animal\n", "header-only.csv: no rows below the header"),
    ("twice.csv", b"barcode,animal\nB-1,CI-C1\nB-1,CI-C2\n",
     "twice.csv, line 3, column barcode: barcode 'B-1' is also on line 2"),
    ("no-animal.csv", b"barcode,animal\nB-1,\n", "no-animal.csv, line 2, column animal: is empty"),
    ("columns.csv", b"code,animal\nB-1,CI-C1\n", "columns.csv, line 1: missing column(s) barcode"),
    ("workbook.csv", workbook([["barcode", "animal"], ["B-1", "CI-C1"]]),
     "workbook.csv: an Excel workbook (or another zip file), not CSV text"),
    ("quote.csv", b'barcode,animal\n"B-1"x,CI-C1\n', "quote.csv, line 2: text after a closing "
                                                      "quote"),
]


@pytest.mark.parametrize(("name", "content", "message"), SAMPLE_CASES,
                         ids=[c[0] for c in SAMPLE_CASES])
def test_lab_samples_refuses_a_bad_sheet_cleanly(cli, admin_conninfo, tmp_path, name, content,
                                                 message):
    (tmp_path / name).write_bytes(content)
    before = core_counts(admin_conninfo)
    assert_refused(*cli("lab", "samples", str(tmp_path / name), "--customer", CUSTOMER),
                   message)
    assert core_counts(admin_conninfo) == before


def test_lab_samples_from_utf16_text_with_tissue(cli, admin_conninfo, tmp_path):
    sheet = tmp_path / "received.csv"
    sheet.write_bytes("barcode,animal,tissue\nCI-S1,CI-C1,hair\nCI-S2,CI-C2,\n".encode("utf-16"))
    code, output = cli("lab", "samples", str(sheet), "--customer", CUSTOMER)
    assert code == 0 and "2 new sample(s) registered" in output, output
    before = core_counts(admin_conninfo)
    code, output = cli("lab", "samples", str(sheet), "--customer", CUSTOMER)  # sent again
    assert code == 0 and "0 new sample(s) registered; 2 registered before; nothing to write" \
        in output, output
    assert core_counts(admin_conninfo) == before
    with psycopg.connect(admin_conninfo) as conn:
        stored = dict(conn.execute("SELECT barcode, tissue FROM core.samples "
                                   "WHERE barcode LIKE 'CI-S%'").fetchall())
    assert stored == {"CI-S1": "hair", "CI-S2": None}
    link = tmp_path / "link.csv"
    link.symlink_to(sheet)
    assert_refused(*cli("lab", "samples", str(link), "--customer", CUSTOMER),
                   "link.csv: not a regular file")


def test_the_console_script_refuses_bad_files_cleanly(cli_env, admin_conninfo, tmp_path):
    """End to end through the installed `reprotech` script in its own process, configured by
    the environment only: a non-UTF-8 event file, a sample sheet with a NUL byte, a file over
    the upload limit set by REPROTECH_UPLOAD_MAX_MB."""
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(REPRO_CASES[0][1])
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"barcode,animal\nB-1,CI-C1\nB-2\x00,CI-C2\n")
    big = tmp_path / "big.csv"
    big.write_text(EVENTS + GOOD_ROW * 40_000)  # 1.6 MB
    before = core_counts(admin_conninfo)
    for env, args, message in [
        (cli_env, ("repro", "import", str(latin)), REPRO_CASES[0][2]),
        (cli_env, ("lab", "samples", str(nul)), "nul.csv, line 3: binary content"),
        ({**cli_env, "REPROTECH_UPLOAD_MAX_MB": "1"}, ("repro", "import", str(big)),
         "big.csv: 1.6 MiB is larger than the upload limit of 1 MiB (setting upload_max_mb)"),
    ]:
        result = reprotech(env, *args, "--customer", CUSTOMER)
        assert_refused(result.returncode, result.stdout + result.stderr, message)
        assert message in " ".join(result.stderr.split())  # the error goes to stderr
    assert core_counts(admin_conninfo) == before


def test_lab_ingest_takes_snp_map_txt_as_the_map(cli, admin_conninfo, tmp_path):
    """GenomeStudio's SNP_Map.txt as `--map` (told from a manifest by its header, the panel
    named by the FinalReport's Content); a bad map row is refused by line, column and rule
    and stores nothing; the same export again changes nothing."""
    import numpy as np

    from reprotech_core.genomics.finalreport_write import write_finalreport
    from reprotech_core.genomics.packing import pack
    from reprotech_core.genomics.snpmap import GenotypeSet
    from tests.genomics.test_illumina_map import chip, write_snp_map

    sheet = tmp_path / "received.csv"
    sheet.write_text("barcode,animal\nCI-M1,CI-C1\nCI-M2,CI-C2\n")
    assert cli("lab", "samples", str(sheet), "--customer", CUSTOMER)[0] == 0
    snps, bot = chip(30, seed=4)
    calls = np.random.default_rng(4).integers(0, 3, size=(2, 30)).astype(np.int8)
    report = write_finalreport(GenotypeSet(pack(calls), np.array(["CI-M1", "CI-M2"]), snps),
                               tmp_path / "FinalReport.txt", chip="CliChip30")
    write_snp_map(snps, bot, tmp_path / "SNP_Map.txt")
    bad = tmp_path / "bad_map.txt"
    lines = (tmp_path / "SNP_Map.txt").read_text().splitlines()
    lines[2] = lines[2].replace("[", "(", 1)
    bad.write_text("\n".join(lines) + "\n")
    before = core_counts(admin_conninfo)
    assert_refused(*cli("lab", "ingest", str(report), "--batch", "CI-MAP", "--map", str(bad)),
                   "bad_map.txt, line 3, column 'SNP'")
    assert "[rule snpmap.alleles]" in cli("lab", "ingest", str(report), "--batch", "CI-MAP",
                                          "--map", str(bad))[1]
    assert core_counts(admin_conninfo) == before
    code, output = cli("lab", "ingest", str(report), "--batch", "CI-MAP",
                       "--map", str(tmp_path / "SNP_Map.txt"))
    assert code == 0 and "batch CI-MAP: 2 samples stored" in output, output
    with psycopg.connect(admin_conninfo) as conn:
        assert conn.execute("SELECT n_snps FROM core.snp_panels WHERE name = 'CliChip30'"
                            ).fetchone() == (30,)
    stored = core_counts(admin_conninfo)
    code, output = cli("lab", "ingest", str(report), "--batch", "CI-MAP",
                       "--map", str(tmp_path / "SNP_Map.txt"))
    assert code == 0 and "ingested before; nothing changed" in output, output
    assert core_counts(admin_conninfo) == stored


def test_records_import_refuses_a_200_mb_file_by_its_size(cli, admin_conninfo, tmp_path,
                                                          pg_settings, monkeypatch):
    """A sparse 200 MB file over upload_max_mb (100 MiB here) is refused before it is read,
    with its rule's message and no traceback, and nothing changes."""
    from reprotech_core.records import performance_import

    monkeypatch.setattr(performance_import, "get_settings",
                        lambda: pg_settings.model_copy(update={"upload_max_mb": 100}))
    path = tmp_path / "lactations.csv"
    path.write_text("animal,lactation,calving_date,milk_kg\nCI-C1,1,2023-01-05,9000\n")
    os.truncate(path, 200 * 2**20)
    before = core_counts(admin_conninfo)
    assert_refused(*cli("records", "import", str(path), "--customer", CUSTOMER),
                   "lactations.csv: 200.0 MiB is larger than the upload limit of 100 MiB "
                   "(setting upload_max_mb)")
    assert core_counts(admin_conninfo) == before
