"""Job schedules, declared in ``config/schedules.toml`` and validated when loaded.

Each ``[[schedule]]`` names a parameterised notebook, a cron expression (UTC), default
parameters, a timeout, retries, who may trigger it by hand, and an optional exclusivity key
(``{customer}`` is replaced by the run's customer parameter), so two runs that must not overlap
never do.
"""

from __future__ import annotations

import ast
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reprotech_core.errors import ReprotechError
from reprotech_core.roles import Role
from reprotech_core.settings import PROJECT_HOME

NEVER_HORIZON = timedelta(days=5 * 366)


class ScheduleError(ReprotechError):
    """A schedule or a run request is invalid; the message names the schedule and the field."""


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    notebook: str
    description: str = ""
    cron: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    timeout_s: int = Field(default=3600, gt=0, le=7 * 24 * 3600)
    retries: int = Field(default=2, ge=0, le=10)
    roles: list[Role] = Field(default_factory=lambda: [Role.LAB_OPS, Role.ADMIN,
                                                       Role.SUPER_ADMIN])
    exclusive: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron_fires(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        try:
            nxt = croniter(value, start, max_years_between_matches=5).get_next(datetime)
        except Exception:  # croniter raises its own error types when nothing matches
            nxt = None
        if nxt is None or nxt - start > NEVER_HORIZON:
            raise ValueError(f"cron {value!r} never fires")
        return value

    def path(self, home: Path = PROJECT_HOME) -> Path:
        return home / self.notebook

    def due_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Occurrences in (start, end], oldest first."""
        if self.cron is None:
            return []
        it = croniter(self.cron, start)
        out = []
        while (t := it.get_next(datetime)) <= end:
            out.append(t)
        return out

    def exclusive_key(self, parameters: dict[str, Any]) -> str | None:
        if self.exclusive is None:
            return None
        return self.exclusive.format(customer=parameters.get("customer", "all"))


_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list,
          "dict": dict}


def check_parameters(schedule: Schedule, given: dict[str, Any], home: Path = PROJECT_HOME
                     ) -> dict[str, Any]:
    """Merge ``given`` over the schedule's defaults and check them against the notebook's
    tagged parameters cell (names and the types of its defaults)."""
    import papermill  # here, not at the top: it costs every `reprotech` command two seconds

    declared = papermill.inspect_notebook(str(schedule.path(home)))
    params = {**schedule.parameters, **given}
    for name, value in params.items():
        if name not in declared:
            raise ScheduleError(f"job {schedule.name}: unknown parameter {name!r} "
                                f"(the notebook takes {', '.join(sorted(declared)) or 'none'})")
        kind = _declared_type(declared[name])
        want = _TYPES.get(kind or "")
        wrong = want is not None and value is not None and (
            not isinstance(value, want) or (isinstance(value, bool) and kind != "bool"))
        if wrong:
            raise ScheduleError(f"job {schedule.name}: parameter {name!r} must be {kind}, "
                                f"got {type(value).__name__} {value!r}")
    return params


def _declared_type(spec: dict[str, Any]) -> str | None:
    """The parameter's type: its annotation if any, else the type of its default literal."""
    annotated = spec.get("inferred_type_name")
    if annotated in _TYPES:
        return annotated
    try:
        default = ast.literal_eval(spec.get("default", ""))
    except (ValueError, SyntaxError):
        return None
    return None if default is None else type(default).__name__


def load_schedules(path: Path | None = None, home: Path = PROJECT_HOME) -> dict[str, Schedule]:
    """Read and validate every schedule; the first problem is reported with its name."""
    path = path or home / "config" / "schedules.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScheduleError(f"no schedules file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"{path}: {exc}") from None
    schedules: dict[str, Schedule] = {}
    for i, entry in enumerate(raw.get("schedule", []), 1):
        label = entry.get("name", f"#{i}")
        try:
            schedule = Schedule(**entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise ScheduleError(f"{path}: schedule {label}: {problems}") from None
        if schedule.name in schedules:
            raise ScheduleError(f"{path}: schedule {schedule.name} is declared twice")
        if not schedule.path(home).is_file():
            raise ScheduleError(f"{path}: schedule {schedule.name}: notebook "
                                f"{schedule.notebook} does not exist")
        check_parameters(schedule, {}, home)
        schedules[schedule.name] = schedule
    return schedules
