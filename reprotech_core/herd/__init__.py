"""A customer's herd coming in from the files herds have: the herd-book register (animals and
pedigree). ``register`` holds the rules of the file's rows and ``pedigree`` those of the rows
against the stored pedigree, as pure functions; ``report`` what an import did;
``register_import`` reads the file, loads what is stored and writes through
:mod:`reprotech_core.animals` (see docs/onboarding.md)."""
