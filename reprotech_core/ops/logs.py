"""Logging for the platform: secrets scrubbed from every record, JSON lines on request.

Secrets reach logs by accident: a connection URL in an exception, a token in a request line,
a password in a parameter dump. ``SecretScrubber`` is a logging filter that rewrites each
record's message (after %-formatting) and its exception text, masking the shapes secrets take
(``scheme://user:password@``, ``password=…``, ``token=…``, ``Authorization: Bearer …``,
``PGPASSWORD=…``) and any exact secret value registered with :func:`register_secret` (the
settings' database URLs and OIDC client secret are registered by :func:`configure_logging`).
With ``log_format = "json"`` each record is one JSON object (time, level, logger, message and
any ``extra`` fields) for a log collector.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from reprotech_core.settings import Settings

MASK = "***"
PATTERNS = [
    # user:password@ in any URL
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@]+(?=@)", re.I), rf"\g<keep>{MASK}"),
    # key=value / key: value for secret-looking keys
    (re.compile(r"(?P<keep>\b(?:[a-z_]*password|passwd|pwd|secret|[a-z_]*token|api[_-]?key|"
                r"client_secret|cookie_secret)\b[\"']?\s*[=:]\s*)"
                r"(?:\"[^\"]*\"|'[^']*'|[^\s\"',;&]+)", re.I),
     rf"\g<keep>{MASK}"),
    (re.compile(r"(?P<keep>\b(?:Bearer|token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
     rf"\g<keep>{MASK}"),
    (re.compile(r"(?P<keep>otpauth://[^\s?]*\?(?:[^\s]*&)?secret=)[A-Z2-7]+", re.I),
     rf"\g<keep>{MASK}"),
]
_registered: set[str] = set()
STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears in a log record (values under 6 characters
    are ignored: masking them would mangle ordinary words)."""
    if value and len(value) >= 6:
        _registered.add(value)


def scrub(text: str) -> str:
    for value in sorted(_registered, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretScrubber(logging.Filter):
    """Rewrite a record so its message, arguments and traceback carry no secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
            record.exc_info = None  # the formatter would print the unscrubbed traceback again
        for key, value in list(vars(record).items()):
            if key not in STANDARD and isinstance(value, str):
                setattr(record, key, scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key, value in vars(record).items():
            if key not in STANDARD and not key.startswith("_"):
                plain = isinstance(value, (int, float, bool, type(None)))
                out[key] = value if plain else str(value)
        if record.exc_text or record.exc_info:
            out["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def register_settings_secrets(settings: Settings) -> None:
    for getter in (settings.resolved_database_url, settings.resolved_admin_url,
                   settings.resolved_backup_url):
        try:
            url = getter()
        except ValueError:  # an unreadable secret file is reported where it is used
            continue
        if url:
            register_secret(make_url(url).password)
    if settings.hub_oidc_client_secret is not None:
        register_secret(settings.hub_oidc_client_secret.get_secret_value())


def configure_logging(settings: Settings, *, level: str | None = None) -> None:
    """Configure the root logger: the settings' level and format, secrets scrubbed.

    The filter sits on the handler, so records of every library logger pass through it.
    """
    register_settings_secrets(settings)
    handler = logging.StreamHandler()
    handler.addFilter(SecretScrubber())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else
                         logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)


def traitlets_logging_config(settings: Settings) -> dict:
    """``logging_config`` for a traitlets application (JupyterHub): its console handler gets
    the secret scrubber, and the JSON formatter when ``log_format = "json"``.

    traitlets merges this into its default configuration, so the hub keeps its own handler
    and level; every record the hub prints passes through the filter.
    """
    register_settings_secrets(settings)
    config: dict = {
        "filters": {"scrub_secrets": {"()": f"{__name__}.SecretScrubber"}},
        "handlers": {"console": {"filters": ["scrub_secrets"]}},
    }
    if settings.log_format == "json":
        config["formatters"] = {"json": {"()": f"{__name__}.JsonFormatter"}}
        config["handlers"]["console"]["formatter"] = "json"
    return config
