"""The MAX Bot API client as Parta builds it (`maxapi`, decision 0606), for the worker's MAX
channel and the family bot's MAX adapter alike."""

from __future__ import annotations

from typing import Any

from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.exceptions.max import MaxApiError

# MAX does not say how long to wait after 429; its limits count per second.
RETRY_AFTER_429 = 1.0


def max_bot(token: str, api_url: str = "") -> Bot:
    """A maxapi Bot with no retries of its own (the worker and the bot decide when to try
    again, and pace their sends in Redis), at the Bot API's address from the settings when
    given (a stand-in in tests and the demo)."""
    bot = Bot(token, default_connection=DefaultConnectionProperties(timeout=30, max_retries=0))
    if api_url:
        bot.set_api_url(api_url.rstrip("/"))
    return bot


def error_code(exc: MaxApiError) -> str:
    """MAX's error key (`chat.denied`, `too.many.requests`, ...) from its JSON answer."""
    raw: Any = exc.raw
    return str(raw.get("code") or "") if isinstance(raw, dict) else ""
