"""`parta bot`: the family bot as a process of its own, started through the composition root.

One `FamilyBot` core serves every messenger whose token is set; each messenger's adapter
either long-polls (`PARTA_BOT_MODE=polling`: development, the demo) or is served as a webhook
on one small aiohttp server (`webhook`: production), which also answers `/health`. A messenger
adds its adapter to `ADAPTERS` (a factory returning None when that messenger is not set up).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from aiohttp import web
from redis.asyncio import Redis

from backend import bootstrap
from backend.journal.weeks import DiaryWeeks
from backend.meals.payments import Payments
from backend.settings import Settings
from bots.core import FamilyBot

log = logging.getLogger("parta.bot")
REDIS_CONNECTIONS = 200


class Adapter(Protocol):
    """One messenger's side of the bot process."""

    async def start_polling(self) -> None: ...

    def webhook_routes(self, app: web.Application) -> None: ...

    async def set_webhook(self) -> None: ...

    async def stop(self) -> None: ...


def _telegram(settings: Settings, redis: Redis, core: FamilyBot) -> Adapter | None:
    if not settings.telegram_bot_token.get_secret_value():
        return None
    from bots.telegram import TelegramBot

    return TelegramBot(settings, redis, core)


def _max(settings: Settings, redis: Redis, core: FamilyBot) -> Adapter | None:
    if not settings.max_bot_token.get_secret_value():
        return None
    from bots.max import MaxBot

    return MaxBot(settings, redis, core)


AdapterFactory = Callable[[Settings, Redis, FamilyBot], "Adapter | None"]
ADAPTERS: list[AdapterFactory] = [_telegram, _max]


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


class BotProcess:
    """The core and the adapters of every messenger set up, in one mode."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        diary_weeks: DiaryWeeks,
        payments: Payments | None = None,
    ) -> None:
        self.settings = settings
        self.core = FamilyBot(settings, redis, diary_weeks, payments)
        self.adapters = [
            adapter
            for factory in ADAPTERS
            if (adapter := factory(settings, redis, self.core)) is not None
        ]
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        """The webhook server: each adapter's route (checked by its secret) and `/health`."""
        app = web.Application()
        app.router.add_get("/health", _health)
        for adapter in self.adapters:
            adapter.webhook_routes(app)
        return app

    async def start(self) -> None:
        if not self.adapters:
            raise RuntimeError(
                "no messenger is set up: PARTA_TELEGRAM_BOT_TOKEN and PARTA_MAX_BOT_TOKEN are empty"
            )
        if self.settings.bot_mode == "polling":
            for adapter in self.adapters:
                await adapter.start_polling()
            return
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.bot_host, self.settings.bot_port).start()
        for adapter in self.adapters:
            await adapter.set_webhook()

    async def stop(self) -> None:
        for adapter in self.adapters:
            await adapter.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def run_bot(settings: Settings) -> None:
    """`parta bot`: runs until SIGINT/SIGTERM."""
    from backend.logs import configure_logging

    configure_logging(settings)
    # A pool where a caller waits for a free connection: the adapters answer at most
    # `CONCURRENCY` updates each at once, and each answer holds one or two connections.
    parta = bootstrap.build(settings, redis_connections=REDIS_CONNECTIONS)
    await parta.start()
    process = BotProcess(settings, parta.redis, parta.diary_weeks, parta.payments)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await process.start()
    log.info("bot started", extra={"mode": settings.bot_mode})
    try:
        await stop.wait()
    finally:
        await process.stop()
        await parta.stop()
