"""An SMS centre (SMPP 3.4) on smpp34's server: accepts binds and submit_sm, keeps each part,
and sends a delivery receipt (deliver_sm) for every part that asked for one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import smpp34

from notifications.standins.common import Received, free_port

# Tag constants are set on the module at import time; the type stubs do not list them.
RECEIPTED_MESSAGE_ID: int = smpp34.TLV_RECEIPTED_MESSAGE_ID
MESSAGE_STATE: int = smpp34.TLV_MESSAGE_STATE


class SmppStandIn:
    def __init__(self, receipts: bool = True) -> None:
        self.port = free_port()
        self.received = Received()
        self.receipts = receipts
        self.receipts_sent = 0
        self.server = smpp34.Server("127.0.0.1", self.port, system_id="PARTA-SMSC")
        self._sessions: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._counter = 0
        self._receipts: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.server.start()
        self._task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                self._sessions[event.session_id] = event
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self._counter += 1
                message_id = f"smsc{self._counter:08d}"
                body = event.short_message
                udh = b""
                if event.esm_class & 0x40 and body:
                    udh, body = body[: body[0] + 1], body[body[0] + 1 :]
                text = (
                    body.decode("utf-16-be", "replace")
                    if event.data_coding == 8
                    else body.decode("latin-1")
                )
                self.received.add(
                    message_id=message_id,
                    source=event.source_addr,
                    destination=event.destination_addr,
                    data_coding=event.data_coding,
                    esm_class=event.esm_class,
                    udh=udh.hex(),
                    text=text,
                )
                event.accept(message_id)
                esme = self._sessions.get(event.session_id)
                if self.receipts and event.registered_delivery and esme is not None:
                    task = asyncio.create_task(
                        self._receipt(esme, event.destination_addr, message_id)
                    )
                    self._receipts.add(task)
                    task.add_done_callback(self._receipts.discard)

    async def _receipt(self, esme: Any, phone: str, message_id: str) -> None:
        await asyncio.sleep(0.05)
        stamp = time.strftime("%y%m%d%H%M")
        text = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} "
            "stat:DELIVRD err:000 text:"
        )
        with contextlib.suppress(Exception):
            await esme.deliver_sm(
                phone,
                text.encode("ascii"),
                source_addr=phone,
                esm_class=0x04,
                tlvs=[
                    smpp34.Tlv(RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
                    smpp34.Tlv(MESSAGE_STATE, b"\x02"),
                ],
            )
            self.receipts_sent += 1

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.server.stop()
