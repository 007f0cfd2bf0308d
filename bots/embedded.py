"""The family bot in the embedded mode (`parta demo`): it long-polls the Telegram and MAX Bot
API stand-ins that the notifications companion runs, so the demo's alerts and conversations
share one Telegram and one MAX. `/demo/telegram/<chat id>` shows a chat (GET) and types into it
(POST `{"text": "..."}`, or `{"press": "<button data>"}` to press a button of the chat's latest
message that has it): a newcomer links a chat and talks to the bot with curl. `/demo/max/<dialog
id>` does the same in MAX, and `{"start": "<payload>"}` presses Start as the deep link would.
Found by `backend.core.embedded` through the `parta.embedded` entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from litestar import get, post
from litestar.exceptions import NotFoundException
from redis.asyncio import Redis

from backend.core.http import PUBLIC
from backend.i18n import t
from backend.journal.diary import refresh_projections
from backend.journal.weeks import DiaryWeeks
from backend.settings import Settings
from notifications.standins.suite import StandIns

log = logging.getLogger("parta.bot")
PAGE = "/demo/telegram"
MAX_PAGE = "/demo/max"  # the same for the MAX stand-in's dialogs (POST also {"start": "<code>"})
STANDINS_WAIT_SECONDS = 60.0


class EmbeddedBot:
    def __init__(self, settings: Settings, redis: Redis, directory: Path) -> None:
        self.settings, self.redis = settings, redis
        self.diary_weeks = DiaryWeeks(refresh=refresh_projections)
        self.process: Any = None
        self._starting: asyncio.Task[None] | None = None

    def settings_overrides(self) -> dict[str, Any]:
        """The API's deep links name the stand-ins' bots (their getMe says parta_bot)."""
        return {"telegram_bot_username": "parta_bot", "max_bot_username": "parta_bot"}

    async def start(self) -> None:
        # The stand-ins are the notifications companion's; it may start after this one.
        self._starting = asyncio.create_task(self._start_when_ready())

    async def _start_when_ready(self) -> None:
        from bots.runner import BotProcess

        loop = asyncio.get_running_loop()
        deadline = loop.time() + STANDINS_WAIT_SECONDS
        while StandIns.running is None:
            if loop.time() > deadline:
                log.warning("the demo's Telegram stand-in did not start: no bot")
                return
            await asyncio.sleep(0.1)
        standins = StandIns.running
        fields = {name: getattr(self.settings, name) for name in Settings.model_fields}
        settings = Settings.model_validate(
            {
                **fields,
                **standins.settings(self.settings),
                # Top-ups from the bot go to the YooKassa stand-in, as the API's do.
                **standins.payment_settings(self.settings),
                "bot_mode": "polling",
            }
        )
        self.process = BotProcess(settings, self.redis, self.diary_weeks)
        await self.process.start()

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        if self.process is not None:
            await self.process.stop()
        await self.diary_weeks.close()

    def route_handlers(self) -> list[Any]:
        def standins() -> StandIns:
            if StandIns.running is None:
                raise NotFoundException()
            return StandIns.running

        @get(f"{PAGE}/{{chat_id:int}}", opt=PUBLIC, include_in_schema=False)
        async def show(chat_id: int) -> list[dict[str, Any]]:
            tg = standins().telegram
            return [
                {
                    "message_id": m["message_id"],
                    "text": m["text"],
                    "buttons": tg.buttons(chat_id, m["message_id"]),
                }
                for m in tg.chat(chat_id)
            ]

        @post(f"{PAGE}/{{chat_id:int}}", opt=PUBLIC, include_in_schema=False, status_code=202)
        async def act(chat_id: int, data: dict[str, Any]) -> dict[str, str]:
            suite = standins()
            tg = suite.telegram
            if "press" in data:
                pressed = str(data["press"])
                carrying = [
                    m["message_id"]
                    for m in tg.chat(chat_id)
                    if any(d == pressed for _, d in tg.buttons(chat_id, m["message_id"]))
                ]
                if not carrying:
                    raise NotFoundException()
                work = tg.press(chat_id, carrying[-1], pressed)
            else:
                work = tg.type_text(chat_id, str(data.get("text", ""))[:4096])
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, suite._loop))
            return {"status": "accepted"}

        @get(f"{MAX_PAGE}/{{chat_id:int}}", opt=PUBLIC, include_in_schema=False)
        async def show_max(chat_id: int) -> list[dict[str, Any]]:
            max_api = standins().max
            return [
                {
                    "message_id": m.mid,
                    "text": m.text,
                    "buttons": [
                        [b.get("text"), b.get("payload") or b.get("url")]
                        for row in max_api.keyboard(m.mid)
                        for b in row
                    ],
                }
                for m in max_api.sent_to(chat_id)
            ]

        @post(f"{MAX_PAGE}/{{chat_id:int}}", opt=PUBLIC, include_in_schema=False, status_code=202)
        async def act_max(chat_id: int, data: dict[str, Any]) -> dict[str, str]:
            suite = standins()
            max_api = suite.max
            work: Coroutine[Any, Any, Any]
            if "press" in data:
                pressed = str(data["press"])
                carrying = [
                    m.mid
                    for m in max_api.sent_to(chat_id)
                    if any(
                        b.get("payload") == pressed for row in max_api.keyboard(m.mid) for b in row
                    )
                ]
                if not carrying:
                    raise NotFoundException()
                work = max_api.press(carrying[-1], pressed)
            elif "start" in data:
                work = max_api.start_bot(chat_id, str(data["start"])[:128] or None)
            else:
                work = max_api.send_text(chat_id, str(data.get("text", ""))[:4000])
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, suite._loop))
            return {"status": "accepted"}

        return [show, act, show_max, act_max]

    def describe(self, url: str) -> list[str]:
        return [
            t("bot.demo", url=f"{url}{PAGE}/200001"),
            t("bot.demo_max", url=f"{url}{MAX_PAGE}/300001"),
        ]
