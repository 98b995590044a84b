"""The report of a herd register import: what is new, what changed (animal, field, old -> new),
what was refused and why, with file line and column.

One object for every reader: the CLI prints it, a page shows it and offers
:meth:`RegisterReport.to_frame` as the CSV download of a dry run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from reprotech_core.herd.pedigree import Change, Judgement
from reprotech_core.herd.register import Problem

FRAME_COLUMNS = ("line", "official_id", "outcome", "column", "rule", "old", "new", "detail")


@dataclass
class RegisterReport:
    file: str
    rows: int = 0
    judgement: Judgement = field(default_factory=Judgement)
    normalised_ids: int = 0
    ignored_columns: tuple[str, ...] = ()
    dry_run: bool = False
    written: bool = False

    @property
    def problems(self) -> list[Problem]:
        return self.judgement.problems

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def changed_animals(self) -> int:
        return len({c.official_id for c in self.judgement.changes})

    def summary(self) -> str:
        j = self.judgement
        if not self.ok:
            return (f"{self.file}: {self.rows} rows read; refused with {len(self.problems)} "
                    "problem(s); nothing written")
        nothing = not (j.new or j.changes or j.placeholders or j.new_herds)
        verb = ("; nothing to write" if nothing else "; would be written" if not self.written
                else "; written")
        parts = [f"{len(j.new)} new", f"{self.changed_animals} changed", f"{j.unchanged} unchanged"]
        if j.placeholders:
            parts.append(f"{len(j.placeholders)} placeholder parent(s)")
        if j.new_herds:
            parts.append(f"{len(j.new_herds)} new herd(s)")
        return (f"{self.file}: {self.rows} rows read; {', '.join(parts)}{verb}"
                + (" (dry run)" if self.dry_run else ""))

    def notes(self) -> list[str]:
        """What the reader should know although nothing was refused."""
        out = []
        if self.normalised_ids:
            out.append(f"{self.normalised_ids} official ID(s) written with spaces or lower "
                       "case were normalised (spaces removed, upper case)")
        if self.ignored_columns:
            out.append(f"columns not read: {', '.join(self.ignored_columns)}")
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per refused problem, new animal, placeholder, new herd and changed field."""
        j = self.judgement
        rows: list[tuple] = [(p.line, None, "refused", p.column, p.rule, None, None, p.message)
                             for p in self.problems]
        rows += [(r.line, r.official_id, "new", None, None, None, None, None) for r in j.new]
        rows += [(None, k.official_id, "placeholder", None, None, None, None,
                  f"unknown parent created ({'sire' if k.sex == 'M' else 'dam'})")
                 for k in j.placeholders]
        rows += [(None, None, "new herd", "herd", None, None, h, None) for h in j.new_herds]
        rows += [_change(c) for c in j.changes]
        return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


def _change(c: Change) -> tuple:
    return (c.line, c.official_id, "changed", c.field, None, _shown(c.old), _shown(c.new), None)


def _shown(value: object) -> str | None:
    return None if value is None else str(value)
