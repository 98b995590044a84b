"""The ``reprotech`` Jupyter kernel: the platform's Python with ``reprotech_core`` importable.

Installed (idempotently) into the platform's environment when the hub starts, so every spawned
server offers it and makes it the default. The kernel inherits the server's environment, which
carries the user's own database login (see ``hub/spawner.py``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "reprotech"


def kernel_spec() -> dict:
    return {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Reprotech (Python 3.11)",
        "language": "python",
        "env": {"PYTHONNOUSERSITE": "1"},
        "metadata": {"debugger": True},
    }


def install_kernel_spec(prefix: str = sys.prefix) -> Path:
    """Install or refresh the kernelspec under ``<prefix>/share/jupyter/kernels/reprotech``."""
    from jupyter_client.kernelspec import KernelSpecManager

    target = Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    wanted = kernel_spec()
    current = target / "kernel.json"
    if not (current.exists() and json.loads(current.read_text()) == wanted):
        umask = os.umask(0o022)  # folders made on the way (share/jupyter/kernels) are public
        try:
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "kernel.json").write_text(json.dumps(wanted, indent=1))
                KernelSpecManager().install_kernel_spec(tmp, KERNEL_NAME, prefix=prefix,
                                                        replace=True)
        finally:
            os.umask(umask)
    # Public, not secret: every notebook account reads it (the copy keeps the temporary
    # folder's 0700, and the hub works under umask 077).
    os.chmod(target, 0o755)
    for item in target.iterdir():
        os.chmod(item, 0o644)
    return target
