"""Helpers shared by test modules and fixtures."""

from reprotech_core.db.scratch import free_port

__all__ = ["free_port"]
