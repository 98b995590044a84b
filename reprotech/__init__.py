"""The ``reprotech`` command's home: the one layer above ``reprotech_core`` and ``jobs/``.

Nothing here but the entry point (:mod:`reprotech.launch`, which runs :mod:`reprotech.cli`
except for the file-only ``geno`` group); every rule lives in ``reprotech_core``.
"""
