"""Linking a messenger chat to a person without a password: one-time codes.

A signed-in guardian, delegate or pupil asks the app for a code (`issue_code`). It comes in two
forms that stand for the same one-time link: a deep-link payload (`https://t.me/<bot>?start=`
followed by 32 characters of [A-Za-z0-9_-], unguessable) and a short code of 8 characters the
person can type to the bot. The bot hands whichever arrives to `redeem_code`: the first redeem
links the chat and spends both forms; an expired, unknown or spent code is refused in Russian.

Codes live in Redis only (they expire in minutes): each form's key holds the sha256 of the form
(a Redis dump shows no live code) and points at one record; deleting the record is the single
use (`DEL` answers 1 to one caller only). Guessing is throttled per chat: after
`bot_link_failures_per_chat` wrong codes within `login_failure_window_seconds` the chat must
wait, right codes included. The short code has 32^8 (about 10^12) values, so a thousand chats
each guessing at the limit find a live code with odds of about one in 10^8 per window.

Messengers: chats of every messenger are one table (`services.link_chat`); each messenger has
its deep link here (`DEEP_LINKS`; MAX adds its own with `register`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.errors import Forbidden, Throttled, ValidationFailed
from backend.core.rights import Role, ScopeKind
from backend.events.kinds import MESSENGERS
from backend.i18n import t
from backend.messaging import services
from backend.settings import Settings

PREFIX = "parta:link"
SHORT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed by hand
SHORT_LENGTH = 8
PAYLOAD_BYTES = 24  # token_urlsafe(24): 32 characters of [A-Za-z0-9_-], Telegram allows 64
# Who may link a chat: the family roles (what the bot shows is the diary of their children).
FAMILY_ROLES = (Role.GUARDIAN, Role.DELEGATE, Role.PUPIL)


def _telegram_link(settings: Settings, payload: str) -> str | None:
    name = settings.telegram_bot_username.lstrip("@")
    return f"https://t.me/{name}?start={payload}" if name else None


def _max_link(settings: Settings, payload: str) -> str | None:
    # MAX passes a start payload of up to 128 characters to the bot (`bot_started.payload`).
    name = settings.max_bot_username.lstrip("@")
    return f"https://max.ru/{name}?start={payload}" if name else None


# The deep link of each messenger for a payload, from the settings (None: no bot name set).
# Chats of every messenger live in one table (`services.link_chat`, decision 0605); a
# messenger added here is one the bot may link.
DEEP_LINKS: dict[str, Callable[[Settings, str], str | None]] = {
    "telegram": _telegram_link,
    "max": _max_link,
}


def register(name: str, deep_link: Callable[[Settings, str], str | None]) -> None:
    DEEP_LINKS[name] = deep_link


def messenger(name: str) -> str:
    if name not in DEEP_LINKS or name not in MESSENGERS:
        message = t("bot.link.unknown_messenger", value=name[:16])
        raise ValidationFailed(message, details=[{"field": "messenger", "message": message}])
    return name


def _digest(form: str) -> str:
    return hashlib.sha256(form.encode()).hexdigest()


def normalize(text: str) -> str:
    """What a person typed, as a code: the short code is read without case, dashes or spaces;
    a payload is taken as it is."""
    stripped = text.strip()
    short = stripped.upper().replace("-", "").replace(" ", "")
    if len(short) == SHORT_LENGTH and all(c in SHORT_ALPHABET for c in short):
        return short
    return stripped


def looks_like_code(text: str) -> bool:
    """Whether a message is worth trying as a code (the bot answers other texts otherwise)."""
    form = normalize(text)
    if len(form) == SHORT_LENGTH and all(c in SHORT_ALPHABET for c in form):
        return True
    return 16 <= len(form) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in form)


async def issue_code(
    actor: Actor, redis: Redis, settings: Settings, messenger_name: str
) -> dict[str, Any]:
    """A new one-time code for the signed-in person (a family role is required)."""
    name = messenger(messenger_name)
    principal = actor.principal
    assert principal is not None
    if not any(
        g.role in FAMILY_ROLES and g.scope_kind is ScopeKind.STUDENT
        for g in principal.live_grants()
    ):
        raise Forbidden(key="bot.link.family_only")
    payload = secrets.token_urlsafe(PAYLOAD_BYTES)
    short = "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))
    lifetime = timedelta(minutes=settings.bot_link_code_minutes)
    seconds = int(lifetime.total_seconds())
    record_key = f"{PREFIX}:{name}:record:{secrets.token_hex(16)}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(record_key, str(principal.user_id), ex=seconds)
        pipe.set(f"{PREFIX}:{name}:code:{_digest(payload)}", record_key, ex=seconds)
        pipe.set(f"{PREFIX}:{name}:code:{_digest(short)}", record_key, ex=seconds)
        await pipe.execute()
    await record(actor, AuditAction.CREATE, object_type="chat_link_code", object_id=name)
    return {
        "messenger": name,
        "code": short,
        "payload": payload,
        "deep_link": DEEP_LINKS[name](settings, payload),
        "expires_at": datetime.now(UTC) + lifetime,
    }


async def _check_throttle(redis: Redis, settings: Settings, name: str, chat_id: int) -> str:
    key = f"{PREFIX}:{name}:failures:{chat_id}"
    failures = await redis.get(key)
    if failures is not None and int(failures) >= settings.bot_link_failures_per_chat:
        ttl = await redis.ttl(key)
        raise Throttled(retry_after=max(int(ttl), 1), key="bot.link.throttled")
    return key


async def _failed(redis: Redis, settings: Settings, key: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, settings.login_failure_window_seconds, nx=True)
        await pipe.execute()


async def redeem_code(
    redis: Redis, settings: Settings, messenger_name: str, chat_id: int, text: str
) -> int:
    """Link the chat to the person the code was issued to; returns that person's id.

    Raises `ValidationFailed` (in Russian) for an unknown, expired or spent code and
    `Throttled` for a chat that guessed too often."""
    name = messenger(messenger_name)
    throttle_key = await _check_throttle(redis, settings, name, chat_id)
    form = normalize(text)
    pointer = f"{PREFIX}:{name}:code:{_digest(form)}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(pointer)
        pipe.delete(pointer)
        record_key, _ = await pipe.execute()
    user_id = None
    if record_key is not None:
        held = record_key.decode() if isinstance(record_key, bytes) else str(record_key)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.get(held)
            pipe.delete(held)
            value, deleted = await pipe.execute()
        if deleted == 1 and value is not None:  # the first to delete the record spends it
            user_id = int(value)
    if user_id is None:
        await _failed(redis, settings, throttle_key)
        raise ValidationFailed(key="bot.link.bad_code")
    await services.link_chat(Actor.system(), user_id, name, chat_id)
    return user_id
