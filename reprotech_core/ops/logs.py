"""Logging for the platform: secrets scrubbed from every record, JSON lines on request.

Secrets reach logs by accident: a connection URL in an exception, a token in a request line,
a password in a parameter dump. ``SecretScrubber`` is a logging filter that rewrites each
record's message (after %-formatting) and its exception text, masking the shapes secrets take
(``scheme://user:password@``, ``password=…``, ``token=…``, ``Authorization: Bearer …``,
``PGPASSWORD=…``) and any exact secret value registered with :func:`register_secret` (the
settings' database URLs and OIDC client secret are registered by :func:`configure_logging`).

Access logs carry OAuth on the way through: the dashboards' tornado access log line for
``/services/dashboards/login?code=…&state=…`` holds a one-time code an attacker who reads the
log in time can redeem, and Panel logs a refused ``state``. Query parameters whose name holds
``code``, ``state``, ``token``, ``xsrf``, ``auth``, ``key``, ``secret``, ``password`` or
``ticket`` (the list JupyterHub scrubs from its own access log, and more), ``Authorization``
and ``Cookie`` header values are masked. Bokeh and Panel give their loggers handlers of their
own (which would bypass a filter on the root handler): :func:`configure_logging` routes them
to the root handler.
With ``log_format = "json"`` each record is one JSON object (time, level, logger, message and
any ``extra`` fields) for a log collector.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from reprotech_core.settings import Settings

MASK = "***"
PATTERNS = [
    # user:password@ in any URL
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@]+(?=@)", re.I), rf"\g<keep>{MASK}"),
    # query parameters that carry OAuth codes and states, tokens, XSRF values, keys; also
    # inside a URL-encoded ``next=`` (``%3Ftoken%3D…%26``), where the hub's own scrub misses
    (re.compile(r"(?P<keep>(?:[?&;]|%3F|%26|%3B)[\w.~-]*?(?:code|state|token|xsrf|auth|key|"
                r"secret|password|ticket)[\w.~-]*(?:=|%3D))(?:(?!%26)[^&\s#\"'<>])+", re.I),
     rf"\g<keep>{MASK}"),
    # JupyterHub names the session id its XSRF cookie is bound to
    (re.compile(r"(?P<keep>xsrf cookie for b?[\"']?)[^\"'\s]+", re.I), rf"\g<keep>{MASK}"),
    # Authorization / Cookie headers, as "Name: value" or in a JSON or dict dump
    (re.compile(r"(?P<keep>\b(?:Proxy-)?Authorization[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z]+\s+)?)"
                r"[^\s\"',;]+", re.I), rf"\g<keep>{MASK}"),
    (re.compile(r"(?P<keep>\b(?:Set-)?Cookie[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n]+", re.I),
     rf"\g<keep>{MASK}"),
    # Panel's refusal of a forged or replayed OAuth state names both values
    (re.compile(r"(?P<keep>OAuth state mismatch:\s*)\S+\s*!=\s*\S+"), rf"\g<keep>{MASK} != {MASK}"),
    (re.compile(r"(?P<keep>Failed to (?:b64|json)-decode state:\s*)\S+"), rf"\g<keep>{MASK}"),
    # key=value / key: value for secret-looking keys
    (re.compile(r"(?P<keep>\b(?:[a-z_]*password|passwd|pwd|secret|[a-z_]*token|api[_-]?key|"
                r"client_secret|cookie_secret|_?xsrf)\b[\"']?\s*[=:]\s*)"
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
            from sqlalchemy.engine import make_url  # sqlalchemy only when a URL is set

            register_secret(make_url(url).password)
    for secret in (settings.hub_oidc_client_secret, settings.metrics_token,
                   settings.dashboards_api_token, settings.dashboards_cookie_secret):
        if secret is not None:
            register_secret(secret.get_secret_value())


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
    for name in LIBRARY_LOGGERS:
        route_to_root(logging.getLogger(name))
    scrub_every_handler()


LIBRARY_LOGGERS = ("tornado", "bokeh", "panel")
"""Loggers of the web stack whose records (access log lines with OAuth codes, Panel's OAuth
warnings) must pass the scrubber. Bokeh adds a stderr handler to ``bokeh`` when the root logger
has none at import, and Panel one on stdout to ``panel``; both stop propagation."""


def route_to_root(logger: logging.Logger) -> None:
    """Send ``logger``'s records to the root handler instead of handlers of its own, keeping
    what they let through: a library handler's level becomes the logger's level (Panel logs at
    DEBUG into a WARNING handler)."""
    if logger.handlers:
        floor = min(h.level for h in logger.handlers)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.setLevel(max(logger.level, floor))
    logger.propagate = True


def scrub_every_handler() -> None:
    """Put the scrubber on every handler any logger holds now, so a library's own handler
    (one not routed to the root) cannot print a secret either."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for lg in loggers:
        for handler in lg.handlers:
            if not any(isinstance(f, SecretScrubber) for f in handler.filters):
                handler.addFilter(SecretScrubber())


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
