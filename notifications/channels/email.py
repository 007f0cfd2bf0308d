"""E-mail with aiosmtplib: HTML and plain text, Russian, with proper headers."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import aiosmtplib

from notifications.channels.base import Outgoing, PermanentFailure, Sent, TemporaryFailure


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 20,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls
        self.timeout = timeout
        self.domain = parseaddr(sender)[1].rpartition("@")[2] or "parta.local"

    def build(self, message: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = message.title
        msg["From"] = self.sender
        msg["To"] = message.addresses[0]
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(f"d{message.delivery_id}", domain=self.domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg.set_content(message.text, charset="utf-8")
        if message.html:
            msg.add_alternative(message.html, subtype="html", charset="utf-8")
        # After the body: setting the content clears every Content-* header.
        msg["Content-Language"] = "ru"
        return msg

    async def send(self, message: Outgoing) -> Sent:
        if not message.addresses:
            raise PermanentFailure("no_email")
        try:
            Address(addr_spec=message.addresses[0])
        except (ValueError, IndexError) as exc:
            raise PermanentFailure("bad_email") from exc
        msg = self.build(message)
        try:
            await aiosmtplib.send(
                msg,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure("recipient_refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"smtp:{exc.code}") from exc
            raise TemporaryFailure(f"smtp:{exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"smtp:{type(exc).__name__}") from exc
        return Sent(provider_id=str(msg["Message-ID"]))

    async def close(self) -> None:
        return None
