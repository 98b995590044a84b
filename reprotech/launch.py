"""The ``reprotech`` executable: route file-only command groups without importing the platform.

The full command tree (:mod:`reprotech.cli`) imports every group, hence the database layer, the
job queue, the hub client and the evaluation: ~1.5 s of imports on a quiet 2-core machine and
more under load, paid before ``reprotech geno qc`` reads a byte. ``geno`` works on files alone
(no database, no settings beyond logging), so its group is run directly from its own module;
every other command, and ``reprotech --help``, go through :func:`reprotech.cli.main` as before.
"""

from __future__ import annotations

import sys
from importlib import import_module

FILE_ONLY_GROUPS = {"geno": "reprotech_core.cli.genotypes"}
"""Group name -> module whose ``app`` is the group (the same object reprotech.cli mounts)."""


def main() -> None:
    args = sys.argv[1:]
    module = FILE_ONLY_GROUPS.get(args[0]) if args else None
    if module is None:
        from reprotech.cli import main as full

        full()
        return
    from reprotech_core.cli.process import run

    group = import_module(module).app
    run(lambda: group(args=args[1:], prog_name=f"reprotech {args[0]}"))


if __name__ == "__main__":
    main()
