"""A stand-in for the Telegram Bot API (`POST /bot<token>/<method>`), enough for the bot's
sends: getMe and sendMessage, with Telegram's limits (about 30 messages a second per bot,
one a second per chat) answered by 429 "retry after", and 403 for chats that blocked the bot."""

from __future__ import annotations

import math
import time
from typing import Any

from aiohttp import web

from notifications.standins.common import Received, SlidingWindow, free_port


class TelegramStandIn:
    def __init__(self, bot_rate: float = 30, chat_rate: float = 1, enforce: bool = True) -> None:
        self.port = free_port()
        self.received = Received()
        self.blocked: set[int] = set()
        self.enforce = enforce
        self.bot_window = SlidingWindow(bot_rate)
        self.chat_window = SlidingWindow(chat_rate)
        self.answer_429: list[int] = []
        self.too_many = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _fail(code: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        form = dict(await request.post())
        if method == "getMe":
            return web.json_response(
                {
                    "ok": True,
                    "result": {
                        "id": 1,
                        "is_bot": True,
                        "first_name": "Парта",
                        "username": "parta_bot",
                    },
                }
            )
        if method != "sendMessage":
            return self._fail(404, "Not Found: method not found")
        chat_id = int(str(form.get("chat_id", "0")))
        text = str(form.get("text", ""))
        if self.answer_429:
            retry = self.answer_429.pop(0)
            self.too_many += 1
            self.received.reject(chat_id=chat_id, status=429)
            return self._fail(429, f"Too Many Requests: retry after {retry}", retry)
        if self.enforce:
            wait = max(self.bot_window.hit(token), self.chat_window.hit(str(chat_id)))
            if wait:
                self.too_many += 1
                retry = max(1, math.ceil(wait))
                self.received.reject(chat_id=chat_id, status=429)
                return self._fail(429, f"Too Many Requests: retry after {retry}", retry)
        if chat_id in self.blocked:
            self.received.reject(chat_id=chat_id, status=403)
            return self._fail(403, "Forbidden: bot was blocked by the user")
        message_id = len(self.received.items) + 1
        self.received.add(chat_id=chat_id, text=text, message_id=message_id)
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": text,
                },
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
