"""Hub secrets generated once into 0600 files under ``settings.secrets_dir``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from reprotech_core.settings import read_secret_file


def secret_file(path: Path, *, nbytes: int = 32) -> str:
    """The hex secret in ``path``, created (mode 0600, parents 0700) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(nbytes))
    return read_secret_file(path, path.name)
