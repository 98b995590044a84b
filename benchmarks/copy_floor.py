"""The floor an import is compared with: a bare ``COPY`` of the same rows, timed.

Shared by the import benchmarks (``reproduction/bench_import.py``,
``onboarding/bench_records.py``). With ``triggers=False`` the copy runs under
``session_replication_role = replica``: no audit or rule triggers, the raw write floor.
"""

from __future__ import annotations

import time

import psycopg


def timed_copy(conn: psycopg.Connection, statement: str, data: str, *, triggers: bool) -> float:
    """Seconds one transaction takes to ``COPY`` ``data`` (tab-separated) by ``statement``."""
    began = time.perf_counter()
    with conn.transaction():
        if not triggers:
            conn.execute("SET LOCAL session_replication_role = replica")
        with conn.cursor().copy(statement) as cp:
            cp.write(data)
    return time.perf_counter() - began
