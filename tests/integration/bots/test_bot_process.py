"""The bot as a process: webhooks checked by Telegram's and MAX's secret headers, /stop and
blocking unlink the chat, and alerts stop with it."""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import SecretStr

from backend.messaging.tables import Delivery, MessengerChat
from backend.settings import Settings
from bots.max import WEBHOOK_PATH as MAX_WEBHOOK_PATH
from bots.runner import BotProcess
from bots.telegram import WEBHOOK_PATH, TelegramBot
from notifications.standins.common import free_port
from tests.integration.bots.conftest import Person
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import emit_mark, make_family, wait_for


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
        person = Person(notify, family.chat_id)
        welcome = await person.type("/start")
        assert welcome["text"].startswith("Здравствуйте!")
        assert telegram.webhook_answers == [200]
    finally:
        await process.stop()
        telegram.webhook_url = telegram.webhook_secret = ""


async def test_stop_unlinks_the_chat_and_alerts_stop(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    world = notify.world
    family = await make_family(world, channels=["telegram"])
    await notify.start()
    person = Person(notify, family.chat_id)

    await emit_mark(family, "5")

    def alerts() -> list[dict[str, Any]]:
        # Without the family's consent to send personal data abroad, Telegram carries a
        # neutral text (notifications' rule); it is an alert all the same.
        return [m for m in person.messages() if m["text"].startswith("В «Парте» новое")]

    await wait_for(alerts)

    stopped = await person.type("/stop")
    assert stopped["text"].startswith("Чат отключён")
    row = await MessengerChat.select().where(MessengerChat.chat_id == family.chat_id).first()
    assert row["unlinked_at"] is not None and row["unlinked_reason"] == "stopped"

    await emit_mark(family, "4")
    await emit_mark(family, "3")

    async def settled() -> bool:
        skipped = await Delivery.count().where(
            (Delivery.user_id == family.user_id)
            & (Delivery.channel == "telegram")
            & (Delivery.status == "skipped")
        )
        return skipped == 2

    await wait_for(settled, seconds=20)
    assert len(alerts()) == 1
    answer = await person.type("/week")
    assert answer["text"].startswith("Этот чат не подключён")


async def test_a_person_who_blocked_the_bot_is_unlinked(
    notify: Notify, telegram_bot: TelegramBot
) -> None:
    world = notify.world
    family = await make_family(world)
    notify.standins.telegram.blocked.add(family.chat_id)
    notify.standins.call(notify.standins.telegram.type_text(family.chat_id, "/today"))

    async def unlinked() -> bool:
        row = await MessengerChat.select().where(MessengerChat.chat_id == family.chat_id).first()
        return row["unlinked_at"] is not None and row["unlinked_reason"] == "blocked"

    await wait_for(unlinked)
