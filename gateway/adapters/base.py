"""The adapter interface: read the passes recorded since the last position."""

from __future__ import annotations

from typing import Protocol

from gateway.events import ControllerEvent


class Adapter(Protocol):
    name: str  # unique per gateway; prefixes device event ids and names the saved position

    async def read(self, position: str | None) -> tuple[list[ControllerEvent], str | None]:
        """Passes recorded after `position` (None: from the start the adapter keeps) and the
        new position. Reading an overlapping window is harmless: the outbox keeps each
        `device_event_id` once."""
        ...
