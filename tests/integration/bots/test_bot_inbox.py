"""The bot's inbox (decision 0609) on both engines: an update kept once per key, held by one
process at a time, free again after the lease or a failed try, never returned once answered."""

from __future__ import annotations

from datetime import timedelta

from backend.messaging import bot_inbox
from tests.conftest import Backend


def _keys(rows: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [r["update_key"] for r in rows]


async def test_an_update_is_held_by_one_taker_and_answered_once(world: Backend) -> None:
    first = await bot_inbox.record("telegram", [("1", {"update_id": 1}), ("2", {"u": 2})])
    assert _keys(first) == ["1", "2"]
    assert first[0]["payload"] == {"update_id": 1}
    # Handed over again (a webhook retried, a page polled again) while held: nobody takes it.
    assert await bot_inbox.record("telegram", [("1", {"update_id": 1})]) == []
    assert await bot_inbox.claim_waiting("telegram") == []
    # The same key on the other messenger is another update.
    assert _keys(await bot_inbox.record("max", [("1", {"x": 1})])) == ["1"]

    # A failed try lets it go: the next sweep (of any copy) takes it, once.
    await bot_inbox.failed(first[1]["id"])
    again = await bot_inbox.claim_waiting("telegram")
    assert _keys(again) == ["2"] and again[0]["attempts"] == 1
    assert await bot_inbox.claim_waiting("telegram") == []

    # A holder that died: free after the lease; its late renewal is refused.
    taken = await bot_inbox.claim_waiting("telegram", lease=timedelta(0))
    assert _keys(taken) == ["1", "2"]
    assert await bot_inbox.hold(first[0]["id"], first[0]["claimed_at"]) is None
    assert await bot_inbox.hold(taken[0]["id"], taken[0]["claimed_at"]) is not None

    await bot_inbox.answered([r["id"] for r in taken])
    assert await bot_inbox.claim_waiting("telegram", lease=timedelta(0)) == []
    assert await bot_inbox.record("telegram", [("1", {"update_id": 1})], lease=timedelta(0)) == []
    assert await bot_inbox.purge(older_than=timedelta(0)) == 2
