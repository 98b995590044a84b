"""Helpers shared by test modules and fixtures."""

from reprotech_core.db.scratch import free_port

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package; ./run test installs it when missing
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-dev-shm-usage"]
