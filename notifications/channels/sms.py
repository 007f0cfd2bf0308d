"""SMS over SMPP (smpplib) and over an HTTP gateway (httpx).

Cyrillic goes as UCS-2: 70 characters in one SMS, 67 per part when split (the user data header
takes the rest). smpplib splits and encodes (`smpplib.gsm.make_parts`). SMPP delivery receipts
(`deliver_sm` with a receipted message id) are handed to `on_receipt`.

smpplib is a blocking client: one background thread reads the SMSC's PDUs (responses,
receipts, enquire_link); sends go through a thread as well, one at a time, and wait for their
`submit_sm_resp` on an asyncio future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from notifications.channels.base import Outgoing, PermanentFailure, Sent, TemporaryFailure
from notifications.templates import sms_parts, sms_text

log = logging.getLogger(__name__)

Receipt = Callable[[str, str], Coroutine[Any, Any, None]]  # (provider message id, state)

# submit_sm_resp statuses worth another try later; the rest are final.
_TEMPORARY = {
    smpplib.consts.SMPP_ESME_RTHROTTLED,
    smpplib.consts.SMPP_ESME_RMSGQFUL,
    smpplib.consts.SMPP_ESME_RSYSERR,
}


def _text(value: Any) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value or "")


class SmppChannel:
    name = "sms"

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        sender: str,
        on_receipt: Receipt | None = None,
        timeout: float = 10,
    ) -> None:
        self.host, self.port = host, port
        self.system_id, self.password, self.sender = system_id, password, sender
        self.on_receipt = on_receipt
        self.timeout = timeout
        self._client: smpplib.client.Client | None = None
        self._pending: dict[int, asyncio.Future[tuple[int, str]]] = {}
        self._early: dict[int, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._send_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None

    # ---- connection ------------------------------------------------------------------------

    def _connect_blocking(self) -> smpplib.client.Client:
        client = smpplib.client.Client(
            self.host, self.port, timeout=30, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(self._on_sent)
        client.set_message_received_handler(self._on_deliver)
        client.set_error_pdu_handler(self._on_error_pdu)
        client.connect()
        client.bind_transceiver(system_id=self.system_id, password=self.password)
        return client

    async def _ensure(self) -> smpplib.client.Client:
        if self._client is not None and self._reader is not None and self._reader.is_alive():
            return self._client
        self._loop = asyncio.get_running_loop()
        try:
            client = await asyncio.to_thread(self._connect_blocking)
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            raise TemporaryFailure("smpp:connect") from exc
        self._client = client
        self._reader = threading.Thread(target=self._read_forever, args=(client,), daemon=True)
        self._reader.start()
        return client

    def _read_forever(self, client: smpplib.client.Client) -> None:
        try:
            client.listen()
        except Exception as exc:  # the connection ended; the next send reconnects
            log.info("smpp reader stopped: %r", exc)
        finally:
            with self._lock:
                pending, self._pending = self._pending, {}
            for future in pending.values():
                self._resolve(future, (-1, ""))
            if self._client is client:
                self._client = None

    # ---- callbacks from the reader thread ----------------------------------------------------

    def _resolve(self, future: asyncio.Future[tuple[int, str]], value: tuple[int, str]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                lambda: None if future.done() else future.set_result(value)
            )

    def _answer(self, sequence: int, status: int, message_id: str) -> None:
        with self._lock:
            future = self._pending.pop(sequence, None)
            if future is None:
                self._early[sequence] = (status, message_id)
                return
        self._resolve(future, (status, message_id))

    def _on_sent(self, pdu: Any, **_: Any) -> None:
        self._answer(pdu.sequence, int(pdu.status or 0), _text(pdu.message_id))

    def _on_error_pdu(self, pdu: Any) -> None:
        if pdu.command == "submit_sm_resp":
            self._answer(pdu.sequence, int(pdu.status), "")

    def _on_deliver(self, pdu: Any, **_: Any) -> None:
        receipted = _text(getattr(pdu, "receipted_message_id", None))
        if not receipted:
            text = _text(pdu.short_message)
            if text.startswith("id:"):
                receipted = text[3:].split(" ", 1)[0]
        if not receipted or self.on_receipt is None or self._loop is None:
            return
        text = _text(pdu.short_message)
        state = (
            "delivered"
            if "DELIVRD" in text or getattr(pdu, "message_state", 0) == 2
            else ("failed")
        )
        asyncio.run_coroutine_threadsafe(self.on_receipt(receipted, state), self._loop)

    # ---- sending -----------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> Sent:
        if not message.addresses:
            raise PermanentFailure("no_phone")
        phone = message.addresses[0].lstrip("+")
        text = sms_text(message.text)
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        ids: list[str] = []
        async with self._send_lock:
            client = await self._ensure()
            for part in parts:
                future: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()

                def submit(part: bytes = part) -> int:
                    pdu = client.send_message(
                        source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                        source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                        source_addr=self.sender,
                        dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                        dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                        destination_addr=phone,
                        short_message=part,
                        data_coding=encoding,
                        esm_class=esm_class,
                        registered_delivery=True,
                    )
                    return int(pdu.sequence)

                try:
                    sequence = await asyncio.to_thread(submit)
                except (smpplib.exceptions.ConnectionError, OSError) as exc:
                    self._client = None
                    raise TemporaryFailure("smpp:send") from exc
                with self._lock:
                    early = self._early.pop(sequence, None)
                    if early is None:
                        self._pending[sequence] = future
                if early is not None:
                    future.set_result(early)
                try:
                    status, message_id = await asyncio.wait_for(future, self.timeout)
                except TimeoutError as exc:
                    raise TemporaryFailure("smpp:timeout") from exc
                if status != 0:
                    if status in _TEMPORARY or status == -1:
                        raise TemporaryFailure(f"smpp:status:{status}")
                    raise PermanentFailure(f"smpp:status:{status}")
                ids.append(message_id)
        return Sent(provider_id=ids[-1], parts=len(parts), meta={"part_ids": ids})

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(client.disconnect)


class HttpSmsChannel:
    """An HTTP SMS gateway: `POST {url}` with JSON `{to, text, sender, reference}` and a bearer
    token; answers `{"id": ..., "parts": n}`. 429 with Retry-After is honoured."""

    name = "sms"

    def __init__(self, url: str, token: str, sender: str, timeout: float = 15) -> None:
        self.url, self.sender = url, sender
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(timeout=timeout, headers=headers)

    async def send(self, message: Outgoing) -> Sent:
        if not message.addresses:
            raise PermanentFailure("no_phone")
        text = sms_text(message.text)
        body = {
            "to": message.addresses[0],
            "text": text,
            "sender": self.sender,
            "reference": f"d{message.delivery_id}",
        }
        try:
            response = await self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"sms_http:{type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry = response.headers.get("Retry-After")
            raise TemporaryFailure(
                f"sms_http:{response.status_code}", retry_after=float(retry) if retry else None
            )
        if response.status_code >= 400:
            raise PermanentFailure(f"sms_http:{response.status_code}")
        data = response.json()
        return Sent(
            provider_id=str(data.get("id", "")), parts=int(data.get("parts") or sms_parts(text))
        )

    async def close(self) -> None:
        await self.client.aclose()
