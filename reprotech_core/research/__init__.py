"""The researcher's workbench: population genetics, GWAS and trait evaluation on research data.

Science as pure functions over a :class:`~.cohort.Cohort` (pseudonymised animals, packed
genotypes, SNP map); every analysis returns its result with a :class:`~.provenance.Provenance`
(input digests, snapshot, parameters, package versions, time) so a notebook figure can be
regenerated. Data access is a thin adapter over the research views and the Parquet store.

- :mod:`.provenance` — what an analysis was run on and with
- :mod:`.cohort` — the cohort container (animals, packed calls, SNP map), subsets, PLINK export
- :mod:`.access` — the researcher's database login and the analytics store, loading cohorts
- :mod:`.diversity` — heterozygosity, allelic diversity, Fst, genomic relationships by group
- :mod:`.ld` — LD (r²) decay with distance, Ne from LD (Sved 1971)
- :mod:`.ne` — realised Ne from individual increase in pedigree inbreeding (Gutiérrez 2008)
- :mod:`.gwas` — single-SNP mixed-model association (P3D/EMMAX), LOCO, genomic inflation
- :mod:`.crossval` — GBLUP cross-validation of a new trait
- :mod:`.plots` — Manhattan, QQ and decay plots (HoloViews)
"""
