"""What only MAX has: its webhook subscription (a forged post without the subscription's
secret refused, MAX's own post answered) and its 429 without a pause given. The conversation
itself runs on MAX and Telegram alike in test_conversation.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from backend.settings import Settings
from bots.core import FamilyBot
from bots.max import SECRET_HEADER, WEBHOOK_PATH, MaxBot
from notifications.standins.common import free_port
from tests.integration.bots.conftest import MaxPerson, build_bot
from tests.integration.notifications.conftest import Notify


@pytest.fixture
async def webhook(notify: Notify) -> AsyncIterator[tuple[MaxBot, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    settings = Settings.model_validate(
        {
            **{name: getattr(notify.settings, name) for name in Settings.model_fields},
            "bot_mode": "webhook",
            "max_webhook_url": url,
            "max_webhook_secret": SecretStr("the-subscription-secret"),
        }
    )
    world = notify.world
    bot = MaxBot(
        settings, world.redis, FamilyBot(settings, world.redis, world.app.state.diary_weeks)
    )
    app = web.Application()
    bot.webhook_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield bot, url
    await bot.stop()
    await runner.cleanup()


async def test_a_forged_webhook_is_refused_and_maxs_own_is_answered(
    notify: Notify, webhook: tuple[MaxBot, str]
) -> None:
    bot, url = webhook
    update = {
        "update_type": "bot_started",
        "timestamp": 1,
        "chat_id": 700_091,
        "user": {"user_id": 1, "first_name": "Злоумышленник", "is_bot": False},
    }
    async with httpx.AsyncClient() as client:
        for headers in ({}, {SECRET_HEADER: "guessed-secret"}):
            refused = await client.post(url, json=update, headers=headers)
            assert refused.status_code == 401
    await asyncio.sleep(0.5)
    assert not [m for m in notify.standins.max.received.items if m["chat_id"] == 700_091]

    # MAX's own post carries the subscription's secret: the bot answers it.
    with pytest.warns(UserWarning):  # maxapi: the URL is not https
        await bot.set_webhook()
    assert [s["url"] for s in notify.standins.max.subscriptions] == [url]
    person = MaxPerson(notify, 700_092)
    welcome = await person.start()
    assert welcome["text"].startswith("Здравствуйте! Это бот «Парты»")
    assert notify.standins.max.webhook_answers[-1] == 200


@pytest.fixture
async def max_bot(notify: Notify) -> AsyncIterator[MaxBot]:
    bot, _ = build_bot("max", notify)
    assert isinstance(bot, MaxBot)
    await bot.start_polling()
    yield bot
    await bot.stop()


async def test_maxs_429_is_waited_out_and_the_reply_arrives(
    notify: Notify, max_bot: MaxBot
) -> None:
    person = MaxPerson(notify, 700_101)
    notify.standins.max.answer_429 = 1  # MAX refuses the next send: too many requests
    welcome = await person.start()
    assert welcome["text"].startswith("Здравствуйте! Это бот «Парты»")
    assert notify.standins.max.too_many == 1
    assert len(person.messages()) == 1  # sent once, after the pause
    assert not [m for m in person.messages() if "Не получилось" in m["text"]]
