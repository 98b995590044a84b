"""What the staff dashboards show, as queries and pure data shaping (no Panel here).

Every query runs in the caller's session, so row security decides what each role sees: a vet
or technician reads only their assigned customers, lab staff read batches and jobs by
permission, researchers read pseudonymised research views only. The shaping functions take
and return DataFrames, so pages stay thin and the numbers are unit-tested without a browser.

- :mod:`.customers` — a vet's or technician's assigned customers, herds, KPIs, animals
- :mod:`.lab` — genotyping batches through their stages, QC per batch and chip, failed samples
- :mod:`.jobs` — job runs with timings, failed and long-running runs flagged, output files
- :mod:`.population` — research analytics: PCA, allele-frequency spectrum, inbreeding and
  genetic trends, GEBV distributions by herd
- :mod:`.system` — platform figures for administrators
"""
