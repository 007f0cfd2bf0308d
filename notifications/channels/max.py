"""MAX (max.ru) through the `maxapi` library's Bot (decision 0606). A dialog whose person
blocked the bot (403 `chat.denied`) is unlinked; MAX's 429 pauses the bot's sends."""

from __future__ import annotations

import aiohttp
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection

from notifications.channels.base import Outgoing, PermanentFailure, Sent, TemporaryFailure
from notifications.max_client import RETRY_AFTER_429, error_code, max_bot
from notifications.templates import MAX_LIMIT, clip


class MaxChannel:
    name = "max"

    def __init__(self, token: str, api_url: str = "") -> None:
        self.bot = max_bot(token, api_url)

    async def send(self, message: Outgoing) -> Sent:
        if not message.addresses:
            raise PermanentFailure("no_chat")
        chat_id = int(message.addresses[0])
        text = clip(
            f"{message.title}\n\n{message.text}" if message.title else message.text, MAX_LIMIT
        )
        try:
            sent = await self.bot.send_message(
                chat_id=chat_id, text=text, disable_link_preview=True
            )
        except MaxApiError as exc:
            code = error_code(exc)
            if exc.code == 429:
                raise TemporaryFailure(
                    "max:too.many.requests", retry_after=RETRY_AFTER_429
                ) from exc
            if exc.code == 403:
                # The person stopped or blocked the bot ("error.dialog.suspended").
                raise PermanentFailure("blocked", gone=(str(chat_id),)) from exc
            if exc.code == 404:
                raise PermanentFailure("chat_not_found", gone=(str(chat_id),)) from exc
            if exc.code >= 500:
                raise TemporaryFailure(f"max:{exc.code}") from exc
            raise PermanentFailure(f"max:{code or exc.code}") from exc
        except InvalidToken as exc:
            # The token is wrong: no later try would do better; the next channel takes over.
            raise PermanentFailure("max:verify.token") from exc
        except (TimeoutError, MaxConnection, aiohttp.ClientError) as exc:
            raise TemporaryFailure(f"max:{type(exc).__name__}") from exc
        if sent is None or sent.message.body is None:
            raise TemporaryFailure("max:no_message")
        return Sent(provider_id=f"{chat_id}:{sent.message.body.mid}")

    async def close(self) -> None:
        await self.bot.close_session()
