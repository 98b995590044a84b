"""Who may read the platform's files under ``<data_dir>``: the platform's own accounts only.

Genotype files, QC reports, evaluations, executed job notebooks, backups, the hub's database
and logs hold every customer's data. Notebook servers run as accounts of their own
(``hub/system_accounts.py``), so these files must not be readable by "others": every platform
process works under umask 077, and :func:`protect_data_dir` brings a data folder made before
(or by a tool with a looser umask) to the same modes. Two exceptions, both deliberate:

- ``<data_dir>`` itself and the homes folder are 0711: an account may pass through to its own
  0700 home, but list nothing.
- the pseudonymised research store (``store/research``) is readable by the
  :data:`RESEARCH_GROUP`, which the researchers' accounts join; no other part of the store is.
"""

from __future__ import annotations

import grp
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

from reprotech_core.settings import Settings

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
RESEARCH_GROUP = "reprotech-research"
"""The system group that may read ``<data_dir>/store/research`` (and nothing else here)."""


def use_private_umask() -> None:
    """Files this process creates are readable by its own account only."""
    os.umask(PRIVATE_UMASK)


def research_gid(*, create: bool = False) -> int | None:
    """The research group's id; created when missing and asked to (root only)."""
    try:
        return grp.getgrnam(RESEARCH_GROUP).gr_gid
    except KeyError:
        if not create or os.geteuid() != 0:
            return None
    groupadd = shutil.which("groupadd") or "/usr/sbin/groupadd"
    subprocess.run([groupadd, "--system", RESEARCH_GROUP], check=True, capture_output=True)
    return grp.getgrnam(RESEARCH_GROUP).gr_gid


def protect_data_dir(settings: Settings) -> None:
    """Set the modes described above on ``settings.var_dir`` (idempotent, cheap)."""
    var = settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    os.chmod(var, 0o711)
    homes = settings.homes_dir
    if homes.parent == var:
        homes.mkdir(exist_ok=True)
        os.chmod(homes, 0o711)
    for child in var.iterdir():
        if child in (homes, settings.pg_data_dir):
            continue  # each home is its account's; the cluster keeps its own 0700
        _private_tree(child)
    share_research_store(var / "store")


def share_research_store(store: Path) -> None:
    """Let the research group read ``store/research`` (and pass through ``store``).

    Opening ``store`` to the group makes its other folders (each tenant's tables, QC reports)
    reachable by name, so they are made private first, whatever mode they were written with.
    """
    research = store / "research"
    gid = research_gid(create=True)
    if gid is None or not research.is_dir():
        return
    for child in store.iterdir():
        if child != research:
            _private_tree(child)
    os.chown(store, -1, gid)
    os.chmod(store, 0o710)
    for folder, _dirs, files in os.walk(research):
        os.chown(folder, -1, gid)
        os.chmod(folder, 0o750)
        for name in files:
            path = os.path.join(folder, name)
            os.chown(path, -1, gid, follow_symlinks=False)
            if not os.path.islink(path):
                os.chmod(path, 0o640)


def _private_tree(path: Path) -> None:
    """Remove group and other permissions from ``path`` and everything below it."""
    if path.is_symlink():
        return
    _private(path)
    if path.is_dir():
        for folder, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                item = os.path.join(folder, name)
                if not os.path.islink(item):
                    _private(Path(item))


def _private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)
