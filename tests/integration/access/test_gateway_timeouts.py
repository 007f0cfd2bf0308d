"""The gateway's HTTP client gives up on a silent network within seconds (decision 0909)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gateway.events import ControllerEvent
from gateway.outbox import Outbox
from gateway.uploader import CONNECT_TIMEOUT, Uploader, make_client


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose SYNs go unanswered: a listener with a backlog of 0, filled and never
    accepted; Linux then drops further connection attempts silently, as a cut network does."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for s in [*fillers, server]:
        s.close()


def one_pass(tmp_path: Path) -> Outbox:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    event = ControllerEvent("c1-1", "123,45678", "wiegand26", 1, "in", "granted", datetime.now(UTC))
    outbox.add([event])
    return outbox


async def test_a_send_into_a_silent_network_fails_within_the_connect_timeout(
    blackhole: int, tmp_path: Path
) -> None:
    outbox = one_pass(tmp_path)
    async with make_client(f"http://127.0.0.1:{blackhole}") as client:
        uploader = Uploader(outbox, client, 1, "key")
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout):
            await uploader.flush()
        took = time.monotonic() - started
    # The former client waited 30 s; the kernel alone would retry the SYN for ~2 minutes.
    assert CONNECT_TIMEOUT - 0.5 <= took <= CONNECT_TIMEOUT + 2, took
    assert outbox.counts()["pending"] == 1
    outbox.close()


async def test_a_server_that_never_answers_a_batch_is_given_up_after_the_send_timeout(
    tmp_path: Path,
) -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # reads everything, answers nothing

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    outbox = one_pass(tmp_path)
    try:
        async with make_client(f"http://127.0.0.1:{port}") as client:
            uploader = Uploader(outbox, client, 1, "key", send_timeout=2.0)
            started = time.monotonic()
            with pytest.raises(httpx.TimeoutException):
                await uploader.flush()
            took = time.monotonic() - started
    finally:
        server.close()
    assert 1.9 <= took <= 3.5, took
    assert outbox.counts()["pending"] == 1
    outbox.close()
