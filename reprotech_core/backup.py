"""Backups moved to :mod:`reprotech_core.ops.backup` (with restores and drills in
:mod:`reprotech_core.ops.restore`); this name stays for code written against it."""

from reprotech_core.ops.backup import Backup, BackupError, run_backup, verify

__all__ = ["Backup", "BackupError", "run_backup", "verify"]
