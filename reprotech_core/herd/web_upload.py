"""A herd register or a records file from a page: dry run first, then commit.

The "Herd files" page (``dashboards/customer/herd_files.py``) calls these functions and nothing
else, and they call the very functions behind ``reprotech herd import`` and ``reprotech records
import`` (:func:`~reprotech_core.herd.register_import.import_register`,
:func:`~reprotech_core.records.performance_import.import_records`): the same rules, the same
report, all or nothing, a file imported twice changes nothing, whichever way it came in.

What a browser adds is only this. Its bytes are checked against the web upload limit (setting
``upload_web_max_mb``) and written under a name of our own to a private temporary folder
(:func:`reprotech_core.uploads.private_copy`; the browser's file name labels the report and
places nothing); the import's own upload checks then run as for a file on disk. A person reads
the dry run's report before anything is written, so :func:`judge_upload` is called twice with
the same bytes: once with ``commit=False`` (nothing written: the import writes only when asked)
and once with ``commit=True``, which judges the file again in the writing transaction, so a
change made in between (another upload, a form) is judged, not overwritten blindly.

Who may import for whom is the database's decision: the customer is looked up among the farms
row security shows the user (a vet's or technician's assigned customers, a customer admin's
own), so a forged code is simply "not found"; the writes need ``animals:write`` (row security
again) and are audited with the reason "<kind> uploaded from <file> (page)".
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data_models.tenancy import Customer
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.herd import register_import
from reprotech_core.herd.report import RegisterReport
from reprotech_core.records import performance_import
from reprotech_core.records.performance_import import RecordsReport
from reprotech_core.reproduction.forms import farms_for_entry, upload_name
from reprotech_core.roles import has_permission
from reprotech_core.settings import get_settings
from reprotech_core.reproduction.bulk_import import RowError
from reprotech_core.table_files import EXCEL_SUFFIXES, TableError
from reprotech_core.uploads import UploadRefused, private_copy

#: What the page offers: the register and the records kinds of ``reprotech records import``.
KINDS: dict[str, str] = {
    "register": "herd register",
    "lactations": "lactation records",
    "health": "health events",
    "traits": "trait records",
}
SUFFIXES = (".csv", ".txt", *EXCEL_SUFFIXES)


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it: its name (a label only) and its bytes."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Options:
    """The register's options (the records import has none)."""

    create_parents: bool = False
    create_herds: bool = False


@dataclass(frozen=True)
class Result:
    """One judgement of an uploaded file, in the words every kind shares; ``frame`` is the
    import report's own ``to_frame()`` (the CSV download, refused rows with line, column and
    rule)."""

    kind: str
    file: str
    ok: bool
    written: bool
    writes: int  # new and changed rows (records: values), placeholders and herds
    problems: int
    summary: str
    notes: tuple[str, ...]
    frame: pd.DataFrame

    @property
    def may_commit(self) -> bool:
        """A clean dry run with something to write."""
        return self.ok and not self.written and self.writes > 0

    def shown(self) -> pd.DataFrame:
        """The rows a person reads on the page: new, changed and refused (a records file's
        unchanged values are in the download only)."""
        status = self.frame.get("status")
        return self.frame if status is None else self.frame[status != "unchanged"]

    def csv(self) -> bytes:
        """The full report as the CSV download."""
        return self.frame.to_csv(index=False).encode("utf-8")


def require_animals_write(session: Session) -> None:
    """Refuse actors who may not write animals (a customer's users read, they do not import)."""
    if not has_permission(session, "animals:write"):
        raise PermissionDenied("importing a herd's files needs the animals:write permission")


def upload_customers(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the farms the user may import for, as row security shows them."""
    require_animals_write(session)
    return farms_for_entry(session)


def line_estimate(upload: Upload) -> int | None:
    """Rows of a text table for a progress bar (its line breaks); unknown for a workbook."""
    if Path(upload.name).suffix.lower() in EXCEL_SUFFIXES:
        return None
    return upload.content.count(b"\n") or None


def template(kind: str) -> bytes:
    """The import template of ``kind``: the file the CLI's ``template`` commands write."""
    with tempfile.TemporaryDirectory(prefix="reprotech-template-") as folder:
        path = Path(folder) / f"{kind}-template.csv"
        if kind == "register":
            register_import.write_template(path)
        else:
            performance_import.write_template(kind, path)
        return path.read_bytes()


def judge_upload(db: Database, identity: Identity, customer_code: str, upload: Upload, *,
                 kind: str, commit: bool, options: Options = Options(),
                 progress: Callable[[int], None] | None = None) -> Result:
    """Judge ``upload`` as a ``kind`` file for the customer; write it when ``commit`` and clean.

    Raises :class:`NotFound` for a customer the user may not import for,
    :class:`PermissionDenied` without ``animals:write``, :class:`RuleViolation` for an upload
    refused before reading (``upload.*``: type, size, empty, not a table of its name). Every
    later problem is in the result, with line, column and rule, and nothing is written."""
    if kind not in KINDS:
        raise RuleViolation("upload.kind", f"choose one of: {', '.join(KINDS.values())}")
    name = upload_name(upload.name)
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise RuleViolation("upload.file_type", f"{name}: upload a .csv, .txt or .xlsx file")
    limit = get_settings().web_upload_max_bytes
    if len(upload.content) > limit:
        raise RuleViolation("upload.file_size", f"{name}: {len(upload.content):,} bytes is over "
                            f"the {limit:,}-byte limit of an upload; staff import bigger "
                            "files with `reprotech herd import` / `reprotech records import`")
    if not upload.content:
        raise RuleViolation("upload.empty", f"{name}: the file is empty")
    reason = f"{KINDS[kind]} uploaded from {name} (page)"
    with db.session(identity, reason=reason) as session:
        require_animals_write(session)
        farm = _farm(session, customer_code)
        with private_copy(upload.content, suffix=suffix) as path:
            try:
                if kind == "register":
                    report = register_import.import_register(
                        session, farm, path, name=name, max_bytes=limit, dry_run=not commit,
                        create_parents=options.create_parents,
                        create_herds=options.create_herds, progress=progress)
                    return _of_register(report)
                records = performance_import.import_records(
                    session, farm, path, kind=kind, dry_run=not commit, name=name,
                    max_bytes=limit, progress=progress)
                return _of_records(records)
            except TableError as unreadable:  # the records import raises what it cannot read
                return _of_records(RecordsReport(name, kind, errors=[RowError(
                    unreadable.line or 0, str(unreadable.column or ""), unreadable.rule,
                    str(unreadable))]))
            except UploadRefused as refused:
                raise RuleViolation("upload.refused", str(refused)) from None


def _farm(session: Session, code: str) -> Customer:
    """The farm ``code`` if row security shows it to the user; else "not found" (a code the
    user may not see, a reference catalogue, or none at all are not told apart)."""
    if code not in {c for c, _ in farms_for_entry(session)}:
        raise NotFound(f"no customer {code!r}")
    return session.scalars(select(Customer).where(Customer.code == code)).one()


def _of_register(report: RegisterReport) -> Result:
    j = report.judgement
    writes = len(j.new) + report.changed_animals + len(j.placeholders) + len(j.new_herds)
    return Result("register", report.file, report.ok, report.written, writes,
                  len(report.problems), report.summary(), tuple(report.notes()),
                  report.to_frame())


def _of_records(report: RecordsReport) -> Result:
    counts = report.summary()
    writes = counts["new"] + counts["changed"]
    outcome = ("refused; nothing written" if not report.ok
               else "nothing to write" if not writes
               else "written" if report.written else "would be written (dry run)")
    summary = (f"{report.file}: {report.rows:,} rows read; records "
               + ", ".join(f"{n:,} {s}" for s, n in counts.items()) + f"; {outcome}")
    return Result(report.kind, report.file, report.ok, report.written, writes,
                  len(report.errors), summary, (), report.to_frame())

