"""Reprotech Analytics domain package: every rule and computation of the platform lives here."""

__version__ = "0.1.0"
