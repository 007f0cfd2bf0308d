"""The family bot on Telegram, through aiogram 3: one router hands messages and button presses
to the conversation core (`bots.core.FamilyBot`), and `TelegramChat` speaks for the core.

A person who blocks the bot is unlinked when Telegram says so (`my_chat_member`, kicked), or
when a send to them is refused (403).

Modes: long polling (`polling`: development, `parta demo`) or a webhook (`webhook`: production;
Telegram posts each update with the `X-Telegram-Bot-Api-Secret-Token` header set to the secret
given to `setWebhook`, and a request without it is answered 401 and never read). In both, an
update is kept in the bot's inbox (`bots.inbox`, decision 0609) before Telegram hears it
arrived: the offset moves past it, or the webhook answers 200, only then; a process killed at
any moment answers it after its restart, once.

Every send, edit and callback answer is paced with the notifications worker's own limits, in
the same Redis keys (`notifications.delivery.messenger_rates`: 30 a second for the bot, one a
second per chat): one shared limit, so an alert and a reply to the same chat never add up to
more than Telegram allows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from aiohttp import web
from redis.asyncio import Redis

from backend.settings import Settings
from bots.core import CONCURRENCY, ChatGone, FamilyBot, NotAnswered, Reply
from bots.inbox import Inbox
from notifications.delivery import messenger_rates
from notifications.pacing import Pacer, Rate

log = logging.getLogger("parta.bot.telegram")
T = TypeVar("T")
WEBHOOK_PATH = "/telegram/webhook"
TELEGRAM_TEXT_LIMIT = 4096
RETRIES_AFTER_429 = 2
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 10  # seconds a long poll waits
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def rates(settings: Settings, chat_id: int | None) -> list[Rate]:
    """The pacing of a send (to a chat, or a button's answer): the worker's own keys."""
    return messenger_rates(settings, "telegram", chat_id)


def markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.text, callback_data=b.data)
                for b in row
            ]
            for row in reply.buttons
        ]
    )


def _clip(text: str) -> str:
    return text if len(text) <= TELEGRAM_TEXT_LIMIT else text[: TELEGRAM_TEXT_LIMIT - 1] + "…"


class TelegramChat:
    """The core's port on Telegram (`bots.core.Chat`)."""

    messenger = "telegram"

    def __init__(self, bot: Bot, settings: Settings, pacer: Pacer) -> None:
        self.bot, self.settings, self.pacer = bot, settings, pacer

    async def _paced(self, chat_id: int | None, call: Callable[[], Awaitable[T]]) -> T:
        limits = rates(self.settings, chat_id)
        for attempt in range(RETRIES_AFTER_429 + 1):
            await self.pacer.acquire(*limits)
            ticket = await self.pacer.enter(*limits)
            try:
                return await call()
            except TelegramRetryAfter as exc:
                # Telegram paused us: everyone (the worker too) waits, then this goes again.
                await self.pacer.hold(limits[0].key, exc.retry_after)
                if attempt == RETRIES_AFTER_429:
                    raise
            except TelegramForbiddenError as exc:
                raise ChatGone(str(exc)) from exc
            except (TelegramNetworkError, TelegramServerError) as exc:
                # Out of reach, or Telegram's own trouble: the update is tried again later.
                raise NotAnswered(str(exc)) from exc
            finally:
                await self.pacer.leave(ticket)
        raise AssertionError("unreachable")

    async def send(self, chat_id: int, reply: Reply) -> str:
        sent = await self._paced(
            chat_id,
            lambda: self.bot.send_message(
                chat_id,
                _clip(reply.text),
                reply_markup=markup(reply),
                disable_web_page_preview=True,
            ),
        )
        return str(sent.message_id)

    async def edit(self, chat_id: int, message_id: str, reply: Reply) -> None:
        try:
            await self._paced(
                chat_id,
                lambda: self.bot.edit_message_text(
                    text=_clip(reply.text),
                    chat_id=chat_id,
                    message_id=int(message_id),
                    reply_markup=markup(reply),
                    disable_web_page_preview=True,
                ),
            )
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return  # the same text pressed again: nothing to change, nothing wrong
            if "message to edit not found" in exc.message or "can't be edited" in exc.message:
                await self.send(chat_id, reply)  # too old or deleted: answer anew
                return
            raise

    async def answer(self, callback_id: str, text: str = "") -> None:
        await self._paced(
            None, lambda: self.bot.answer_callback_query(callback_id, text=text or None)
        )


def make_bot(settings: Settings) -> Bot:
    token = settings.telegram_bot_token.get_secret_value()
    if settings.telegram_api_url:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        return Bot(token, session=session)
    return Bot(token)


def make_dispatcher(core: FamilyBot, chat: TelegramChat) -> Dispatcher:
    """A dispatcher whose one router hands every update to the core."""
    router = Router(name="family")

    @router.message(F.text)
    async def on_message(message: Message) -> None:
        if message.chat.type != "private":
            return  # the bot speaks to one person at a time: groups are not linked
        await core.on_text(chat, message.chat.id, message.text or "")

    @router.callback_query()
    async def on_button(query: CallbackQuery) -> None:
        msg = query.message
        if msg is None or query.data is None:
            await chat.answer(query.id)
            return
        await core.on_button(chat, msg.chat.id, str(msg.message_id), query.id, query.data)

    @router.my_chat_member()
    async def on_membership(update: ChatMemberUpdated) -> None:
        # Telegram says so at once when the person blocks the bot: the chat is unlinked now,
        # not at the next send that Telegram would refuse.
        if update.chat.type == "private" and update.new_chat_member.status == "kicked":
            await core.unlink(chat.messenger, update.chat.id, "blocked")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def update_chat(payload: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its answers go in order), from Telegram's JSON."""
    for kind in ("message", "my_chat_member"):
        if kind in payload:
            return int(payload[kind]["chat"]["id"])
    message = (payload.get("callback_query") or {}).get("message")
    return int(message["chat"]["id"]) if message else None


class TelegramBot:
    """The Telegram side of the bot process: the aiogram bot and dispatcher around a core,
    fed from the inbox (`bots.inbox`) by a polling loop or a webhook of our own (aiogram's
    confirm an update before its handler is done: decision 0609)."""

    def __init__(self, settings: Settings, redis: Redis, core: FamilyBot) -> None:
        self.settings = settings
        self.bot = make_bot(settings)
        self.chat = TelegramChat(
            self.bot, settings, Pacer(redis, headroom=settings.notify_rate_headroom)
        )
        self.dispatcher = make_dispatcher(core, self.chat)
        self.inbox = Inbox("telegram", self._handle, update_chat)
        self._polling: asyncio.Task[Any] | None = None

    async def _handle(self, payload: dict[str, Any]) -> None:
        update = Update.model_validate(payload, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)

    async def start_polling(self) -> None:
        """Long polling in a task of its own (`stop` ends it)."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.inbox.start()
        self._polling = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        offset: int | None = None
        while True:
            try:
                updates = await self.bot(
                    GetUpdates(
                        offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                    ),
                    request_timeout=POLL_TIMEOUT + 30,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Telegram long polling failed: %r", exc)
                await asyncio.sleep(2)
                continue
            if not updates:
                continue
            try:
                await self.inbox.take([(str(u.update_id), _raw(u)) for u in updates])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Not kept: the offset stays, and Telegram hands the same updates over again.
                log.warning("Telegram updates not kept (%r): asked for again", exc)
                await asyncio.sleep(2)
                continue
            offset = updates[-1].update_id + 1  # confirms them at the next getUpdates

    def webhook_routes(self, app: web.Application) -> None:
        """Serve Telegram's posts at `WEBHOOK_PATH`, refusing any without the secret header."""
        if not self.settings.telegram_webhook_secret.get_secret_value():
            raise RuntimeError("PARTA_TELEGRAM_WEBHOOK_SECRET is required for webhooks")
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.on_startup.append(lambda _: self.inbox.start())

    async def _webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.telegram_webhook_secret.get_secret_value()
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=401)
        try:
            payload = await request.json()
            key = str(int(payload["update_id"]))
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        try:
            await self.inbox.take([(key, payload)])
        except Exception as exc:
            # Not kept: Telegram posts it again later.
            log.warning("Telegram update not kept (%r): Telegram will post it again", exc)
            return web.Response(status=503)
        return web.json_response({})

    async def set_webhook(self) -> None:
        await self.bot.set_webhook(
            self.settings.telegram_webhook_url,
            secret_token=self.settings.telegram_webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            max_connections=CONCURRENCY,
        )

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        await self.inbox.stop()
        await self.bot.session.close()


def _raw(update: Update) -> dict[str, Any]:
    """The update as Telegram's JSON (aiogram parsed it; `_handle` parses it back)."""
    return update.model_dump(mode="json", by_alias=True, exclude_none=True)
