"""The MAX channel: a mark reaches a MAX-linked guardian through the worker and the MAX Bot API
stand-in (maxapi's real client), once; a dialog that blocked the bot is unlinked and the next
channel takes over; MAX's 429 is waited out; quiet hours hold MAX like Telegram."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from backend.messaging.tables import Delivery, MessengerChat
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import emit_mark, make_family, wait_for


async def _statuses(event_id: int) -> dict[str, str]:
    rows = await Delivery.select(Delivery.channel, Delivery.status).where(
        Delivery.event_id == event_id
    )
    return {r["channel"]: r["status"] for r in rows}


async def test_a_mark_reaches_a_max_linked_guardian_once(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["max"])
    max_api = notify.standins.max
    max_api.dialog(family.max_chat_id)  # the guardian's dialog with the bot
    await notify.start()
    event_id = await emit_mark(family, value="5", subject="Математика")

    await wait_for(lambda: max_api.received.items)

    async def sent() -> bool:
        return (await _statuses(event_id)).get("max") == "sent"

    await wait_for(sent)
    await asyncio.sleep(0.5)  # a second send, if there were one, would have arrived by now
    assert len(max_api.received.items) == 1
    message = max_api.received.items[0]
    assert message["chat_id"] == family.max_chat_id
    # MAX is a service in Russia: the full text goes without cross-border consent (0605).
    assert "Математика" in message["text"] and "«5»" in message["text"]
    row = await Delivery.select().where(Delivery.event_id == event_id).first()
    assert row["attempts"] == 1
    assert row["provider_id"] == f"{family.max_chat_id}:{message['message_id']}"
    # Nothing went to the other channels.
    assert not notify.standins.telegram.received.items
    assert not notify.standins.fcm.received.items


async def test_a_dialog_that_blocked_the_bot_is_unlinked_and_push_takes_over(
    notify: Notify,
) -> None:
    family = await make_family(notify.world, channels=["max"])
    max_api = notify.standins.max
    max_api.dialog(family.max_chat_id).blocked = True
    await notify.start()
    event_id = await emit_mark(family)

    async def unlinked() -> bool:
        row = (
            await MessengerChat.select()
            .where(
                (MessengerChat.messenger == "max") & (MessengerChat.chat_id == family.max_chat_id)
            )
            .first()
        )
        return row["unlinked_at"] is not None and row["unlinked_reason"] == "blocked"

    await wait_for(unlinked)
    assert [r["code"] for r in max_api.received.rejected] == ["chat.denied"]
    # MAX failed for good: the first channel of the fallback order not yet tried (push)
    # takes over.
    await wait_for(lambda: notify.standins.fcm.received.items)
    assert (await _statuses(event_id))["max"] == "failed"
    # The Telegram chat with its own number is another chat and stays linked.
    telegram = (
        await MessengerChat.select()
        .where((MessengerChat.messenger == "telegram") & (MessengerChat.chat_id == family.chat_id))
        .first()
    )
    assert telegram["unlinked_at"] is None


async def test_max_429_is_waited_out(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["max"])
    max_api = notify.standins.max
    max_api.dialog(family.max_chat_id)
    max_api.answer_429 = 1
    await notify.start()
    event_id = await emit_mark(family)

    async def sent() -> bool:
        return (await _statuses(event_id)).get("max") == "sent"

    await wait_for(sent, seconds=20)
    assert max_api.too_many == 1
    assert len(max_api.received.items) == 1
    row = await Delivery.select().where(Delivery.event_id == event_id).first()
    assert row["attempts"] == 2


async def test_quiet_hours_hold_max_like_telegram(notify: Notify) -> None:
    family = await make_family(
        notify.world, channels=["max", "telegram"], time_zone="Europe/Moscow"
    )
    notify.standins.max.dialog(family.max_chat_id)
    notify.clock.fixed = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    worker = await notify.start()
    event_id = await emit_mark(family)

    async def held() -> bool:
        return await _statuses(event_id) == {"max": "waiting", "telegram": "waiting"}

    await wait_for(held)
    rows = await Delivery.select().where(Delivery.event_id == event_id)
    # Both wait for the end of the school's quiet hours: 07:00 in Moscow, 04:00 UTC.
    assert {r["scheduled_for"] for r in rows} == {datetime(2026, 11, 21, 4, 0, tzinfo=UTC)}
    assert not notify.standins.max.received.items
    max_row = next(r for r in rows if r["channel"] == "max")
    notify.clock.fixed = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
    assert await worker.pipeline.deliver(max_row["id"]) == "sent"
    assert len(notify.standins.max.received.items) == 1
