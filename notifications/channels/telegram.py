"""Telegram through aiogram's Bot. A chat that blocked the bot is unlinked."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from notifications.channels.base import Outgoing, PermanentFailure, Sent, TemporaryFailure
from notifications.templates import TELEGRAM_LIMIT, clip


class TelegramChannel:
    name = "telegram"

    def __init__(self, token: str, api_url: str = "") -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else None
        self.bot = Bot(token, session=session) if session else Bot(token)

    async def send(self, message: Outgoing) -> Sent:
        if not message.addresses:
            raise PermanentFailure("no_chat")
        chat_id = int(message.addresses[0])
        text = clip(
            f"{message.title}\n\n{message.text}" if message.title else message.text, TELEGRAM_LIMIT
        )
        try:
            sent = await self.bot.send_message(chat_id, text, disable_web_page_preview=True)
        except TelegramRetryAfter as exc:
            raise TemporaryFailure("telegram:retry_after", retry_after=exc.retry_after) from exc
        except TelegramForbiddenError as exc:
            raise PermanentFailure("blocked", gone=(str(chat_id),)) from exc
        except TelegramBadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise PermanentFailure("chat_not_found", gone=(str(chat_id),)) from exc
            raise PermanentFailure(f"telegram:{exc.message[:100]}") from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise TemporaryFailure(f"telegram:{type(exc).__name__}") from exc
        return Sent(provider_id=f"{chat_id}:{sent.message_id}")

    async def close(self) -> None:
        await self.bot.session.close()
