"""The lab's files from a page: received samples (barcode -> animal) and FinalReport exports.

The page (``dashboards/staff/lab_files.py``) calls these functions and nothing else, and they
call the very functions behind ``reprotech lab samples`` and ``reprotech lab ingest``
(:mod:`reprotech_core.store.samples`, :mod:`reprotech_core.store.ingest`), so a sheet or an
export is judged by the same rules, all or nothing, and a file ingested twice changes nothing,
whichever way it came in. What a browser adds is only this: its bytes are written under names
of our own in a private temporary folder (the browser's file name labels the report and places
nothing), after the web upload limit (setting ``upload_web_max_mb``); then the same upload
checks run as for a file on disk.

Who may do what is the database's decision (row security): a technician registers samples for
assigned customers (``lab:write``); storing genotypes takes ``genotypes:write`` (lab operations,
administrators), and :func:`may_ingest` lets the page say so before anyone uploads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data_models.lab import Genotype, GenotypingBatch, SnpPanel
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.finalreport_header import read_header
from reprotech_core.genomics.illumina_map import read_chip_map
from reprotech_core.genomics.manifest import PanelManifest
from reprotech_core.reproduction.forms import customer, farms_for_entry, upload_name
from reprotech_core.roles import has_permission
from reprotech_core.settings import get_settings
from reprotech_core.store.ingest import IngestReport, ingest_finalreport
from reprotech_core.store.panels import load_panel
from reprotech_core.store.samples import (
    SHEET_COLUMNS,
    Registered,
    read_sample_sheet,
    register_samples,
)
from reprotech_core.uploads import UploadRefused, check_upload

#: The typed form's columns, in order (a scanner types the barcode, then the animal).
TYPED_COLUMNS = SHEET_COLUMNS
SHEET_SUFFIXES = (".csv", ".txt", ".xlsx")


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it: its name (a label only) and its bytes."""

    name: str
    content: bytes


@dataclass(frozen=True)
class BatchResult:
    """What one upload of a FinalReport export did, for the page's result table."""

    batch: str
    files: str
    samples: int  # stored (or stored before, when the export was ingested before)
    snps: int
    mean_call_rate: float | None
    outcome: str  # "stored", "ingested before; nothing changed", or "refused"
    reason: str = ""


def require_lab_write(session: Session) -> None:
    """Refuse actors who may not register samples (the page is the lab's)."""
    if not has_permission(session, "lab:write"):
        raise PermissionDenied("the lab files page needs the lab:write permission")


def may_ingest(session: Session) -> bool:
    """Whether the signed-in user may store genotypes (row security decides again)."""
    return has_permission(session, "genotypes:write")


def sample_customers(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the farms whose samples the user may register (row security)."""
    require_lab_write(session)
    return farms_for_entry(session)


def stored_panels(session: Session) -> list[str]:
    """Names of the chips stored before (an export on a known chip needs no map file)."""
    return list(session.scalars(select(SnpPanel.name).order_by(SnpPanel.name)))


def register_sample_upload(session: Session, customer_code: str, upload: Upload
                           ) -> Registered:
    """Register the samples of an uploaded sheet (CSV or Excel) for a customer; barcode -> id."""
    require_lab_write(session)
    farm = customer(session, customer_code)
    name = upload_name(upload.name)
    suffix = Path(name).suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        raise RuleViolation("samples.file_type",
                            f"{name}: upload a .csv, .txt (scanner) or .xlsx sample sheet")
    with _stored([upload]) as (paths, limit):
        rows = read_sample_sheet(paths[0], max_bytes=limit, name=name)
    return register_samples(session, farm, rows)


def register_typed_samples(session: Session, customer_code: str, typed: str) -> Registered:
    """Register samples typed (or scanned) one per line as ``barcode, animal[, tissue]``.

    The lines become a sample sheet with the header ``barcode,animal,tissue`` (a tab, which a
    scanner types between fields, counts as a comma) and are read by the sheet's own reader, so
    line 2 of the report is the first typed line.
    """
    require_lab_write(session)
    lines = [line.replace("\t", ",").strip() for line in typed.splitlines()]
    body = [line for line in lines if line]
    if not body:
        raise RuleViolation("samples.empty", "type one sample per line: barcode, animal")
    sheet = ",".join(TYPED_COLUMNS) + "\n" + "\n".join(
        line + "," * (len(TYPED_COLUMNS) - 1 - line.count(",")) for line in body) + "\n"
    return register_sample_upload(session, customer_code,
                                  Upload("typed samples.csv", sheet.encode("utf-8")))


def ingest_uploads(
    db: Database, identity: Identity, reports: Sequence[Upload], *, batch: str,
    map_file: Upload | None = None, panel: str | None = None, allow_unknown: bool = False,
    progress: Callable[[str], None] = lambda _step: None,
) -> BatchResult:
    """Ingest uploaded FinalReport file(s) of one export as batch ``batch``, on an uploaded
    map (manifest or SNP_Map.txt, told apart by header) or a stored panel.

    Refusals (:class:`~reprotech_core.errors.RuleViolation`, file errors) propagate with their
    rule and place; ``progress`` hears each step's name while the work runs.
    """
    if not batch.strip():
        raise RuleViolation("ingest.batch", "name the batch (plate) first")
    if not reports:
        raise RuleViolation("ingest.no_file", "choose the FinalReport file(s) of the export")
    if (map_file is None) == (panel is None):
        raise RuleViolation("ingest.map", "give the chip's map (manifest or SNP_Map.txt) or "
                                          "choose a stored panel")
    with db.session(identity) as session:
        if not may_ingest(session):
            raise PermissionDenied("storing genotypes needs the genotypes:write permission "
                                   "(lab operations); register the samples and ask them")
        chip = None if panel is None else _stored_panel(session, panel)
    names = [upload_name(r.name) for r in reports]
    with _stored(reports) as (paths, _limit):
        progress("checking the files")
        headers = [read_header(p) for p in paths]
        if map_file is not None:
            with _stored([map_file]) as (map_paths, limit):
                progress("reading the map")
                check_upload(map_paths[0], max_bytes=limit, kind="csv")
                chip = read_chip_map(map_paths[0], finalreport=paths[0])
        assert chip is not None
        progress(f"reading {len(paths)} file(s) and storing batch {batch}")
        report = ingest_finalreport(db, identity, paths, chip, batch_name=batch,
                                    allow_unknown=allow_unknown)
    progress("done")
    with db.session(identity) as session:
        rate = _mean_call_rate(session, report)
    outcome = "ingested before; nothing changed" if report.already_ingested else "stored"
    reason = "; ".join(report.lines()[1:])
    return BatchResult(report.batch, ", ".join(names), report.stored,
                       max(h.num_snps for h in headers), rate, outcome, reason)


def refused(batch: str, reports: Sequence[Upload], exc: Exception) -> BatchResult:
    """The result row of a refused upload: nothing stored, the reason in the refusal's words."""
    rule = getattr(exc, "rule", None)
    return BatchResult(batch, ", ".join(upload_name(r.name) for r in reports), 0, 0, None,
                       "refused", f"{rule}: {exc}" if rule and rule not in str(exc) else str(exc))


def _stored_panel(session: Session, name: str) -> PanelManifest:
    pid = session.scalar(select(SnpPanel.id).where(SnpPanel.name == name))
    if pid is None:
        raise NotFound(f"no stored panel {name!r}")
    return PanelManifest(chip=name, snps=load_panel(session, pid))


def _mean_call_rate(session: Session, report: IngestReport) -> float | None:
    if report.batch_id is None:
        batch_id = session.scalar(select(GenotypingBatch.id)
                                  .where(GenotypingBatch.name == report.batch))
    else:
        batch_id = report.batch_id
    rate = session.scalar(select(func.avg(Genotype.call_rate))
                          .where(Genotype.batch_id == batch_id))
    return None if rate is None else round(float(rate), 4)


@contextmanager
def _stored(uploads: Sequence[Upload]) -> Iterator[tuple[list[Path], int]]:
    """The uploads as files in a private folder (removed after), under their browser names made
    safe by :func:`upload_name` (numbered when two are alike), and the per-file byte limit of
    the later checks. Refuses an upload over the web limit or empty. A file error raised inside
    comes out as a :class:`RuleViolation` naming the file as the browser did, not the folder.
    """
    limit = get_settings().web_upload_max_bytes
    names: list[str] = []
    for upload in uploads:
        name = upload_name(upload.name)
        if len(upload.content) > limit:
            raise RuleViolation("upload.file_size", f"{name}: {len(upload.content):,} bytes is "
                                f"over the {limit:,}-byte limit of an upload; use the "
                                "`reprotech lab` commands for bigger files")
        if not upload.content:
            raise RuleViolation("upload.empty", f"{name}: the file is empty")
        names.append(name if name not in names else f"{len(names) + 1}-{name}")
    with tempfile.TemporaryDirectory(prefix="reprotech-lab-") as folder:
        paths = []
        for name, upload in zip(names, uploads, strict=True):
            path = Path(folder) / name
            with open(path, "xb") as handle:  # a fresh file: never follows a planted link
                handle.write(upload.content)
            paths.append(path)
        try:
            yield paths, limit
        except GenotypeFileError as exc:
            raise RuleViolation(exc.rule or "ingest.file_format",
                                exc.located.replace(f"{folder}/", "")) from None
        except UploadRefused as exc:
            raise RuleViolation("upload.refused", str(exc).replace(f"{folder}/", "")) from None
