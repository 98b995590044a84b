"""The ``reprotech`` command's home: the one layer above ``reprotech_core`` and ``jobs/``.

Nothing here but the entry point (:mod:`reprotech.cli`); every rule lives in ``reprotech_core``.
"""
