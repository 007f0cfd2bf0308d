"""The coalescer behind the diary's reads: lookups of the same moment share one fetch."""

from __future__ import annotations

import asyncio

import pytest

from backend.core.batching import Coalescer


class Store:
    """A fetch that records each batch and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def fetch(self, keys: list[int]) -> dict[int, str]:
        self.batches.append(keys)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {k: f"v{k}" for k in keys if k % 10 != 0}  # keys ending in 0 have no row


async def test_lookups_of_one_moment_share_one_fetch() -> None:
    store = Store()
    reads = Coalescer(store.fetch)
    found = await asyncio.gather(*(reads.get(k) for k in [1, 2, 3, 2, 10]))
    assert found == ["v1", "v2", "v3", "v2", None]
    assert store.batches == [[1, 2, 3, 10]]  # each key asked for once


async def test_a_lone_lookup_waits_for_nothing() -> None:
    store = Store()
    reads = Coalescer(store.fetch)
    assert await asyncio.wait_for(reads.get(7), timeout=0.5) == "v7"
    assert await reads.get(8) == "v8"
    assert store.batches == [[7], [8]]


async def test_lookups_during_busy_fetches_wait_and_go_together() -> None:
    store = Store()
    store.gate.clear()
    reads = Coalescer(store.fetch, concurrency=1)
    first = asyncio.ensure_future(reads.get(1))
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(reads.get(k)) for k in (4, 5, 6)]
    await asyncio.sleep(0.01)
    assert store.batches == [[1]]  # the others wait for the fetch under way
    store.gate.set()
    assert await first == "v1"
    assert await asyncio.gather(*later) == ["v4", "v5", "v6"]
    assert store.batches == [[1], [4, 5, 6]]


async def test_batches_are_bounded() -> None:
    store = Store()
    reads = Coalescer(store.fetch, max_batch=3)
    found = await asyncio.gather(*(reads.get(k) for k in range(1, 8)))
    assert found == [f"v{k}" for k in range(1, 8)]
    assert [len(b) for b in store.batches] == [3, 3, 1]


async def test_a_failed_fetch_fails_its_lookups_and_not_the_next() -> None:
    store = Store()
    reads = Coalescer(store.fetch)
    store.fail = ConnectionError("database away")
    results = await asyncio.gather(reads.get(1), reads.get(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    store.fail = None
    assert await reads.get(3) == "v3"


async def test_a_lookup_given_up_leaves_the_others_answered() -> None:
    store = Store()
    store.gate.clear()
    reads = Coalescer(store.fetch, concurrency=1)
    busy = asyncio.ensure_future(reads.get(1))
    await asyncio.sleep(0.01)
    gone = asyncio.ensure_future(reads.get(2))  # a client that hangs up while waiting
    kept = asyncio.ensure_future(reads.get(3))
    await asyncio.sleep(0.01)
    gone.cancel()
    store.gate.set()
    assert await busy == "v1"
    assert await kept == "v3"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert store.batches == [[1], [3]]  # the lookup given up was not asked for


class Stalling(Store):
    """A fetch whose first call stalls (held at `gate`) while later calls answer at once."""

    async def fetch(self, keys: list[int]) -> dict[int, str]:
        self.batches.append(keys)
        if len(self.batches) == 1:
            await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            return {k: f"late{k}" for k in keys}
        return {k: f"v{k}" for k in keys}


async def test_a_stalled_fetch_is_asked_again_and_the_first_answer_taken() -> None:
    store = Stalling()
    store.gate.clear()
    reads = Coalescer(store.fetch, hedge_after=0.02)
    started = asyncio.get_running_loop().time()
    assert await asyncio.gather(reads.get(1), reads.get(2)) == ["v1", "v2"]
    assert asyncio.get_running_loop().time() - started < 0.5
    assert store.batches == [[1, 2], [1, 2]] and reads.hedged == 1
    store.gate.set()  # the stalled one finishes later; its answer is dropped
    await asyncio.sleep(0.01)
    assert await reads.get(3) == "v3"


async def test_a_fast_fetch_is_not_asked_twice() -> None:
    store = Store()
    reads = Coalescer(store.fetch, hedge_after=0.02)
    assert await asyncio.gather(reads.get(1), reads.get(2)) == ["v1", "v2"]
    assert store.batches == [[1, 2]] and reads.hedged == 0


async def test_a_failed_second_ask_still_takes_the_first_answer() -> None:
    attempts: list[int] = []
    release = asyncio.Event()

    async def fetch(keys: list[int]) -> dict[int, str]:
        attempts.append(len(attempts))
        if len(attempts) == 2:
            raise ConnectionError("the hedge failed")
        await release.wait()
        return {k: f"v{k}" for k in keys}

    reads: Coalescer[int, str] = Coalescer(fetch, hedge_after=0.02)
    pending = asyncio.ensure_future(reads.get(5))
    await asyncio.sleep(0.05)
    assert attempts == [0, 1] and not pending.done()
    release.set()
    assert await pending == "v5"


async def test_when_both_asks_fail_the_readers_get_the_error() -> None:
    store = Stalling()
    store.gate.clear()
    store.fail = ConnectionError("database away")

    async def failing_second(keys: list[int]) -> dict[int, str]:
        if store.batches:
            store.batches.append(keys)
            raise ConnectionError("still away")
        return await store.fetch(keys)

    reads = Coalescer(failing_second, hedge_after=0.02)
    pending = asyncio.ensure_future(reads.get(1))
    await asyncio.sleep(0.05)
    store.gate.set()
    with pytest.raises(ConnectionError, match="database away"):
        await pending
