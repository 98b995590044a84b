"""Genomic results as every reader sees them: one home for each shared read.

- :mod:`.released` — the released results: a customer's newest released evaluation run, its
  GEBVs and reliabilities per animal (portal, staff views, reports, jobs)
- :mod:`.index` — THE selection index (with its one rule for a missing GEBV) and THE genetic
  trend (portal, staff views, reports, the ``reprotech eval`` CLI, mating advice)

The latest QC decision per sample is the database view ``core.sample_qc_latest`` (migration
0015), so SQL everywhere reads it the same way.
"""
