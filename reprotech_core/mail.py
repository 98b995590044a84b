"""Sending the platform's emails: through SMTP when ``smtp_host`` is set, else into the file
outbox under ``<data_dir>/outbox`` (the embedded default has no mail server).

The outbox holds one RFC 5322 message per file (``*.eml``, written to a temporary name and
renamed, so a reader never sees half a message), readable by any mail client (or ``cat``) and by
the tests. Files are the platform's own (umask 077):
a reset link in the outbox opens an account.
"""

from __future__ import annotations

import email
import email.policy
import os
import smtplib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from reprotech_core.settings import Settings


def outbox_dir(settings: Settings) -> Path:
    return settings.var_dir / "outbox"


Attachment = tuple[str, bytes, str]
"""(file name, content, MIME type such as ``application/pdf``)."""


def send(settings: Settings, *, to: list[str], subject: str, body: str,
         attachments: Sequence[Attachment] = ()) -> Path | None:
    """Send one plain-text message (with files attached); returns the outbox file when there
    is no SMTP server."""
    if not to:
        raise ValueError("an email needs at least one recipient")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_sender
    msg["To"] = ", ".join(to)
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    msg["Message-ID"] = email.utils.make_msgid(domain="reprotech")
    msg.set_content(body)
    for filename, content, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    if settings.smtp_host:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(msg)
        return None
    folder = outbox_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
    partial = folder / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(msg.as_bytes())
    final = folder / name
    partial.rename(final)
    return final


def outbox(settings: Settings) -> list[EmailMessage]:
    """The outbox's messages, oldest first."""
    folder = outbox_dir(settings)
    if not folder.is_dir():
        return []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))]
