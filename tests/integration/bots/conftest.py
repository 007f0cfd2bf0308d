"""Fixtures of the bot's tests: the real aiogram bot polling the Telegram Bot API stand-in (the
notifications tests' stand-ins, so alerts and the conversation share one Telegram), on each
engine, and a person typing in chats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bots.core import FamilyBot
from bots.telegram import TelegramBot
from notifications.standins.telegram import TelegramStandIn
from tests.integration.notifications.conftest import Notify, notify, standins  # noqa: F401
from tests.integration.notifications.helpers import wait_for


@dataclass
class Person:
    """Someone typing in their Telegram chat with the bot, and what they see."""

    notify: Notify
    chat_id: int

    @property
    def telegram(self) -> TelegramStandIn:
        return self.notify.standins.telegram

    def messages(self) -> list[dict[str, Any]]:
        return self.telegram.chat(self.chat_id)

    def last(self) -> dict[str, Any]:
        return self.messages()[-1]

    def _seen(self) -> tuple[int, int]:
        sent = sum(1 for m in self.telegram.received.items if m["chat_id"] == self.chat_id)
        edits = sum(1 for m in self.telegram.edited.items if m["chat_id"] == self.chat_id)
        return sent, edits

    async def _on_standin(self, work: Any) -> None:
        """Run on the stand-ins' loop without blocking this one (a webhook is served here)."""
        loop = self.notify.standins._loop
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))

    async def type(self, text: str, replies: int = 1) -> dict[str, Any]:
        """Type a message and wait for the bot's `replies` new messages; the last one."""
        sent, _ = self._seen()
        await self._on_standin(self.telegram.type_text(self.chat_id, text))
        await wait_for(lambda: self._seen()[0] >= sent + replies, seconds=20)
        return self.last()

    async def press(
        self, data: str, *, message: dict[str, Any] | None = None, changes: bool = True
    ) -> dict[str, Any]:
        """Press the button with `data` under `message` (the last one by default) and wait
        for the bot to edit that message (or, for a stale one, to answer anew); with
        `changes=False`, only for the press to be answered."""
        message = message or self.last()
        sent, edits = self._seen()
        answered = len(self.telegram.answered.items)
        await self._on_standin(self.telegram.press(self.chat_id, message["message_id"], data))
        await wait_for(
            lambda: (
                len(self.telegram.answered.items) > answered
                and (not changes or self._seen()[1] > edits or self._seen()[0] > sent)
            ),
            seconds=20,
        )
        if not changes:
            await asyncio.sleep(1.5)  # whatever the bot would say has had its time
        return next(
            (m for m in self.messages() if m["message_id"] == message["message_id"]), self.last()
        )

    def button(self, label_part: str, message: dict[str, Any] | None = None) -> str:
        """The data of the button whose label contains `label_part`."""
        message = message or self.last()
        for label, data in self.telegram.buttons(self.chat_id, message["message_id"]):
            if label_part in label:
                return data
        raise AssertionError(f"no button {label_part!r} under {message['text']!r}")


@pytest.fixture
async def telegram_bot(notify: Notify) -> AsyncIterator[TelegramBot]:  # noqa: F811
    notify.standins.telegram.edited.clear()
    notify.standins.telegram.answered.clear()
    notify.standins.telegram.messages.clear()
    notify.standins.telegram.updates.clear()
    world = notify.world
    core = FamilyBot(notify.settings, world.redis, world.app.state.diary_weeks)
    bot = TelegramBot(notify.settings, world.redis, core)
    await bot.start_polling()
    yield bot
    await bot.stop()
