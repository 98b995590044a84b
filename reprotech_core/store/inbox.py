"""The lab's inbox folder: FinalReport exports waiting to be ingested.

Files are named ``<batch>_FinalReport.txt`` (or ``.txt.gz``; parts of a split export
``<batch>_FinalReport_<n>.txt``), next to the chip's manifest (``<chip>.csv``). Each batch is
ingested in one transaction; its files then move to ``processed/``. A batch that is refused
stays in the inbox with its report, and the others are still ingested.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from reprotech_core.db.session import Database, Identity
from reprotech_core.errors import ReprotechError
from reprotech_core.genomics.errors import GenotypeFileError
from reprotech_core.genomics.manifest import read_manifest
from reprotech_core.store.ingest import IngestReport, ingest_finalreport

EXPORT = re.compile(r"^(?P<batch>[A-Za-z0-9._-]+?)_FinalReport(?:_\d+)?\.txt(?:\.gz)?$")


@dataclass(frozen=True)
class InboxResult:
    ingested: list[IngestReport]
    refused: dict[str, str]  # batch -> why


def pending_batches(inbox: Path) -> dict[str, list[Path]]:
    batches: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(inbox.glob("*_FinalReport*")):
        match = EXPORT.match(path.name)
        if match:
            batches[match["batch"]].append(path)
    return dict(batches)


def ingest_inbox(db: Database, identity: Identity, inbox: Path, *, manifest: str) -> InboxResult:
    """Ingest every batch waiting in ``inbox`` using the manifest file ``manifest``."""
    chip = read_manifest(inbox / manifest)
    done = inbox / "processed"
    ingested, refused = [], {}
    for batch, files in pending_batches(inbox).items():
        try:
            ingested.append(ingest_finalreport(db, identity, files, chip, batch_name=batch))
        except (GenotypeFileError, ReprotechError) as exc:
            refused[batch] = str(exc)
            continue
        done.mkdir(exist_ok=True)
        for path in files:
            shutil.move(path, done / path.name)
    return InboxResult(ingested, refused)
