"""The gateway's loop: adapters fill the outbox, the uploader empties it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from gateway.adapters.base import Adapter
from gateway.outbox import Outbox
from gateway.uploader import Uploader

log = logging.getLogger("parta.gateway")


async def read_adapters(outbox: Outbox, adapters: Sequence[Adapter]) -> int:
    """One round over the adapters; each one's passes and new position in one transaction."""
    added = 0
    for adapter in adapters:
        events, position = await adapter.read(outbox.cursor(adapter.name))
        if events or position is not None:
            added += outbox.add(events, (adapter.name, position or ""))
    return added


async def run_gateway(
    outbox: Outbox,
    adapters: Sequence[Adapter],
    uploader: Uploader,
    *,
    poll_interval: float = 0.5,
    stop: asyncio.Event | None = None,
    listeners: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = (),
) -> None:
    """Poll the adapters and send until `stop`. `listeners` are the servers of push
    adapters (controllers that post their passes to the gateway), run until `stop` too."""
    stop = stop or asyncio.Event()
    sending = asyncio.create_task(uploader.run(stop=stop))
    serving = [asyncio.create_task(listen(stop)) for listen in listeners]
    try:
        while not stop.is_set():
            try:
                await read_adapters(outbox, adapters)
            except Exception:  # a controller that fails to answer must not stop the others
                log.exception("reading the controllers failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_interval)
    finally:
        stop.set()
        await asyncio.gather(*serving, return_exceptions=True)
        await sending
