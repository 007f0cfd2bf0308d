"""A real SMTP server (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

from notifications.standins.common import Received, free_port, on_a_free_port


class _Handler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        self.received.add(
            mail_from=envelope.mail_from,
            to=list(envelope.rcpt_tos),
            subject=str(message["Subject"]),
            raw_subject=envelope.original_content.split(b"\r\n\r\n", 1)[0],
            headers={k: str(v) for k, v in message.items()},
            text=plain.get_content() if plain else "",
            html=html.get_content() if html else "",
            attachments=[
                {
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "size": len(part.get_content()),
                }
                for part in message.iter_attachments()
            ],
        )
        return "250 Message accepted for delivery"


class SmtpStandIn:
    def __init__(self) -> None:
        self.port = free_port()
        self.received = Received()
        self.controller = Controller(_Handler(self.received), hostname="127.0.0.1", port=self.port)

    async def start(self) -> None:
        await on_a_free_port(self, self._bind)

    async def _bind(self) -> None:
        self.controller = Controller(_Handler(self.received), hostname="127.0.0.1", port=self.port)
        await asyncio.to_thread(self.controller.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.controller.stop)
