"""Genomic evaluation: relationships, GBLUP/SNP-BLUP, REML, inbreeding, parentage, mating.

Pure functions over genotype sets (2-bit packed calls with their sample IDs and SNP map,
:class:`reprotech_core.genomics.snpmap.GenotypeSet`, as files and the store return them),
relationship matrices, pandas pedigree and phenotype tables. Persistence, jobs and the CLI
are thin layers that call these modules:

- :mod:`.grm` — VanRaden (2008) GRM block-wise from packed genotypes, blend with A, GCTA export
- :mod:`.pedigree` — numerator relationship matrix A, Meuwissen & Luo (1992) inbreeding
- :mod:`.reml` — spectral REML for h2 with its standard error
- :mod:`.gblup` — GEBVs, PEV and reliabilities for the four traits (the selection index
  over them is :mod:`reprotech_core.results.index`)
- :mod:`.contemporary` — herd-year-season contemporary groups from the record dates, with the
  minimum-group-size merges and the exclusions counted by rule (the fixed effects of GBLUP)
- :mod:`.design` — the fixed effects' design, sparse, the factor with most levels absorbed
- :mod:`.single_step` — single-step GBLUP: H-inverse (sparse A-inverse, G aligned to A22 and
  blended), GEBVs and reliabilities for genotyped and non-genotyped animals
- :mod:`.snpblup` — SNP effects by Jacobi-PCG over packed genotypes, prediction of new animals
- :mod:`.snpblup_multi` — the large-herd path: all traits' SNP-BLUP in one PCG, REML on a
  subsample of whole groups, the partial run of its validation; :mod:`.packed_products` its byte-table products; :mod:`.core_reliability` its
  reliabilities through a core of animals (Nyström / APY, parents first)
- :mod:`.path` — which path (exact GBLUP or SNP-BLUP) a run of a given size and memory takes
- :mod:`.parentage` — opposing-homozygote sire/dam verification
- :mod:`.sire_discovery` — the sire among genotyped bulls by LOD score (trio with the dam)
- :mod:`.inbreeding` — F from G's diagonal, runs of homozygosity (F_ROH), trends
- :mod:`.mating` — expected progeny merit and inbreeding, optimal mate allocation
- :mod:`.pca` — principal components from the GRM
- :mod:`.accuracy` — Daetwyler et al. (2008) expected accuracy, realised accuracy
- :mod:`.validation` — forward validation by the LR method (Legarra & Reverter 2018)
- :mod:`.simulate` — simulated herds for tests, benchmarks and demos
"""
