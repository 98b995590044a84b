"""A customer's data: export (data portability) and erasure (right to erasure).

**Export** writes one zip: a CSV per table of every record that carries the customer
(animals, herds, samples, genotypes, results, reproduction, orders, invoices, …), the
customer's users without secrets, the audit entries about the customer, the genotypes also as
PLINK 1 binary filesets (one per chip panel), the customer's report files, and a manifest with
row counts and SHA-256 of every member. It is read through the application login as the
requesting identity, so row security decides what it can hold.

**Erasure** deletes every record that carries the customer, in foreign-key order, in one
transaction, and anonymises what must stay for the integrity of others: the customer row (its
id is referenced by the audit trail and by this request) and its users (referenced by job runs
and audit entries): names, e-mails, passwords, second factors and logins are cleared and the
accounts deactivated. Invoices and service orders are accounting records under a legal
retention period: they stay (amounts, services, dates) under the anonymised customer, their link
to an animal cleared. The **audit log is kept unchanged**: it is append-only even for the
database superuser, and it is the platform's accountability record (GDPR Art. 17(3)(b) and (e):
retention for legal obligations and claims). It is readable only by platform administrators
once the customer's users are gone, and ages out by partition (docs/threat-model.md). The erasure
itself is audited (every deleted row, and the ``data_requests`` row with the reason). Files
(the customer's Parquet snapshots and reports) are deleted and the research snapshots are
rebuilt without the customer; backups age out after ``backup_keep`` generations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from data_models.security import DataRequest
from data_models.tenancy import Customer
from reprotech_core.accounts import customer_by_code
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.portal.exports import spreadsheet_cell
from reprotech_core.settings import Settings

SECRET_COLUMNS = {"password_hash", "totp_secret", "db_login"}
KEPT_TABLES = {"core.customers", "core.users", "core.data_requests"}
"""Tables whose customer rows are anonymised (or kept, for the request log), not deleted."""
RETAINED_TABLES = {"core.invoices", "core.invoice_lines", "core.service_orders"}
"""Accounting records, kept for their legal retention period (commercial and tax law): their
link to an animal is cleared, the amounts, services and dates stay, under the anonymised
customer."""


def customer_tables(session: Session) -> list[str]:
    """Tables of ``core`` with a ``customer_id`` column, children before parents (the order
    rows can be deleted in), from the foreign keys among them."""
    tables = set(session.scalars(text(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = 'core' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND a.attname = 'customer_id' AND NOT a.attisdropped")).all())
    edges = session.execute(text(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent "
        "FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid")).all()
    parents = {t: set() for t in tables}
    for child, parent in edges:
        child, parent = _qualified(child), _qualified(parent)
        if child in tables and parent in tables:
            parents[child].add(parent)
    ordered: list[str] = []
    pending = dict(parents)
    while pending:  # Kahn, removing tables nobody left still references
        leaves = sorted(t for t in pending
                        if not any(t in ps for other, ps in pending.items() if other != t))
        if not leaves:
            raise RuleViolation("erasure.cycle",
                                f"foreign keys form a cycle among {sorted(pending)}")
        for t in leaves:
            ordered.append(t)
            del pending[t]
    return ordered


def _qualified(name: str) -> str:
    return name if "." in name else f"core.{name}"


@dataclass(frozen=True)
class Export:
    path: Path
    sha256: str
    rows: dict[str, int]
    files: int


def _csv(session: Session, sql: str, params: dict) -> tuple[bytes, int]:
    result = session.execute(text(sql), params)
    columns = [c for c in result.keys() if c not in SECRET_COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_cell(c) for c in columns])
    count = 0
    for row in result.mappings():
        writer.writerow([spreadsheet_cell(_cell(row[c])) for c in columns])
        count += 1
    return out.getvalue().encode(), count


def _cell(value: object) -> object:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def export_customer(db: Database, identity: Identity, settings: Settings, code: str,
                    out: Path, *, request_id: int | None = None) -> Export:
    """Write the customer's data to the zip ``out`` (atomically) and record the request: a new
    ``done`` request, or the customer's pending request ``request_id`` marked done."""
    from reprotech_core.genomics.plink_bed import write_plink
    from reprotech_core.store.export import customer_genotypes

    members: dict[str, bytes] = {}
    rows: dict[str, int] = {}
    with db.session(identity) as session:
        customer = customer_by_code(session, code)
        params = {"c": customer.id}
        members["customer.csv"], _ = _csv(session, "SELECT * FROM core.customers WHERE id = :c",
                                          params)
        for table in customer_tables(session):
            query = f"SELECT * FROM {table} WHERE customer_id = :c ORDER BY 1"  # noqa: S608
            data, count = _csv(session, query, params)
            members[f"records/{table.removeprefix('core.')}.csv"] = data
            rows[table] = count
        members["audit.csv"], rows["audit.log"] = _csv(
            session, "SELECT * FROM audit.log WHERE customer_id = :c ORDER BY occurred_at, id",
            params)
        panels = session.scalars(text(
            "SELECT DISTINCT p.name FROM core.genotypes g JOIN core.snp_panels p "
            "ON p.id = g.panel_id WHERE g.customer_id = :c ORDER BY 1"), params).all()
        with tempfile.TemporaryDirectory() as tmp:
            for panel in panels:
                geno = customer_genotypes(session, customer, panel=panel)
                write_plink(geno, Path(tmp) / panel)
            for path in sorted(Path(tmp).iterdir()):
                members[f"genotypes/{path.name}"] = path.read_bytes()
    reports = settings.var_dir / "reports" / code
    if reports.is_dir():
        for path in sorted(p for p in reports.rglob("*") if p.is_file()):
            members[f"reports/{path.relative_to(reports)}"] = path.read_bytes()
    manifest = {
        "customer": code, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "formats": {"records/*.csv": "one row per record; bytea as hex; JSON as text",
                    "genotypes/*.bed|bim|fam": "PLINK 1 binary fileset per chip panel",
                    "audit.csv": "every audited change of the customer's records"},
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    members["manifest.json"] = json.dumps(manifest, indent=1).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w",
                                                             zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(f"{code}/{name}", data)
        os.chmod(tmp_name, 0o600)  # personal data: for the requester only
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    with db.session(identity, reason=f"data export of customer {code}") as session:
        _record(session, identity, customer_by_code(session, code).id, "export", request_id,
                {"file": out.name, "sha256": digest, "rows": rows})
    return Export(out, digest, rows, len(members))


def _record(session: Session, identity: Identity, customer_id: int, kind: str,
            request_id: int | None, details: dict) -> None:
    """Record a carried-out request: a new row, or the pending request marked done."""
    if request_id is None:
        session.add(DataRequest(customer_id=customer_id, kind=kind, status="done",
                                requested_by=identity.user_id, details=details))
        return
    request = session.get(DataRequest, request_id)
    if request is None or request.customer_id != customer_id or request.kind != kind \
            or request.status != "pending":
        raise NotFound(f"no pending {kind} request {request_id} of this customer")
    request.status, request.decided_by = "done", identity.user_id
    request.decided_at = datetime.now(UTC)
    request.details = {**request.details, **details}


@dataclass(frozen=True)
class Erasure:
    customer_id: int
    deleted: dict[str, int]
    users_anonymised: int


def erase_customer(db: Database, identity: Identity, settings: Settings, code: str, *,
                   reason: str, request_id: int | None = None) -> Erasure:
    """Delete the customer's records and anonymise the customer and its users (see module);
    ``request_id``: the customer's pending erasure request this carries out."""
    if not reason.strip():
        raise ValueError("an erasure needs a reason (it is recorded in the audit log)")
    with db.session(identity, reason=f"erasure of customer {code}: {reason}") as session:
        if not session.scalar(text("SELECT core.actor_has_permission('customers:manage')")):
            raise PermissionDenied(f"{identity.username} may not erase customers "
                                   "(needs customers:manage)")
        customer: Customer = customer_by_code(session, code)
        if customer.kind == "reference":
            raise RuleViolation("erasure.reference", f"{code} is the reference catalogue, which "
                                "other customers' pedigrees rely on; it cannot be erased")
        params = {"c": customer.id}
        deleted: dict[str, int] = {}
        session.execute(text("UPDATE core.service_orders SET animal_id = NULL "
                             "WHERE customer_id = :c AND animal_id IS NOT NULL"), params)
        for table in customer_tables(session):
            if table in KEPT_TABLES | RETAINED_TABLES:
                continue
            deleted[table] = session.execute(
                text(f"DELETE FROM {table} WHERE customer_id = :c"), params).rowcount  # noqa: S608
        users = session.execute(text(
            "UPDATE core.users SET username = 'erased-' || id, display_name = 'erased user', "
            "email = NULL, password_hash = NULL, totp_secret = NULL, db_login = NULL, "
            "active = false WHERE customer_id = :c"), params).rowcount
        session.execute(text(
            "UPDATE core.customers SET code = 'erased-' || id, name = 'Erased customer ' || id, "
            "active = false WHERE id = :c"), params)
        _record(session, identity, customer.id, "erasure", request_id,
                {"reason": reason, "deleted": deleted, "users_anonymised": users})
        customer_id = customer.id
    _erase_files(db, identity, settings, code)
    return Erasure(customer_id, deleted, users)


def _erase_files(db: Database, identity: Identity, settings: Settings, code: str) -> None:
    for folder in (settings.var_dir / "reports" / code,
                   settings.var_dir / "store" / "tenants" / code):
        shutil.rmtree(folder, ignore_errors=True)
    store = settings.var_dir / "store"
    if (store / "research").is_dir():
        from reprotech_core.store.snapshots import write_snapshots

        write_snapshots(db, identity, store)  # research snapshots without the erased animals


def data_requests(session: Session, code: str) -> list[DataRequest]:
    customer = customer_by_code(session, code)
    found = session.query(DataRequest).filter_by(customer_id=customer.id).order_by(
        DataRequest.id).all()
    if not found:
        raise NotFound(f"no export or erasure recorded for customer {code}")
    return found
