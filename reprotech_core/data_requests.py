"""A farm's own export and erasure requests, from the portal to an administrator's decision.

A customer admin asks (``data_requests:create``; row security: their own farm, in their own
name); an erasure must be confirmed by typing the farm's code, since it ends every account of
the farm. An administrator (``customers:manage``) carries a request out with the existing
export or erasure (:mod:`reprotech_core.ops.portability`, which marks the request done) or
declines it with a reason. The export's zip stays under ``<data_dir>/exports/<code>/`` (mode
0600) for the farm's admins to download from the portal. Every step is audited by the table's
trigger. Refusals are named: ``data_request.pending`` (one open request of a kind at a time),
``data_request.confirm`` (the code typed does not match), ``data_request.reason`` (no reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data_models.security import DATA_REQUEST_KINDS, DataRequest
from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import NotFound, PermissionDenied, RuleViolation
from reprotech_core.ops import portability
from reprotech_core.portal.tenancy import parse_id
from reprotech_core.roles import has_permission
from reprotech_core.settings import Settings
from reprotech_core.textfields import FREE_TEXT, require

COLUMNS = ["id", "customer", "kind", "status", "requested_by", "requested_at", "reason",
           "decided_by", "decided_at", "outcome"]
SAFE_FILE = re.compile(r"^[A-Za-z0-9._-]+\.zip$")


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation("data_request.reason", f"{what} needs a reason")
    require([(FREE_TEXT.longest(500), reason, "reason")], record=what)
    return reason


def ask(session: Session, identity: Identity, kind: str, *, reason: str,
        confirm_code: str = "") -> int:
    """Record the signed-in customer admin's pending request for their own farm; its id."""
    if not has_permission(session, "data_requests:create"):
        raise PermissionDenied("asking for an export or erasure needs data_requests:create "
                               "(a farm's admin)")
    if kind not in DATA_REQUEST_KINDS:
        raise RuleViolation("data_request.kind", f"no request kind {kind!r}")
    code = session.scalar(text("SELECT code FROM core.customers WHERE id = :c"),
                          {"c": identity.customer_id})
    if kind == "erasure" and (confirm_code or "").strip() != code:
        raise RuleViolation("data_request.confirm", "an erasure ends every account of the "
                            f"farm: type the farm's code ({code}) to confirm it")
    request = DataRequest(customer_id=identity.customer_id, kind=kind, status="pending",
                          requested_by=identity.user_id,
                          details={"request_reason": _reason(reason, f"an {kind} request")})
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError as exc:
        if "uq_data_requests_one_pending" not in str(exc.orig):
            raise
        raise RuleViolation("data_request.pending", f"an {kind} request of this farm is "
                            "already waiting for an administrator") from None
    return request.id


def listing(session: Session, customer_id: int | None = None) -> pd.DataFrame:
    """Requests (:data:`COLUMNS`), pending first then newest; one farm's, or every farm's the
    reader sees. ``requested_by``/``decided_by`` are usernames where the reader may see them."""
    rows = session.execute(text(
        """
        SELECT r.id, c.code AS customer, r.kind, r.status, coalesce(u.username, '—'),
               r.requested_at, coalesce(r.details->>'request_reason', r.details->>'reason', ''),
               coalesce(d.username, CASE WHEN r.decided_by IS NOT NULL THEN 'Reprotech staff'
                                    END), r.decided_at,
               coalesce(r.details->>'decline_reason', r.details->>'file', '')
          FROM core.data_requests r JOIN core.customers c ON c.id = r.customer_id
          LEFT JOIN core.users u ON u.id = r.requested_by
          LEFT JOIN core.users d ON d.id = r.decided_by
         WHERE (CAST(:c AS bigint) IS NULL OR r.customer_id = :c)
         ORDER BY r.status <> 'pending', r.requested_at DESC, r.id DESC
        """), {"c": customer_id}).all()
    return pd.DataFrame(rows, columns=COLUMNS)


def _pending(session: Session, request_id: int | str | None) -> DataRequest:
    if not has_permission(session, "customers:manage"):
        raise PermissionDenied("deciding a data request needs customers:manage")
    wanted = parse_id(request_id, "data request")
    request = session.get(DataRequest, wanted) if wanted else None
    if request is None or request.status != "pending":
        raise NotFound(f"no pending data request {request_id}")
    return request


def decline(session: Session, identity: Identity, request_id: int | str, *,
            reason: str) -> None:
    why = _reason(reason, "declining a request")  # judged before anything changes
    request = _pending(session, request_id)
    request.status, request.decided_by = "declined", identity.user_id
    request.decided_at = datetime.now(UTC)
    request.details = {**request.details, "decline_reason": why}


@dataclass(frozen=True)
class Done:
    kind: str
    customer: str
    file: Path | None


def carry_out(db: Database, identity: Identity, settings: Settings,
              request_id: int | str) -> Done:
    """An administrator carries out a pending request with the existing export or erasure."""
    with db.session(identity) as s:
        request = _pending(s, request_id)
        kind, rid = request.kind, request.id
        code = s.scalar(text("SELECT code FROM core.customers WHERE id = :c"),
                        {"c": request.customer_id})
        why = request.details.get("request_reason", "")
    if kind == "export":
        out = export_dir(settings, code) / f"{code}-export-{datetime.now(UTC):%Y%m%d-%H%M%S}-" \
                                           f"{rid}.zip"
        portability.export_customer(db, identity, settings, code, out, request_id=rid)
        return Done(kind, code, out)
    portability.erase_customer(db, identity, settings, code, request_id=rid,
                               reason=f"requested by the farm: {why}")
    return Done(kind, code, None)


def export_dir(settings: Settings, code: str) -> Path:
    return settings.var_dir / "exports" / code


def export_file(session: Session, settings: Settings, customer_id: int,
                request_id: int | str | None) -> Path:
    """The zip of a done export request of ``customer_id``, if the reader sees that request
    (row security) and holds ``data_requests:create`` (the farm's admins) or is an admin."""
    if not (has_permission(session, "data_requests:create")
            or has_permission(session, "customers:manage")):
        raise PermissionDenied("an export is for the farm's admins")
    wanted = parse_id(request_id, "export")
    row = session.execute(text(
        "SELECT r.details->>'file' AS file, c.code FROM core.data_requests r "
        "JOIN core.customers c ON c.id = r.customer_id WHERE r.id = :r AND r.customer_id = :c "
        "AND r.kind = 'export' AND r.status = 'done'"),
        {"r": wanted, "c": customer_id}).one_or_none() if wanted else None
    if row is None or not row.file or not SAFE_FILE.match(row.file):
        raise NotFound(f"export {request_id}")
    path = export_dir(settings, row.code) / row.file
    if not path.is_file():
        raise NotFound(f"export {request_id}: the file is no longer kept")
    return path
