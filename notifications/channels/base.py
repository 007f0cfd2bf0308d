"""The one interface every channel implements, and the failures it may report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one person on one channel. `addresses` are device tokens, a chat id,
    an e-mail address or a phone number, as the channel needs."""

    delivery_id: int
    notification_id: int
    user_id: int
    addresses: tuple[str, ...]
    title: str
    text: str
    html: str = ""
    urgent: bool = False
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sent:
    provider_id: str
    parts: int = 1
    # Addresses the provider said are gone (unregistered push tokens), while others worked.
    gone: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


class TemporaryFailure(Exception):
    """Try the same channel again later (after `retry_after` seconds when the provider said)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """This channel will not reach the person with this message: try the next channel."""

    def __init__(self, reason: str, gone: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        # Addresses to switch off (unregistered tokens, a chat that blocked the bot).
        self.gone = gone


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing) -> Sent: ...

    async def close(self) -> None: ...
