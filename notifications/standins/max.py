"""A stand-in for the MAX Bot API (max.ru), following MAX's published OpenAPI schema
(`max-messenger` on GitHub: schema.yaml) and the payloads the real service sends.

The bot's side: `GET /me`; `POST /messages?chat_id=|user_id=` (text and attachments, an
inline keyboard among them); `PUT /messages?message_id=` (edit); `POST /answers?callback_id=`
(answer a button, optionally replacing its message); `GET /updates` (long polling with a
`marker`); `GET/POST/DELETE /subscriptions` (webhooks: updates are then POSTed to the URL with
the subscription's secret in `X-Max-Bot-Api-Secret`). The token comes in the `Authorization`
header (or, as older docs say, the `access_token` query parameter).

Errors as MAX answers them, with a JSON body `{"code": ..., "message": ...}`: 401 `verify.token`
for a wrong token, 403 `chat.denied` for a dialog whose person blocked (suspended) the bot, 429
`too.many.requests` past the limits (30 requests a second per bot, as MAX publishes for
platform-api.max.ru: sends, edits and answers alike; and one message a second per chat like
Telegram's, which MAX does not publish), 404 `not.found` for an unknown message.

The people's side, for tests and the demo: `start` (the person pressed Start, perhaps through a
deep link with a payload), `send_text`, `press` (a callback button), `block` (the person
stopped the bot: a `bot_stopped` update, and sends to the dialog are refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from dataclasses import dataclass, field
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

BOT_USER_ID = 229_229_229
TEXT_LIMIT = 4000  # NewMessageBody.text maxLength
POLL_LIMIT_SECONDS = 90  # GET /updates: timeout at most 90


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Dialog:
    """A person's dialog with the bot."""

    chat_id: int
    user_id: int
    name: str
    blocked: bool = False


@dataclass
class StoredMessage:
    mid: str
    seq: int
    chat_id: int
    user_id: int
    text: str
    attachments: list[dict[str, Any]]
    from_bot: bool
    timestamp: int = field(default_factory=_ms)
    edits: int = 0


class MaxStandIn:
    def __init__(
        self,
        token: str = "",
        *,
        bot_rate: float = 30,
        chat_rate: float = 1,
        enforce: bool = True,
        username: str = "parta_bot",
    ) -> None:
        self.port = free_port()
        self.token = token
        self.username = username
        # Sends the bot made (`received.items`: chat_id, user_id, text, message_id, buttons) and
        # the ones refused (`received.rejected`: chat_id, status, code).
        self.received = Received()
        self.edits: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.enforce = enforce
        self.bot_window = SlidingWindow(bot_rate)
        self.chat_window = SlidingWindow(chat_rate)
        self.answer_429: int = 0  # answer the next n sends 429 whatever the windows say
        self.too_many = 0
        self.dialogs: dict[int, Dialog] = {}  # by chat_id
        self.messages: dict[str, StoredMessage] = {}  # by mid
        self.subscriptions: list[dict[str, Any]] = []
        self.webhook_answers: list[int] = []  # HTTP statuses the webhook answered
        self.hold = SendHold()  # tests: sends held (a bot killed with an answer in flight)
        # Updates in order; `updates[i]` has the marker `i + 1`, and a poll with marker m
        # gets the updates from index m - 1 on. Without a marker: the ones not yet committed.
        self.updates: list[dict[str, Any]] = []
        self.committed = 0
        self._arrived = asyncio.Condition()
        self._seq = itertools.count(1)
        self._callbacks = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pushes: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget everything (the tests share one stand-in for the session)."""
        self.received.clear()
        self.edits.clear()
        self.answers.clear()
        self.answer_429 = 0
        self.too_many = 0
        self.dialogs.clear()
        self.messages.clear()
        self.subscriptions.clear()
        self.webhook_answers.clear()
        self.updates.clear()
        self.committed = 0
        self.bot_window.times.clear()
        self.chat_window.times.clear()

    # ---- the people's side ------------------------------------------------------------------

    def dialog(self, chat_id: int, user_id: int | None = None, name: str = "Анна") -> Dialog:
        """The dialog with this chat id, opened if new (MAX gives a dialog its own chat id)."""
        found = self.dialogs.get(chat_id)
        if found is None:
            found = Dialog(chat_id, user_id if user_id is not None else chat_id + 1_000_000, name)
            self.dialogs[chat_id] = found
        return found

    def _user(self, dialog: Dialog) -> dict[str, Any]:
        return {
            "user_id": dialog.user_id,
            "first_name": dialog.name,
            "last_name": "",
            "username": None,
            "is_bot": False,
            "last_activity_time": _ms(),
            "name": dialog.name,
        }

    def _bot_user(self) -> dict[str, Any]:
        return {
            "user_id": BOT_USER_ID,
            "first_name": "Парта",
            "last_name": None,
            "username": self.username,
            "is_bot": True,
            "last_activity_time": _ms(),
            "name": "Парта",
        }

    def _message_json(self, message: StoredMessage) -> dict[str, Any]:
        dialog = self.dialogs[message.chat_id]
        return {
            "sender": self._bot_user() if message.from_bot else self._user(dialog),
            "recipient": {
                "chat_id": message.chat_id,
                "chat_type": "dialog",
                # In a dialog the recipient names the other side.
                "user_id": dialog.user_id if message.from_bot else BOT_USER_ID,
            },
            "timestamp": message.timestamp,
            "body": {
                "mid": message.mid,
                "seq": message.seq,
                "text": message.text,
                "attachments": message.attachments or None,
            },
        }

    def _store(
        self, chat_id: int, text: str, attachments: list[dict[str, Any]], from_bot: bool
    ) -> StoredMessage:
        seq = next(self._seq)
        message = StoredMessage(
            mid=f"mid.{seq:032x}",
            seq=seq,
            chat_id=chat_id,
            user_id=self.dialogs[chat_id].user_id,
            text=text,
            attachments=attachments,
            from_bot=from_bot,
        )
        self.messages[message.mid] = message
        return message

    async def push(self, update: dict[str, Any]) -> None:
        """Queue an update for the bot: to the webhook when subscribed, else for /updates."""
        update.setdefault("timestamp", _ms())
        async with self._arrived:
            self.updates.append(update)
            self._arrived.notify_all()
        for subscription in list(self.subscriptions):
            types = subscription.get("update_types")
            if types and update["update_type"] not in types:
                continue
            task = asyncio.create_task(self._deliver(subscription, update))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)

    async def _deliver(self, subscription: dict[str, Any], update: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {}
        if subscription.get("secret"):
            headers["X-Max-Bot-Api-Secret"] = subscription["secret"]
        # MAX retries a failed delivery for hours; a stand-in tries a few times.
        for _ in range(3):
            with contextlib.suppress(aiohttp.ClientError):
                async with self._session.post(
                    subscription["url"], json=update, headers=headers
                ) as answer:
                    self.webhook_answers.append(answer.status)
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.2)

    async def start_bot(self, chat_id: int, payload: str | None = None, **who: Any) -> None:
        """The person pressed Start (through a deep link `max.ru/<bot>/start/<payload>`)."""
        dialog = self.dialog(chat_id, **who)
        dialog.blocked = False
        update: dict[str, Any] = {
            "update_type": "bot_started",
            "chat_id": chat_id,
            "user": self._user(dialog),
            "user_locale": "ru",
        }
        if payload is not None:
            update["payload"] = payload
        await self.push(update)

    async def send_text(self, chat_id: int, text: str, **who: Any) -> str:
        """The person wrote to the bot; returns the message's mid."""
        dialog = self.dialog(chat_id, **who)
        message = self._store(chat_id, text, [], from_bot=False)
        await self.push(
            {
                "update_type": "message_created",
                "message": self._message_json(message),
                "user_locale": "ru",
            }
        )
        assert dialog.chat_id == chat_id
        return message.mid

    async def press(self, mid: str, payload: str, *, forged: bool = False) -> str:
        """The person pressed a callback button of the bot's message `mid`; returns the
        callback_id. `forged`: a modified client sends a payload no button carries."""
        message = self.messages[mid]
        dialog = self.dialogs[message.chat_id]
        buttons = [b for row in self.keyboard(mid) for b in row]
        carried = any(b.get("type") == "callback" and b.get("payload") == payload for b in buttons)
        if not carried and not forged:
            raise AssertionError(f"no callback button {payload!r} on {mid}")
        callback_id = f"cb{next(self._callbacks):08d}"
        await self.push(
            {
                "update_type": "message_callback",
                "callback": {
                    "timestamp": _ms(),
                    "callback_id": callback_id,
                    "payload": payload,
                    "user": self._user(dialog),
                },
                "message": self._message_json(message),
                "user_locale": "ru",
            }
        )
        return callback_id

    async def block(self, chat_id: int) -> None:
        """The person stopped (blocked) the bot."""
        dialog = self.dialogs[chat_id]
        dialog.blocked = True
        await self.push(
            {
                "update_type": "bot_stopped",
                "chat_id": chat_id,
                "user": self._user(dialog),
                "user_locale": "ru",
            }
        )

    def keyboard(self, mid: str) -> list[list[dict[str, Any]]]:
        """The inline keyboard's buttons of a message (rows of buttons)."""
        for attachment in self.messages[mid].attachments:
            if attachment.get("type") == "inline_keyboard":
                return list(attachment.get("payload", {}).get("buttons") or [])
        return []

    def sent_to(self, chat_id: int) -> list[StoredMessage]:
        """The bot's messages in a dialog, as they are now (after edits)."""
        return [m for m in self.messages.values() if m.chat_id == chat_id and m.from_bot]

    # ---- the bot's side ---------------------------------------------------------------------

    @staticmethod
    def _fail(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status)

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization") or request.query.get("access_token", "")
        given = given.removeprefix("Bearer ").strip()
        return bool(given) and (not self.token or given == self.token)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._authorized(request):
            return self._fail(401, "verify.token", "Invalid access_token")
        result: web.StreamResponse = await handler(request)
        return result

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response(
            {**self._bot_user(), "description": "Электронный дневник «Парта»", "commands": None}
        )

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._fail(400, "proto.payload", "Invalid JSON")
        if not isinstance(body, dict):
            return self._fail(400, "proto.payload", "Expected an object")
        text = body.get("text")
        if text is not None and len(text) > TEXT_LIMIT:
            return self._fail(400, "proto.payload", f"text: size must be at most {TEXT_LIMIT}")
        for attachment in body.get("attachments") or []:
            if attachment.get("type") != "inline_keyboard":
                continue
            for row in attachment.get("payload", {}).get("buttons") or []:
                for button in row:
                    if not 1 <= len(button.get("text") or "") <= 128:
                        return self._fail(400, "proto.payload", "button text: 1..128 characters")
                    if button.get("type") == "callback" and len(button.get("payload", "")) > 1024:
                        return self._fail(400, "proto.payload", "button payload: at most 1024")
        return body

    def _too_many(self, chat_id: int | None) -> web.Response | None:
        """MAX's limits: 30 requests a second for the bot (every send, edit and answer counts:
        MAX publishes its limit per request), and, for a send (`chat_id` given), the chat's
        own pace."""
        wait = 0.0
        if self.answer_429 > 0:
            self.answer_429 -= 1
            wait = 1.0
        elif self.enforce:
            wait = self.bot_window.hit("bot")
            if chat_id is not None and not wait:
                wait = self.chat_window.hit(str(chat_id))
        if not wait:
            return None
        self.too_many += 1
        self.received.reject(chat_id=chat_id, status=429, code="too.many.requests")
        return self._fail(
            429, "too.many.requests", f"Too many requests, retry in {math.ceil(wait)} s"
        )

    async def _send(self, request: web.Request) -> web.Response:
        if await self.hold.gone(request):
            return self._fail(500, "internal", "the sender went away")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        chat_id = request.query.get("chat_id")
        user_id = request.query.get("user_id")
        dialog: Dialog | None = None
        if chat_id is not None:
            dialog = self.dialogs.get(int(chat_id))
        elif user_id is not None:
            dialog = next((d for d in self.dialogs.values() if d.user_id == int(user_id)), None)
        else:
            return self._fail(400, "proto.payload", "chat_id or user_id is required")
        if dialog is None:
            # A number MAX does not know as a dialog of this bot.
            return self._fail(404, "chat.not.found", f"Chat {chat_id or user_id} not found")
        limited = self._too_many(dialog.chat_id)
        if limited is not None:
            return limited
        if dialog.blocked:
            self.received.reject(chat_id=dialog.chat_id, status=403, code="chat.denied")
            return self._fail(
                403, "chat.denied", f"Key: error.dialog.suspended, args: [{dialog.user_id},]."
            )
        attachments = list(body.get("attachments") or [])
        message = self._store(dialog.chat_id, body.get("text") or "", attachments, from_bot=True)
        self.received.add(
            chat_id=dialog.chat_id,
            user_id=dialog.user_id,
            text=message.text,
            message_id=message.mid,
            buttons=[
                [b.get("text") for b in row]
                for a in attachments
                if a.get("type") == "inline_keyboard"
                for row in a.get("payload", {}).get("buttons") or []
            ],
        )
        return web.json_response({"message": self._message_json(message)})

    def _edit(self, mid: str, body: dict[str, Any]) -> bool:
        message = self.messages.get(mid)
        if message is None or not message.from_bot:
            return False
        if body.get("text") is not None:
            message.text = body["text"]
        if body.get("attachments") is not None:  # null: keep; []: remove all
            message.attachments = list(body["attachments"])
        message.edits += 1
        self.edits.append({"message_id": mid, "chat_id": message.chat_id, "text": message.text})
        return True

    async def _put_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        mid = request.query.get("message_id", "")
        if not mid:
            return self._fail(400, "proto.payload", "message_id is required")
        limited = self._too_many(None)
        if limited is not None:
            return limited
        if not self._edit(mid, body):
            return self._fail(404, "not.found", f"Message {mid} not found")
        return web.json_response({"success": True})

    async def _answer(self, request: web.Request) -> web.Response:
        callback_id = request.query.get("callback_id", "").strip()
        if not callback_id:
            return self._fail(400, "proto.payload", "callback_id is required")
        try:
            body = await request.json()
        except ValueError:
            return self._fail(400, "proto.payload", "Invalid JSON")
        pressed = next(
            (
                u
                for u in self.updates
                if u["update_type"] == "message_callback"
                and u["callback"]["callback_id"] == callback_id
            ),
            None,
        )
        if pressed is None:
            return self._fail(404, "not.found", f"Callback {callback_id} not found")
        limited = self._too_many(None)
        if limited is not None:
            return limited
        self.answers.append({"callback_id": callback_id, **body})
        if body.get("message"):
            self._edit(pressed["message"]["body"]["mid"], body["message"])
        return web.json_response({"success": True})

    async def _updates(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
            timeout = int(request.query.get("timeout", "30"))
            marker_text = request.query.get("marker")
            marker = int(marker_text) if marker_text not in (None, "", "null") else None
        except ValueError:
            return self._fail(400, "proto.payload", "limit, timeout and marker are numbers")
        if not (1 <= limit <= 1000 and 0 <= timeout <= POLL_LIMIT_SECONDS):
            return self._fail(400, "proto.payload", "limit 1..1000, timeout 0..90")
        if self.subscriptions:
            return self._fail(405, "method.not.allowed", "Bot is subscribed to WebHook")
        types = [t for t in request.query.get("types", "").split(",") if t]
        # Passing a marker commits everything before it.
        start = self.committed if marker is None else max(0, marker - 1)
        self.committed = max(self.committed, start)

        def ready() -> list[dict[str, Any]]:
            page = self.updates[start:]
            return [u for u in page if not types or u["update_type"] in types]

        async with self._arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._arrived.wait_for(lambda: bool(ready()) or self._closing), timeout
                )
        page = ready()[:limit]
        end = self.updates.index(page[-1]) + 1 if page else start
        return web.json_response({"updates": page, "marker": end + 1})

    async def _subscriptions(self, request: web.Request) -> web.Response:
        return web.json_response({"subscriptions": self.subscriptions})

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await request.json()
        url = body.get("url") or ""
        secret = body.get("secret")
        if not url.startswith(("http://", "https://")):
            return self._fail(400, "proto.payload", "url: must be an http(s) URL")
        if secret is not None and not (
            5 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)
        ):
            return self._fail(400, "proto.payload", "secret: 5-256 characters of A-Z a-z 0-9 _ -")
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        self.subscriptions.append(
            {
                "url": url,
                "time": _ms(),
                "update_types": body.get("update_types"),
                "version": body.get("version"),
                "secret": secret,
            }
        )
        return web.json_response({"success": True})

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        url = request.query.get("url", "")
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        if len(self.subscriptions) == before:
            return web.json_response({"success": False, "message": "Subscription not found"})
        return web.json_response({"success": True})

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/me", self._me)
        app.router.add_post("/messages", self._send)
        app.router.add_put("/messages", self._put_message)
        app.router.add_post("/answers", self._answer)
        app.router.add_get("/updates", self._updates)
        app.router.add_get("/subscriptions", self._subscriptions)
        app.router.add_post("/subscriptions", self._subscribe)
        app.router.add_delete("/subscriptions", self._unsubscribe)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        runner = self._runner
        await on_a_free_port(self, lambda: web.TCPSite(runner, "127.0.0.1", self.port).start())

    async def stop(self) -> None:
        # Long polls waiting for updates answer now, so that the server stops at once.
        self._closing = True
        async with self._arrived:
            self._arrived.notify_all()
        for task in list(self._pushes):
            task.cancel()
        if self._session is not None:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()
