"""The platform's error hierarchy: every user-facing failure is one of these.

Messages name the problem and the record, never a secret or another tenant's data.
"""

from __future__ import annotations


class ReprotechError(Exception):
    """Base of every error the platform reports to a person."""


class DatabaseError(ReprotechError):
    """The database cannot be reached, started or used safely."""


class UnsafeDatabaseLogin(DatabaseError):
    """The application was given a login that would bypass row security."""


class NotFound(ReprotechError):
    """A record does not exist, or the caller may not see it (the two are not told apart)."""


class PermissionDenied(ReprotechError):
    """The caller's role does not allow the action."""


class RuleViolation(ReprotechError):
    """A business rule refused a write; ``rule`` is its stable code (e.g. ``pedigree.sire_sex``)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} [rule {self.rule}]"
