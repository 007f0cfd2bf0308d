"""The family bot on MAX (max.ru), through the `maxapi` library used as a client (decision
0606): MAX's updates, read as MAX publishes them (JSON, `update_type`), go to the conversation
core (`bots.core.FamilyBot`), and `MaxChat` speaks for the core.

- `bot_started` (Start pressed, perhaps through the deep link `https://max.ru/<bot>?start=<code>`,
  whose payload comes with the update) is `/start <payload>`; `message_created` in a dialog is a
  typed text; `message_callback` is a button press (the message edited in place);
  `bot_stopped` (the person stopped or blocked the bot) unlinks the dialog.
- Modes: long polling (`polling`: development, `parta demo`; `GET /updates` with a marker) or a
  webhook (`webhook`: production; MAX posts each update with the subscription's secret in
  `X-Max-Bot-Api-Secret`, and a request without it is answered 401 and never read).
- Either way an update is kept in the bot's inbox (`bots.inbox`, decision 0609) before MAX hears
  it arrived (the marker moved past it, the webhook's 200): a process killed at any moment
  answers it after its restart, once.
- Every send, edit and callback answer is paced with the notifications worker's own limits in
  the same Redis keys (`notifications.delivery.messenger_rates`): one shared limit per bot and
  per dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from maxapi import Bot
from maxapi.enums.update import UpdateType
from maxapi.exceptions.max import MaxApiError, MaxConnection
from maxapi.types.attachments.buttons import CallbackButton, LinkButton
from maxapi.types.updates.message_callback import MessageForCallback
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder
from redis.asyncio import Redis

from backend.settings import Settings
from bots.core import ChatGone, FamilyBot, NotAnswered, Reply
from bots.inbox import Inbox
from notifications.delivery import messenger_rates
from notifications.max_client import RETRY_AFTER_429, error_code, max_bot
from notifications.pacing import Pacer, Rate
from notifications.templates import MAX_LIMIT, clip

log = logging.getLogger("parta.bot.max")
T = TypeVar("T")
MESSENGER = "max"
WEBHOOK_PATH = "/max/webhook"
SECRET_HEADER = "X-Max-Bot-Api-Secret"
UPDATE_TYPES = [
    UpdateType.BOT_STARTED,
    UpdateType.BOT_STOPPED,
    UpdateType.MESSAGE_CREATED,
    UpdateType.MESSAGE_CALLBACK,
]
POLL_TIMEOUT = 25  # seconds a long poll waits (MAX allows up to 90)
RETRIES_AFTER_429 = 2


def keyboard(reply: Reply) -> list[Any]:
    """The reply's buttons as MAX's inline keyboard attachment (callback and link buttons)."""
    if not reply.buttons:
        return []
    builder = InlineKeyboardBuilder()
    for row in reply.buttons:
        builder.row(
            *(
                LinkButton(text=b.text, url=b.url)
                if b.url
                else CallbackButton(text=b.text, payload=b.data)
                for b in row
            )
        )
    return [builder.as_markup()]


class MaxChat:
    """The core's port on MAX (`bots.core.Chat`).

    A button press is answered the way MAX answers them: `POST /answers` with the message's new
    text and keyboard, which stops the button's spinner and edits the message in one request.
    While a press is being handled its callback waits in `pressed` (message id -> callback id):
    the core's empty `answer` is then no request of its own, and its `edit` of that message is
    the answer. A press that edited nothing is answered empty when the core is done."""

    messenger = MESSENGER

    def __init__(self, bot: Bot, settings: Settings, pacer: Pacer) -> None:
        self.bot, self.settings, self.pacer = bot, settings, pacer
        self.pressed: dict[str, str] = {}

    async def _paced(self, chat_id: int | None, call: Callable[[], Awaitable[T]]) -> T:
        limits: list[Rate] = messenger_rates(self.settings, MESSENGER, chat_id)
        for attempt in range(RETRIES_AFTER_429 + 1):
            await self.pacer.acquire(*limits)
            ticket = await self.pacer.enter(*limits)
            try:
                return await call()
            except (MaxConnection, aiohttp.ClientError) as exc:
                raise NotAnswered(repr(exc)) from exc  # out of reach: the update waits
            except MaxApiError as exc:
                if exc.code == 429 and attempt < RETRIES_AFTER_429:
                    # MAX refused one too many: everyone (the worker too) waits, then again.
                    await self.pacer.hold(limits[0].key, RETRY_AFTER_429)
                    continue
                if exc.code == 403:
                    raise ChatGone(error_code(exc) or "forbidden") from exc
                if exc.code >= 500 or exc.code == 429:
                    raise NotAnswered(error_code(exc) or str(exc.code)) from exc
                raise
            finally:
                await self.pacer.leave(ticket)
        raise AssertionError("unreachable")

    async def send(self, chat_id: int, reply: Reply) -> str:
        sent = await self._paced(
            chat_id,
            lambda: self.bot.send_message(
                chat_id=chat_id,
                text=clip(reply.text, MAX_LIMIT),
                attachments=keyboard(reply),
                disable_link_preview=True,
            ),
        )
        if sent is None or sent.message.body is None:
            raise RuntimeError("MAX answered a send without the message")
        return sent.message.body.mid

    async def edit(self, chat_id: int, message_id: str, reply: Reply) -> None:
        # The keyboard goes with every edit: an edit without it (maxapi sends `attachments: []`)
        # removes it in MAX.
        callback_id = self.pressed.pop(message_id, None)
        if callback_id is not None:
            body = MessageForCallback(text=clip(reply.text, MAX_LIMIT), attachments=keyboard(reply))
            try:
                await self._paced(
                    chat_id, lambda: self.bot.send_callback(callback_id=callback_id, message=body)
                )
                return
            except MaxApiError as exc:
                if exc.code == 403:
                    raise
                # The press is too old to answer with a message: edit the message itself.
                log.info("MAX callback answer refused (%s): editing instead", error_code(exc))
        try:
            await self._paced(
                chat_id,
                lambda: self.bot.edit_message(
                    message_id=message_id,
                    text=clip(reply.text, MAX_LIMIT),
                    attachments=keyboard(reply),
                ),
            )
        except MaxApiError as exc:
            code = error_code(exc)
            if "not.modified" in code:
                return  # the same text pressed again: nothing to change, nothing wrong
            if exc.code == 404:
                await self.send(chat_id, reply)  # deleted or too old: answer anew
                return
            raise

    async def answer(self, callback_id: str, text: str = "") -> None:
        if not text and callback_id in self.pressed.values():
            return  # the edit that follows answers it (see the class)
        await self._paced(
            None, lambda: self.bot.send_callback(callback_id=callback_id, notification=text or None)
        )


def dialog_chat(message: dict[str, Any] | None) -> int | None:
    """The dialog's chat id of a message, or None for a group chat or a channel (the bot
    speaks to one person at a time: groups are not linked)."""
    recipient = (message or {}).get("recipient") or {}
    if recipient.get("chat_type") != "dialog" or recipient.get("chat_id") is None:
        return None
    return int(recipient["chat_id"])


def update_key(update: dict[str, Any]) -> str:
    """What makes an update the same when MAX hands it over again (MAX's updates carry no id):
    a message's mid, a press's callback id, or a start's or stop's chat, user and time."""
    kind = str(update.get("update_type") or "")
    if kind == "message_created":
        mid = ((update.get("message") or {}).get("body") or {}).get("mid")
        if mid:
            return f"m:{mid}"
    elif kind == "message_callback":
        callback_id = (update.get("callback") or {}).get("callback_id")
        if callback_id:
            return f"c:{callback_id}"
    elif kind in ("bot_started", "bot_stopped") and update.get("timestamp") is not None:
        user = (update.get("user") or {}).get("user_id")
        return f"{kind}:{update.get('chat_id')}:{user}:{update['timestamp']}"
    canonical = json.dumps(update, sort_keys=True, ensure_ascii=False).encode()
    return "h:" + hashlib.sha256(canonical).hexdigest()


def update_chat(update: dict[str, Any]) -> int | None:
    """The dialog an update belongs to (its answers go in order)."""
    if update.get("update_type") in ("bot_started", "bot_stopped"):
        chat = update.get("chat_id")
        return int(chat) if chat is not None else None
    return dialog_chat(update.get("message"))


class MaxBot:
    """The MAX side of the bot process: the maxapi client around a core."""

    def __init__(self, settings: Settings, redis: Redis, core: FamilyBot) -> None:
        self.settings, self.core = settings, core
        self.bot = max_bot(settings.max_bot_token.get_secret_value(), settings.max_api_url)
        self.chat = MaxChat(
            self.bot, settings, Pacer(redis, headroom=settings.notify_rate_headroom)
        )
        self._polling: asyncio.Task[None] | None = None
        # Kept until answered; at most CONCURRENCY at once, one dialog's in order.
        self.inbox = Inbox(MESSENGER, self.handle, update_chat)

    # -- updates -------------------------------------------------------------------------------

    async def handle(self, update: dict[str, Any]) -> None:
        """One update as MAX sends it (long polling or webhook)."""
        kind = update.get("update_type")
        if kind == "bot_started":
            started = int(update["chat_id"])
            payload = (update.get("payload") or "").strip()
            await self.core.on_text(self.chat, started, f"/start {payload}".strip())
        elif kind == "bot_stopped":
            stopped = int(update["chat_id"])
            await self.core.unlink(MESSENGER, stopped, "blocked")
        elif kind == "message_created":
            message = update.get("message") or {}
            chat_id = dialog_chat(message)
            sender = message.get("sender") or {}
            text = ((message.get("body") or {}).get("text") or "").strip()
            if chat_id is None or sender.get("is_bot") or not text:
                return
            await self.core.on_text(self.chat, chat_id, text)
        elif kind == "message_callback":
            callback = update.get("callback") or {}
            pressed = update.get("message")
            chat_id = dialog_chat(pressed)
            if chat_id is None or pressed is None:
                # The message is gone (or not a dialog's): stop the button's spinner only.
                with contextlib.suppress(MaxApiError, MaxConnection):
                    await self.chat.answer(callback["callback_id"])
                return
            await self._press(chat_id, pressed["body"]["mid"], callback)

    async def _press(self, chat_id: int, mid: str, callback: dict[str, Any]) -> None:
        callback_id = callback["callback_id"]
        self.chat.pressed[mid] = callback_id
        try:
            await self.core.on_button(
                self.chat, chat_id, mid, callback_id, callback.get("payload") or ""
            )
        finally:
            if self.chat.pressed.pop(mid, None) is not None:
                # Nothing edited that message (the core sent a new one, or nothing): the
                # press is answered empty, which stops the button's spinner.
                with contextlib.suppress(MaxApiError, MaxConnection, ChatGone):
                    await self.chat.answer(callback_id)

    # -- long polling --------------------------------------------------------------------------

    async def start_polling(self) -> None:
        """Long polling in a task of its own (`stop` ends it). A webhook subscription left from
        production would make MAX refuse polling (405): it is removed first."""
        subscriptions = await self.bot.get_subscriptions()
        for subscription in subscriptions.subscriptions:
            await self.bot.unsubscribe_webhook(url=subscription.url)
        await self.inbox.start()
        self._polling = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        marker: int | None = None
        while True:
            try:
                page = await self.bot.get_updates(
                    marker=marker, timeout=POLL_TIMEOUT, types=UPDATE_TYPES
                )
            except asyncio.CancelledError:
                raise
            except (MaxApiError, MaxConnection, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("MAX long polling failed: %s", exc)
                await asyncio.sleep(2)
                continue
            updates = [u for u in page.get("updates") or [] if isinstance(u, dict)]
            try:
                await self.inbox.take([(update_key(u), u) for u in updates])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Not kept: the marker stays, and MAX hands the same updates over again.
                log.warning("MAX updates not kept (%r): asked for again", exc)
                await asyncio.sleep(2)
                continue
            if page.get("marker") is not None:
                marker = int(page["marker"])

    # -- webhook -------------------------------------------------------------------------------

    def webhook_routes(self, app: web.Application) -> None:
        """Serve MAX's posts at `WEBHOOK_PATH`, refusing any without the subscription's secret."""
        secret = self.settings.max_webhook_secret.get_secret_value()
        if not secret or not self.settings.max_webhook_url:
            raise RuntimeError(
                "PARTA_MAX_WEBHOOK_URL and PARTA_MAX_WEBHOOK_SECRET are required for webhooks"
            )
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.on_startup.append(lambda _: self.inbox.start())

    async def _webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.max_webhook_secret.get_secret_value()
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=401)
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(update, dict):
            return web.Response(status=400)
        # MAX wants its 200 at once (it retries anything else): the update is kept first (a
        # database write), and answered meanwhile.
        try:
            await self.inbox.take([(update_key(update), update)])
        except Exception as exc:
            log.warning("MAX update not kept (%r): MAX will post it again", exc)
            return web.Response(status=503)
        return web.json_response({"ok": True})

    async def set_webhook(self) -> None:
        await self.bot.subscribe_webhook(
            url=self.settings.max_webhook_url,
            update_types=UPDATE_TYPES,
            secret=self.settings.max_webhook_secret.get_secret_value(),
        )

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        await self.inbox.stop()
        await self.bot.close_session()
