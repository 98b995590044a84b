"""Open the analytics tables with DuckDB in one line.

    from reprotech_core.store.analytics import connect
    con = connect()                      # research tables (pseudonymised, all tenants)
    con.sql("SELECT chrom, avg(maf) FROM snp_stats GROUP BY chrom").df()

Each Parquet file of the scope's folder becomes a view named after it. DuckDB reads the files
in place; nothing is copied. What a scope holds was decided by row security when the snapshot
was written (reprotech_core.store.snapshots).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from reprotech_core.errors import NotFound
from reprotech_core.settings import get_settings


def store_folder() -> Path:
    return get_settings().var_dir / "store"


def connect(scope: str = "research", *, folder: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table of ``scope`` ("research" or
    ``tenants/<customer code>``)."""
    base = (folder or store_folder()) / scope
    files = sorted(base.glob("*.parquet"))
    if not files:
        raise NotFound(f"no analytics tables in {base}; run `reprotech geno snapshot` first")
    con = duckdb.connect()
    for path in files:
        quoted = str(path).replace("'", "''")
        con.execute(f'CREATE VIEW "{path.stem}" AS SELECT * FROM read_parquet(\'{quoted}\')')
    return con
