"""System accounts for notebook servers: one unprivileged OS account per hub user.

A personal JupyterLab runs arbitrary code. Run as the hub's own account it could read the
hub's secrets and the platform's files and act as the platform; run as an account of its own
it holds only what that account may read. So, as The Littlest JupyterHub does, every hub user
who gets a server gets a system account on first spawn (``useradd --system``, no password, no
login shell), named ``<prefix><username>``, with a home folder only it can read. Researchers
also join ``RESEARCH_GROUP``, which may read the pseudonymised research store and nothing
else of the platform's (``reprotech_core.ops.private_files``).

Creating accounts needs root; the hub refuses to spawn isolated servers otherwise (setting
``hub_notebook_isolation``).
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reprotech_core.ops.private_files import RESEARCH_GROUP

__all__ = ["RESEARCH_GROUP", "Account", "AccountError", "account_name", "ensure_account",
           "hand_over", "open_the_way_to", "private_folder_on_the_way"]

MAX_NAME = 32  # useradd's limit on Debian
_VALID = re.compile(r"[a-z0-9_-]")


class AccountError(RuntimeError):
    """A system account could not be created or prepared; the message says why."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: Path


def account_name(prefix: str, username: str) -> str:
    """The system account of a hub user: ``prefix`` + the username made safe for ``useradd``.

    A name that had to change (capitals, dots, other characters) or is too long gets a short
    hash of the original, so two hub users never map to one account.
    """
    safe = "".join(ch if _VALID.fullmatch(ch) else "-" for ch in username.lower())
    name = prefix + safe
    if safe != username or len(name) > MAX_NAME:
        digest = hashlib.sha256(username.encode()).hexdigest()[:6]
        name = f"{name[: MAX_NAME - 7]}-{digest}"
    return name


def ensure_group(name: str) -> int:
    """The gid of system group ``name``, created when missing."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run("groupadd", "--system", name)
        return grp.getgrnam(name).gr_gid


def ensure_account(name: str, home: Path, *, groups: tuple[str, ...] = ()) -> Account:
    """Create (once) the system account ``name`` and its private ``home``; return it.

    The account has no password and ``/usr/sbin/nologin`` as shell: it exists to own a server
    process and its files, never to sign in. Group membership is brought to exactly ``groups``
    each time, so a user whose role changed loses the research group on their next spawn.
    """
    if os.geteuid() != 0:
        raise AccountError("creating notebook accounts needs the hub to run as root")
    for group in groups:
        ensure_group(group)
    wanted = list(groups)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home),
             "--shell", "/usr/sbin/nologin", *(["--groups", ",".join(wanted)] if wanted else []),
             name)
        entry = pwd.getpwnam(name)
    else:
        _run("usermod", "--home", str(home), "--groups", ",".join(wanted), name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o700)
    gids = tuple(os.getgrouplist(name, entry.pw_gid))
    return Account(name, entry.pw_uid, entry.pw_gid, gids, home)


def private_folder_on_the_way(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other accounts cannot pass through.

    A server started as a notebook account must execute the platform's Python; one kept
    under a private home (pyenv under the hub account's home) is out of its reach.
    """
    real = path.resolve()
    for folder in reversed(real.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def open_the_way_to(program: Path) -> list[Path]:
    """Let notebook accounts pass through (``o+x``, never ``o+r``) the folders on the way to
    ``program``; returns the folders changed.

    The hub's Python may live under a private home (pyenv under ``/root`` on the build
    machines); the servers the hub starts as notebook accounts must execute it. Traverse alone
    lists nothing, as the embedded cluster does for its binaries (``reprotech_core.db.cluster``).
    """
    changed = []
    real = program.resolve()
    for folder in reversed(real.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append(folder)
    return changed


def hand_over(path: Path, account: Account) -> None:
    """Give ``path`` (a file or a whole tree the hub wrote into a home) to ``account``."""
    os.chown(path, account.uid, account.gid, follow_symlinks=False)
    if path.is_symlink() or not path.is_dir():
        return
    for folder, dirs, files in os.walk(path):  # never follows links
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), account.uid, account.gid, follow_symlinks=False)


def _run(*args: str) -> None:
    tool = shutil.which(args[0]) or f"/usr/sbin/{args[0]}"
    result = subprocess.run([tool, *args[1:]], capture_output=True, text=True)
    if result.returncode != 0:
        raise AccountError(f"{args[0]} {args[-1]} failed: {result.stderr.strip()}")
