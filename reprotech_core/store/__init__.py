"""The genotype store: panels, samples, batch ingest and QC decisions in PostgreSQL;
Parquet snapshots and DuckDB analytics tables derived from them."""
