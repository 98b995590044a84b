"""Importing a herd register file: the thin adapter around :mod:`reprotech_core.herd.register`.

It checks the upload (:mod:`reprotech_core.uploads`), reads the table
(:mod:`reprotech_core.table_files`), loads the customer's stored pedigree and the catalogue bulls
the file names, asks the pure rules for a judgement, and — only when the file is clean and
this is not a dry run — writes it through :mod:`reprotech_core.animals` in the caller's
transaction: new animals (and placeholders, herds when asked) with
:func:`~reprotech_core.animals.register_animals`, corrections with
:func:`~reprotech_core.animals.update_animals` (audited with the session's reason). All reads
and writes run as the session's identity, so row security decides which customer may be
imported into and hides other customers' animals: a parent that is another farm's animal is
simply not found.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from data_models.animals import Animal
from data_models.tenancy import Customer, Herd
from reprotech_core import accounts
from reprotech_core.animals import AnimalRecord, AnimalUpdate, register_animals, update_animals
from reprotech_core.herd.pedigree import Judgement, Known, judge
from reprotech_core.herd.register import (
    COLUMNS,
    TEMPLATE_ROWS,
    Header,
    Parsed,
    Problem,
    map_header,
    parse_rows,
)
from reprotech_core.herd.report import RegisterReport
from reprotech_core.settings import get_settings
from reprotech_core.table_files import TableError, open_table
from reprotech_core.uploads import check_upload, table_kind

PROGRESS_EVERY = 1000


def import_register(session: Session, customer: Customer, path: Path, *,
                    name: str | None = None, max_bytes: int | None = None,
                    dry_run: bool = False, create_parents: bool = False,
                    create_herds: bool = False, today: date | None = None,
                    progress: Callable[[int], None] | None = None) -> RegisterReport:
    """Judge the register file ``path`` for ``customer``; write it when clean (not on a dry
    run). The caller's transaction commits. ``progress`` is called with the rows read so far.

    The upload checks raise :class:`~reprotech_core.uploads.UploadRefused` before reading;
    every later problem (unreadable table, a bad value, a broken pedigree) is in the report,
    which then says nothing was written."""
    name = name or path.name
    limit = max_bytes if max_bytes is not None else get_settings().upload_max_mb * 2**20
    check_upload(path, max_bytes=limit, kind=table_kind(path), name=name)
    report = RegisterReport(file=name, dry_run=dry_run)
    try:
        header, parsed = _read(path, name, report, today or date.today(), progress)
    except TableError as exc:
        report.judgement.problems.append(Problem(exc.line or 0, str(exc.column or ""),
                                                 exc.rule, str(exc.message)))
        return report
    if header is None or parsed is None:
        return report
    rows = parsed.rows
    wanted = {p for r in rows for p in (r.sire, r.dam) if p}
    own = _own_animals(session, customer)
    herds = session.scalars(select(Herd.code).where(Herd.customer_id == customer.id)).all()
    report.judgement = judge(rows, file=name, header=header, own=own,
                             catalogue=_catalogue(session, wanted - own.keys()), herds=herds,
                             refused=parsed.refused, create_parents=create_parents,
                             create_herds=create_herds)
    if parsed.problems:
        report.judgement.problems = sorted([*parsed.problems, *report.problems],
                                           key=lambda p: (p.line, p.column, p.rule))
    if report.ok and not dry_run:
        _write(session, customer, report.judgement, header)
        report.written = True
    return report


def write_template(path: Path) -> Path:
    """A register CSV with the columns the import reads and three example rows (a catalogue
    bull, a cow, her daughter): what a person fills in; the CLI and the page hand out this one."""
    lines = [",".join(COLUMNS), *(",".join(r) for r in TEMPLATE_ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(path: Path, name: str, report: RegisterReport, today: date,
          progress: Callable[[int], None] | None) -> tuple[Header | None, Parsed | None]:
    with open_table(path, name=name) as table:
        header, problems = map_header(table.header, line=table.header_line, file=name)
        if problems:
            report.judgement.problems += problems
            return None, None
        report.ignored_columns = header.ignored
        raw = []
        for row in table:
            raw.append((row.line, row.values))
            if progress and len(raw) % PROGRESS_EVERY == 0:
                progress(len(raw))
    report.rows = len(raw)
    if progress:
        progress(len(raw))
    parsed = parse_rows(raw, header, name, today)
    report.normalised_ids = parsed.normalised
    return header, parsed


def _own_animals(session: Session, customer: Customer) -> dict[str, Known]:
    """Every stored animal of the customer with its parents' official IDs (a parent may be a
    catalogue bull) and herd code: duplicates, corrections and loops are judged against it."""
    sire, dam = aliased(Animal), aliased(Animal)
    rows = session.execute(
        select(Animal.official_id, Animal.sex, Animal.breed, Animal.birth_date, Animal.name,
               Herd.code, sire.official_id, dam.official_id, Animal.management_number,
               Animal.entry_date, Animal.entry_status, Animal.placeholder)
        .outerjoin(Herd, Herd.id == Animal.herd_id)
        .outerjoin(sire, sire.id == Animal.sire_id)
        .outerjoin(dam, dam.id == Animal.dam_id)
        .where(Animal.customer_id == customer.id))
    return {r[0]: Known(*r) for r in rows}


def _catalogue(session: Session, wanted: set[str]) -> dict[str, Known]:
    """The shared AI-sire catalogue's animals among ``wanted`` (reference customers only; row
    security shows no other customer's animals anyway)."""
    if not wanted:
        return {}
    rows = session.execute(
        select(Animal.official_id, Animal.sex, Animal.breed, Animal.birth_date)
        .join(Customer, Customer.id == Animal.customer_id)
        .where(Customer.kind == "reference", Animal.official_id.in_(wanted)))
    return {r[0]: Known(*r, catalogue=True) for r in rows}


def _write(session: Session, customer: Customer, judgement: Judgement, header: Header) -> None:
    """Herds, then new animals and placeholders (parents first, by register_animals), then the
    corrections, parents first."""
    for code in judgement.new_herds:
        accounts.create_herd(session, customer=customer, code=code, name=code)
    records = [AnimalRecord(k.official_id, k.breed, k.sex, placeholder=True)
               for k in judgement.placeholders]
    records += [AnimalRecord(r.official_id, r.breed, r.sex, r.birth_date, r.herd, r.sire, r.dam,
                             r.name, r.management_number, r.entry_date, r.entry_status)
                for r in judgement.new]
    if records:
        register_animals(session, customer, records)
    if judgement.changes:
        fields: dict[str, dict[str, object]] = {}
        for c in judgement.changes:
            fields.setdefault(c.official_id, {})[c.field] = c.new
        update_animals(session, customer, [AnimalUpdate(oid, fields[oid])
                                           for oid in judgement.change_order])
