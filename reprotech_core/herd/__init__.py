"""A customer's herd coming in from the files herds have: the herd-book register (animals and
pedigree). ``register`` holds the rules as pure functions over parsed rows and the stored
pedigree; ``register_import`` reads the file, loads what is stored and writes through
:mod:`reprotech_core.animals` (see docs/onboarding.md)."""
