"""The bot as a process: both messengers on one webhook server, each checked by its secret
header (Telegram's X-Telegram-Bot-Api-Secret-Token, MAX's X-Max-Bot-Api-Secret)."""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import SecretStr

from backend.messaging.tables import MessengerChat
from backend.settings import Settings
from bots.max import WEBHOOK_PATH as MAX_WEBHOOK_PATH
from bots.runner import BotProcess
from bots.telegram import WEBHOOK_PATH
from notifications.standins.common import free_port
from tests.integration.bots.conftest import TelegramPerson
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import make_family


def _with(settings: Settings, **changes: Any) -> Settings:
    fields = {name: getattr(settings, name) for name in Settings.model_fields}
    return Settings.model_validate({**fields, **changes})


async def test_a_webhook_without_the_secret_header_is_refused(notify: Notify) -> None:
    world = notify.world
    family = await make_family(world)
    await MessengerChat.delete().where(MessengerChat.chat_id == family.chat_id)
    port = free_port()
    settings = _with(
        notify.settings,
        bot_mode="webhook",
        bot_port=port,
        telegram_webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        telegram_webhook_secret=SecretStr("s3cret-of-the-webhook"),
        max_webhook_url=f"http://127.0.0.1:{port}{MAX_WEBHOOK_PATH}",
        max_webhook_secret=SecretStr("s3cret-of-the-max-webhook"),
    )
    process = BotProcess(settings, world.redis, world.app.state.diary_weeks)
    telegram = notify.standins.telegram
    telegram.webhook_answers.clear()  # the stand-ins live for the session
    telegram.messages.clear()
    await process.start()
    try:
        assert telegram.webhook_url == settings.telegram_webhook_url
        # MAX is set up too (the stand-ins' settings carry its token): one server, both routes.
        assert [sub["url"] for sub in notify.standins.max.subscriptions] == [
            settings.max_webhook_url
        ]
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": family.chat_id, "type": "private"},
                "from": {"id": family.chat_id, "is_bot": False, "first_name": "Х"},
                "text": "/start",
            },
        }
        url = settings.telegram_webhook_url
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
                async with session.post(url, json=update, headers=headers) as forged:
                    assert forged.status == 401
            for headers in ({}, {"X-Max-Bot-Api-Secret": "guess"}):
                async with session.post(
                    settings.max_webhook_url, json={"update_type": "bot_started"}, headers=headers
                ) as forged:
                    assert forged.status == 401
            async with session.get(f"http://127.0.0.1:{port}/health") as health:
                assert health.status == 200
        assert telegram.chat(family.chat_id) == []  # the forged update was never read

        # Telegram itself (the stand-in, with the secret) is heard and answered.
        person = TelegramPerson(notify, family.chat_id)
        welcome = await person.type("/start")
        assert welcome["text"].startswith("Здравствуйте!")
        assert telegram.webhook_answers == [200]
    finally:
        await process.stop()
        telegram.webhook_url = telegram.webhook_secret = ""
