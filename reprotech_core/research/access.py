"""Research data access: the researcher's own database login and the analytics store.

A researcher's notebook connects with its own PostgreSQL login (``reprotech user db-login``;
the hub sets libpq's ``PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSFILE``), a member of
``reprotech_research``: it reads only the pseudonymised ``research.*`` views and the SNP
catalogue, whatever SQL it runs. :func:`connect` refuses logins that would bypass row
security (superusers, BYPASSRLS, owners), so a notebook cannot be pointed at an admin URL by
mistake. A query the login may not run (e.g. official IDs in ``core.animals``) becomes a
:class:`~reprotech_core.errors.PermissionDenied` that names the table and the rule, and nothing
else. Cohorts carry pseudonyms only, and so do their exports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import errors

from reprotech_core.errors import NotFound, PermissionDenied, UnsafeDatabaseLogin
from reprotech_core.genomics.snpmap import SnpMap
from reprotech_core.store.analytics import connect as connect_store
from reprotech_core.store.analytics import store_folder
from reprotech_core.store.genotypes import genotype_matrix

from .cohort import Cohort, EmptyCohort

_LOGIN_CHECK = """
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       pg_has_role(session_user, 'reprotech_owner', 'MEMBER') AS owner,
       pg_has_role(session_user, 'reprotech_definer', 'MEMBER') AS definer
  FROM pg_roles r WHERE r.rolname = session_user
"""


def connect(conninfo: str = "") -> psycopg.Connection:
    """The researcher's connection (autocommit, read-only use). ``""`` = libpq environment.

    Raises :class:`UnsafeDatabaseLogin` for a login that bypasses row security.
    """
    conn = psycopg.connect(conninfo, autocommit=True)
    row = conn.execute(_LOGIN_CHECK).fetchone()
    if row is None or any(row[1:]):
        conn.close()
        raise UnsafeDatabaseLogin(
            f"refusing research access as database login {row[0] if row else '?'!r}: it "
            "bypasses row security (superuser, BYPASSRLS or owner). Use your own notebook "
            "login (`reprotech user db-login YOU`).")
    return conn


def query(conn: psycopg.Connection, sql: str, params: Sequence | None = None) -> pd.DataFrame:
    """Run a read query as the login; a refused privilege is a clear :class:`PermissionDenied`."""
    try:
        cur = conn.execute(sql, params)
    except errors.InsufficientPrivilege as exc:
        what = str(exc).splitlines()[0].removeprefix("permission denied for ")
        raise PermissionDenied(
            f"this login may not read {what}: research logins see pseudonymised data only "
            "(research.animals, research.herds, research.genotypes, "
            "research.evaluation_results); identities stay with the customer's staff") from None
    cols = [c.name for c in cur.description] if cur.description else []
    return pd.DataFrame(cur.fetchall(), columns=cols)


def pedigree(conn: psycopg.Connection) -> pd.DataFrame:
    """Every animal the login may see in ``research.animals``: pseudonyms and birth year."""
    return query(conn, "SELECT animal, sire, dam, herd, customer, breed, sex, birth_year "
                       "FROM research.animals ORDER BY animal")


def phenotypes(conn: psycopg.Connection, *, trait: str | None = None) -> pd.DataFrame:
    """Recorded performance (``research.phenotypes``): animal pseudonym, trait, value, year of
    recording — joins ``pedigree`` and cohorts on ``animal``."""
    sql = "SELECT animal, trait, value, record_year FROM research.phenotypes"
    if trait is None:
        return query(conn, sql + " ORDER BY animal, trait, record_year")
    return query(conn, sql + " WHERE trait = %s ORDER BY animal, record_year", [trait])


def _panel_map(conn: psycopg.Connection, panel_id: int) -> SnpMap:
    s = query(conn, "SELECT name, chrom, position, allele_a, allele_b FROM core.panel_snps "
                    "WHERE panel_id = %s ORDER BY idx", [panel_id])
    return SnpMap(names=s["name"].to_numpy(str), chrom=s["chrom"].to_numpy(str),
                  pos=s["position"].to_numpy(np.int64), allele_a=s["allele_a"].to_numpy(str),
                  allele_b=s["allele_b"].to_numpy(str))


def _filtered(animals: pd.DataFrame, herds, customers, birth_years) -> pd.DataFrame:
    for col, values in (("herd", herds), ("customer", customers), ("birth_year", birth_years)):
        if values is not None:
            animals = animals[animals[col].isin(list(values))]
    return animals


def load_cohort(
    conn: psycopg.Connection,
    *,
    panel: str | None = None,
    herds: Sequence[str] | None = None,
    customers: Sequence[str] | None = None,
    birth_years: Sequence[int] | None = None,
) -> Cohort:
    """Genotyped animals of the research views on one panel (default: the most used one).

    Filters take pseudonyms (``H…``, ``C…``) and years. The cohort's ``snapshot`` names the
    source and a digest of the animals and calls, so results can be traced to the data.
    Raises :class:`EmptyCohort` when nothing genotyped matches.
    """
    panels = query(conn, "SELECT p.id, p.name, count(*) AS animals FROM research.genotypes g "
                         "JOIN core.snp_panels p ON p.id = g.panel_id GROUP BY p.id, p.name "
                         "ORDER BY count(*) DESC, p.name")
    if panels.empty:
        raise EmptyCohort("no genotypes are visible in research.genotypes for this login")
    if panel is None:
        panel_id, panel = int(panels["id"].iloc[0]), str(panels["name"].iloc[0])
    elif panel in set(panels["name"]):
        panel_id = int(panels.loc[panels["name"] == panel, "id"].iloc[0])
    else:
        raise NotFound(f"no genotypes on panel {panel!r}; panels with genotypes: "
                       f"{sorted(panels['name'])}")
    animals = _filtered(pedigree(conn), herds, customers, birth_years)
    geno = query(conn, "SELECT animal, calls, call_rate FROM research.genotypes "
                       "WHERE panel_id = %s ORDER BY animal", [panel_id])
    table = animals.merge(geno, on="animal")
    if table.empty:
        raise EmptyCohort(f"cohort has no genotypes: {len(animals)} animals match the filters, "
                          f"none genotyped on panel {panel!r}")
    geno = genotype_matrix([bytes(c) for c in table["calls"]], table["animal"],
                           _panel_map(conn, panel_id))
    cohort = Cohort(table.drop(columns="calls").reset_index(drop=True), geno, snapshot="")
    return replace(cohort, snapshot=f"research-db:{panel}:{cohort.digest()[:16]}")


def load_cohort_from_store(
    folder: str | Path | None = None,
    *,
    panel: str | None = None,
    herds: Sequence[str] | None = None,
    customers: Sequence[str] | None = None,
    birth_years: Sequence[int] | None = None,
) -> Cohort:
    """The same cohort from the Parquet snapshot (``research/genotypes.parquet``), no database.

    The snapshot id is the SHA-256 of the Parquet file, so a figure names the exact file.
    The store has no pedigree columns (use :func:`pedigree` for those).
    """
    base = Path(folder) if folder else store_folder()
    con = connect_store("research", folder=base)
    try:
        geno = con.execute("SELECT * FROM genotypes ORDER BY animal").df()
        if geno.empty:
            raise EmptyCohort(f"the research snapshot in {base} holds no genotypes")
        panels = geno["panel"].value_counts()
        panel = panel or str(panels.index[0])
        if panel not in panels.index:
            raise NotFound(f"no genotypes on panel {panel!r} in the snapshot; panels: "
                           f"{sorted(panels.index)}")
        snp = con.execute("SELECT snp, chrom, pos, allele_a, allele_b FROM snp_stats "
                          "WHERE panel = ?", [panel]).df()
    finally:
        con.close()
    geno = _filtered(geno[geno["panel"] == panel], herds, customers, birth_years)
    if geno.empty:
        raise EmptyCohort(f"cohort has no genotypes: no animal on panel {panel!r} matches")
    file_hash = hashlib.sha256((base / "research" / "genotypes.parquet").read_bytes())
    snps = SnpMap(names=snp["snp"].to_numpy(str), chrom=snp["chrom"].to_numpy(str),
                  pos=snp["pos"].to_numpy(np.int64), allele_a=snp["allele_a"].to_numpy(str),
                  allele_b=snp["allele_b"].to_numpy(str))
    animals = geno.drop(columns=["calls", "n_snps", "panel"]).reset_index(drop=True)
    return Cohort(animals, genotype_matrix([bytes(c) for c in geno["calls"]], animals["animal"],
                                           snps),
                  snapshot=f"store:{panel}:sha256={file_hash.hexdigest()[:16]}")


def released_gebvs(conn: psycopg.Connection, *, trait: str | None = None) -> pd.DataFrame:
    """Released GEBVs of the latest run per trait (``animal, trait, gebv, reliability``)."""
    return query(conn, """
        SELECT animal, trait, gebv, reliability FROM research.evaluation_results r
         WHERE released AND run_id = (SELECT max(run_id) FROM research.evaluation_results
                                       WHERE released AND trait = r.trait)
           AND (%(t)s::text IS NULL OR trait = %(t)s)
         ORDER BY trait, animal""", {"t": trait})
