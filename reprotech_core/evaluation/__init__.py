"""Genomic evaluation: relationships, GBLUP/SNP-BLUP, REML, inbreeding, parentage, mating.

Pure functions over arrays (2-bit packed genotypes from :mod:`reprotech_core.genomics.packing`,
dosages, pandas pedigree and phenotype tables). Persistence, jobs and the CLI are thin layers
that call these modules.
"""
