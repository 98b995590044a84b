"""Performance records: lactations, health events and numeric traits brought in from files,
and fertility/longevity phenotypes derived from the platform's own reproduction records.

- ``traits``: the trait codes records are stored under and their plausible ranges
- ``performance_import``: CSV/Excel import, all or nothing, dry run, idempotent
- ``derived``: days open, conception at first service, productive life (pure + writer)
- ``phenotype_file``: the phenotype file of ``reprotech eval gblup`` (traits and fixed effects)

See docs/reproduction.md ("Performance records" and "Derived phenotypes").
"""
