"""Provenance of an analysis: what it was computed from and with, serialisable to JSON.

A figure in a notebook is only as good as our ability to make it again. Every analysis in
:mod:`reprotech_core.research` returns a :class:`Provenance` naming the data snapshot, a
SHA-256 digest of each input array or table, the parameters, the package versions and the
time, so a later run can check it reads the same data with the same code.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

PACKAGES = ("reprotech", "numpy", "scipy", "pandas", "duckdb", "pyarrow")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages an analysis depends on (plus Python)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def digest(value: object) -> str:
    """SHA-256 of an input's content (arrays by bytes, shape and dtype; tables via Parquet-free
    CSV of their values), so equal data give equal digests across runs and machines."""
    h = hashlib.sha256()
    if hasattr(value, "digest") and callable(value.digest):  # a Cohort
        return value.digest()
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes() if arr.dtype != object else repr(arr.tolist()).encode())
    elif isinstance(value, pd.DataFrame | pd.Series):
        h.update(value.to_csv().encode())
    elif isinstance(value, bytes):
        h.update(value)
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _plain(value: Any) -> Any:
    """Parameters as JSON values (NumPy scalars and arrays included)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


@dataclass(frozen=True)
class Provenance:
    """What produced a result: analysis name, snapshot, input digests, parameters, versions."""

    analysis: str
    snapshot: str
    inputs: dict[str, str]
    parameters: dict[str, Any]
    versions: dict[str, str] = field(default_factory=package_versions)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Provenance:
        return cls(**json.loads(text))

    def same_inputs(self, other: Provenance) -> bool:
        """True when both ran the same analysis on the same data with the same parameters."""
        return (self.analysis, self.inputs, self.parameters) == (
            other.analysis, other.inputs, other.parameters)


def record(analysis: str, *, snapshot: str, inputs: Mapping[str, object],
           parameters: Mapping[str, Any]) -> Provenance:
    """A :class:`Provenance` for ``analysis`` with digests of ``inputs``."""
    return Provenance(analysis=analysis, snapshot=snapshot,
                      inputs={k: digest(v) for k, v in inputs.items() if v is not None},
                      parameters=_plain(dict(parameters)))
