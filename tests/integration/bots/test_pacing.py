"""One limit, not two that add up: the bot's answers and the notifications worker's alerts to the
same messenger take their places in the same Redis windows (`messenger_rates`: 30 a second for
the bot, MAX's published 30 requests a second and Telegram's 30 messages; one a second per
chat). A burst through both at once, to the same chats, never makes the stand-in, which counts
as the messenger does, answer 429, and no second of its arrivals holds more than the limit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.integration.bots.conftest import Messenger
from tests.integration.notifications.helpers import emit_mark, make_family, wait_for
from tests.support import make_tenancy

FAMILIES = 60  # 120 messages: four seconds at least at 30 a second
HELP = "Что умеет бот"


def busiest_second(times: list[float]) -> int:
    """The most arrivals within any one second (a little less, for the clocks' rounding)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 0.99:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_a_burst_through_the_bot_and_the_worker_keeps_one_shared_limit(
    messenger: Messenger,
) -> None:
    notify = messenger.notify
    world = notify.world
    school = (await make_tenancy(world))["school_a"]
    families = [
        await make_family(world, school_id=school, channels=[messenger.name], n=n)
        for n in range(1, FAMILIES + 1)
    ]
    chats = {f.chat_id if messenger.name == "telegram" else f.max_chat_id: f for f in families}
    people = [messenger.person(chat_id) for chat_id in chats]
    if messenger.name == "max":
        for chat_id in chats:
            notify.standins.max.dialog(chat_id)  # each parent has a dialog with the bot
    await notify.start()
    limit = int(
        notify.settings.notify_telegram_rate
        if messenger.name == "telegram"
        else notify.settings.notify_max_rate
    )
    received = (
        notify.standins.telegram.received
        if messenger.name == "telegram"
        else notify.standins.max.received
    )

    def arrived() -> list[dict[str, Any]]:
        return [m for m in received.items if m["chat_id"] in chats]

    # An alert about a mark to every chat; once the worker is sending them, every parent
    # asks the bot something: both want the same seconds and the same chats.
    for family in families:
        await emit_mark(family, "5")
    await wait_for(arrived, seconds=60)
    asked_at = time.time()
    await asyncio.gather(*(person.send("/help") for person in people))

    await wait_for(lambda: len(arrived()) >= 2 * FAMILIES, seconds=120)
    messages = arrived()
    answers = [m["at"] for m in messages if m["text"].startswith(HELP)]
    alerts = [m["at"] for m in messages if not m["text"].startswith(HELP)]
    assert len(answers) == FAMILIES and len(alerts) == FAMILIES
    # The two really wanted the same seconds: every parent asked while the worker was still
    # sending alerts (the bot answers from its inbox, so which of the two the shared limit lets
    # go first is the limiter's business, not the test's).
    assert min(alerts) < asked_at < max(alerts)
    # ... and together they kept the one limit: nothing refused, no second over it.
    assert messenger.too_many() == 0
    assert busiest_second(answers + alerts) <= limit
    for chat_id in chats:  # one a second in a chat: the alert and the answer a second apart
        mine = sorted(m["at"] for m in messages if m["chat_id"] == chat_id)
        assert mine[1] - mine[0] >= 0.95, (chat_id, mine)
