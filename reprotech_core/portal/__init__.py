"""The customer herd portal's queries and data shaping (pure, no Panel).

The dashboard pages (``dashboards/customer``) are thin views over these functions. Every query
here takes a SQLAlchemy session opened *as the signed-in user*, so row security in PostgreSQL
decides what it returns: a foreign animal id finds nothing and raises
:class:`~reprotech_core.errors.NotFound`, exactly like an id that does not exist.

- ``tenancy``: which customer a page is about (the user's own, or a staff user's chosen one)
- ``herd``: the herd table (one row per animal: GEBVs, reliabilities, index, inbreeding) and
  the overview's summary and latest results
- ``animal``: one animal's page (identity, three-generation pedigree, genotype QC, parentage,
  GEBVs, inbreeding, reproduction history)
- ``rankings``: the selection index with adjustable weights, genetic trend, GEBV distribution
  against the anonymised population
- ``genetics``: genetics over time for the overview (trend per birth year and trait or index,
  gain per year, inbreeding trend, the herd against the population through the aggregate)
- ``mating``: candidates and the optimal allocation with expected merit and inbreeding
- ``visits``: what changed since the user's last visit
- ``exports``: CSV, Excel and the PDF herd report
- ``cache``: a per-process, per-key cache so one tenant's slow query never blocks another's
"""
