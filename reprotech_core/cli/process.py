"""How any ``reprotech`` entry point runs an app as a process.

Kept apart from :mod:`reprotech_core.cli.main` (which imports every command group, the
database layer and the evaluation) so the light launcher (:mod:`reprotech.launch`) can run a
file-only group without importing the rest of the platform.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from reprotech_core.errors import ReprotechError

err = Console(stderr=True)


def run(entry: Callable[[], object]) -> None:
    """Run a ``reprotech`` app as a process: private umask, configured logging, and a platform
    error printed as one line with exit code 1 instead of a traceback."""
    from reprotech_core.ops import logs
    from reprotech_core.ops.private_files import use_private_umask
    from reprotech_core.settings import get_settings

    use_private_umask()  # what the platform writes under <data_dir> is its own (ops/private_files)

    try:  # secrets scrubbed, JSON lines when log_format = "json"
        logs.configure_logging(get_settings(), level="WARNING")
    except ValueError:  # a bad setting is reported by the command that reads it
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        entry()
    except (ReprotechError, ValueError) as exc:  # SettingsError and file errors are ValueErrors
        err.print(f"[red]error:[/] {escape(str(exc))}")  # a message is text, not Rich markup
        raise SystemExit(1) from None
