"""The morning message: one plain-text e-mail (UTF-8, Vietnamese) to the officers, through the office's SMTP server.

Settings are ``morning_message`` in ``config/district.yaml`` (``flows.operations.MorningMessage``); the user and
password come from the environment variables it names, or the password from a Prefect Secret block — never from
the repository. The text itself is made by ``flows.publishing.night_report.morning_message``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

from flows.operations import MorningMessage

log = logging.getLogger(__name__)


def credentials(settings: MorningMessage) -> tuple[str, str] | None:
    """(user, password) to log in with, or None to send without logging in (a relay that trusts the office)."""
    user = os.environ.get(settings.username_env, "")
    if not user:
        return None
    password = os.environ.get(settings.password_env, "")
    if not password and settings.password_secret:
        from prefect.blocks.system import Secret

        password = str(Secret.load(settings.password_secret).get())
    if not password:
        raise ValueError(f"{settings.username_env} is set but neither {settings.password_env} nor a Secret block "
                         "(morning_message.password_secret) gives the password")
    return user, password


def compose(settings: MorningMessage, subject: str, body: str) -> Message:
    """A plain-text UTF-8 message. The subject is encoded with ``email.header.Header``: the newer
    ``EmailMessage`` folding drops the space between two encoded words of a long Vietnamese subject."""
    msg = MIMEText(body, "plain", "utf-8")
    msg["Subject"] = Header(subject, "utf-8")
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    return msg


def send(settings: MorningMessage, subject: str, body: str) -> None:
    """Send the message to every recipient; raises (``smtplib.SMTPException``, ``OSError``) when it cannot."""
    msg = compose(settings, subject, body)
    login = credentials(settings)
    context = ssl.create_default_context()
    if settings.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds,
                                                context=context)
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    with server:
        if settings.security == "starttls":
            server.starttls(context=context)
        if login is not None:
            server.login(*login)
        refused = server.send_message(msg)
    log.info("morning message sent to %d recipient(s), %d refused", len(settings.recipients) - len(refused),
             len(refused))
