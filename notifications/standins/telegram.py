"""A stand-in for the Telegram Bot API (`POST /bot<token>/<method>`), following its published
formats (https://core.telegram.org/bots/api): what the notifications worker and the family bot
use of it.

- Sends: `sendMessage` and `editMessageText`, with Telegram's limits (about 30 messages a
  second per bot, one a second per chat) answered by 429 "retry after", 403 for chats that
  blocked the bot, and 400 "message is not modified" for an edit that changes nothing.
- The bot's side: `getMe`, `getUpdates` (long polling over queued updates, with `offset` and
  `timeout`), `answerCallbackQuery`, `setWebhook` / `deleteWebhook` (with a webhook set, each
  update is posted there with the `X-Telegram-Bot-Api-Secret-Token` header, as Telegram does).
- The person's side, for tests and the demo: `type_text`, `press` and `block` queue what a
  person would do in a chat; `GET /standin/chats/<id>` shows the chat and
  `POST /standin/chats/<id>` (JSON
  `{"text": ...}` or `{"press": <button data>}`) types into it from a terminal.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from typing import Any

import aiohttp
from aiohttp import web

from notifications.standins.common import (
    Received,
    SendHold,
    SlidingWindow,
    free_port,
    on_a_free_port,
)

BOT_USER = {"id": 1, "is_bot": True, "first_name": "Парта", "username": "parta_bot"}


class TelegramStandIn:
    def __init__(self, bot_rate: float = 30, chat_rate: float = 1, enforce: bool = True) -> None:
        self.port = free_port()
        self.received = Received()  # sendMessage, as the worker's tests count them
        self.edited = Received()  # editMessageText that changed a message
        self.answered = Received()  # answerCallbackQuery
        self.blocked: set[int] = set()
        self.enforce = enforce
        self.bot_window = SlidingWindow(bot_rate)
        self.chat_window = SlidingWindow(chat_rate)
        self.answer_429: list[int] = []
        self.too_many = 0
        self.unchanged = 0  # edits refused as "message is not modified"
        # The chats as a person sees them: (chat id, message id) -> text and buttons.
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_answers: list[int] = []
        self.hold = SendHold()  # tests: sends held (a bot killed with an answer in flight)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._arrived: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _fail(code: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    # ---- the person's side -------------------------------------------------------------------

    @staticmethod
    def _person(chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "Родитель", "language_code": "ru"}

    async def type_text(self, chat_id: int, text: str) -> None:
        """A person types `text` in their private chat with the bot."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Родитель"},
            "from": self._person(chat_id),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        await self._arrive({"message": message})

    async def press(self, chat_id: int, message_id: int, data: str) -> None:
        """A person presses the button carrying `data` under the bot's message."""
        shown = self.messages.get((chat_id, message_id))
        if shown is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        query = {
            "id": str(next(self._callback_ids)),
            "from": self._person(chat_id),
            "chat_instance": str(chat_id),
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Родитель"},
                "from": BOT_USER,
                "text": shown["text"],
            },
        }
        await self._arrive({"callback_query": query})

    async def block(self, chat_id: int) -> None:
        """The person blocks the bot: sends to the chat are refused (403) from now on, and the
        bot gets the `my_chat_member` update Telegram sends (the bot is "kicked")."""
        self.blocked.add(chat_id)
        await self._arrive(
            {
                "my_chat_member": {
                    "chat": {"id": chat_id, "type": "private", "first_name": "Родитель"},
                    "from": self._person(chat_id),
                    "date": int(time.time()),
                    "old_chat_member": {"status": "member", "user": BOT_USER},
                    "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
                }
            }
        )

    async def _arrive(self, update: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook_url:
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret}
            async with (
                aiohttp.ClientSession() as session,
                session.post(self.webhook_url, json=update, headers=headers) as answer,
            ):
                self.webhook_answers.append(answer.status)
            return
        self.updates.append(update)
        if self._arrived is not None:
            self._arrived.set()

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's messages from the bot, oldest first, as shown now (edits applied)."""
        return [
            {"message_id": mid, **shown}
            for (cid, mid), shown in sorted(self.messages.items())
            if cid == chat_id
        ]

    def buttons(self, chat_id: int, message_id: int) -> list[tuple[str, str]]:
        """The (label, data) of every button under a message; a link button's URL as its data
        (the page a person would open)."""
        markup = self.messages[(chat_id, message_id)].get("reply_markup") or {}
        return [
            (b["text"], b.get("callback_data") or b.get("url", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    # ---- the Bot API -------------------------------------------------------------------------

    def _limited(self, token: str, chat_id: int) -> web.Response | None:
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
        return None

    @staticmethod
    def _markup(form: dict[str, Any]) -> dict[str, Any] | None:
        raw = form.get("reply_markup")
        return json.loads(str(raw)) if raw else None

    async def _send(self, token: str, form: dict[str, Any]) -> web.Response:
        chat_id = int(str(form.get("chat_id", "0")))
        text = str(form.get("text", ""))
        refused = self._limited(token, chat_id)
        if refused is not None:
            return refused
        message_id = next(self._message_ids)
        markup = self._markup(form)
        self.messages[(chat_id, message_id)] = {"text": text, "reply_markup": markup}
        self.received.add(chat_id=chat_id, text=text, message_id=message_id, reply_markup=markup)
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": text,
        }
        if markup:
            result["reply_markup"] = markup
        return self._ok(result)

    async def _edit(self, token: str, form: dict[str, Any]) -> web.Response:
        chat_id = int(str(form.get("chat_id", "0")))
        message_id = int(str(form.get("message_id", "0")))
        text = str(form.get("text", ""))
        markup = self._markup(form)
        shown = self.messages.get((chat_id, message_id))
        if shown is None:
            return self._fail(400, "Bad Request: message to edit not found")
        if shown["text"] == text and shown["reply_markup"] == markup:
            self.unchanged += 1
            return self._fail(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        refused = self._limited(token, chat_id)
        if refused is not None:
            return refused
        self.messages[(chat_id, message_id)] = {"text": text, "reply_markup": markup}
        self.edited.add(chat_id=chat_id, message_id=message_id, text=text)
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "text": text,
        }
        if markup:
            result["reply_markup"] = markup
        return self._ok(result)

    async def _get_updates(self, form: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return self._fail(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(str(form.get("offset") or 0))
        timeout = min(float(str(form.get("timeout") or 0)), 50.0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self.updates and time.monotonic() < deadline:
            self._arrived = asyncio.Event()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        limit = int(str(form.get("limit") or 100))
        return self._ok(self.updates[:limit])

    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        form = dict(await request.post())
        if method == "getMe":
            return self._ok(BOT_USER)
        if method == "sendMessage":
            if await self.hold.gone(request):
                return self._fail(500, "Internal Server Error: the sender went away")
            return await self._send(token, form)
        if method == "editMessageText":
            return await self._edit(token, form)
        if method == "getUpdates":
            return await self._get_updates(form)
        if method == "answerCallbackQuery":
            self.answered.add(callback_query_id=str(form.get("callback_query_id", "")))
            return self._ok(True)
        if method == "setWebhook":
            self.webhook_url = str(form.get("url", ""))
            self.webhook_secret = str(form.get("secret_token", ""))
            return self._ok(True)
        if method == "deleteWebhook":
            self.webhook_url = self.webhook_secret = ""
            return self._ok(True)
        return self._fail(404, "Not Found: method not found")

    # ---- the demo's window on the chats ------------------------------------------------------

    async def show_chat(self, request: web.Request) -> web.Response:
        chat_id = int(request.match_info["chat_id"])
        return web.json_response(self.chat(chat_id))

    async def act_in_chat(self, request: web.Request) -> web.Response:
        chat_id = int(request.match_info["chat_id"])
        body = await request.json()
        if "press" in body:
            mine = [
                m
                for m in self.chat(chat_id)
                if any(d == body["press"] for _, d in self.buttons(chat_id, m["message_id"]))
            ]
            if not mine:
                return web.json_response({"error": "no such button"}, status=404)
            await self.press(chat_id, mine[-1]["message_id"], str(body["press"]))
        else:
            await self.type_text(chat_id, str(body.get("text", "")))
        return web.json_response({"ok": True})

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        app.router.add_get("/standin/chats/{chat_id}", self.show_chat)
        app.router.add_post("/standin/chats/{chat_id}", self.act_in_chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        runner = self._runner
        await on_a_free_port(self, lambda: web.TCPSite(runner, "127.0.0.1", self.port).start())

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
