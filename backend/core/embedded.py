"""The embedded mode's other processes, run inside the API's process.

`parta demo` is one process: the API, the notifications worker and local stand-ins for the
services abroad. `backend` never imports `notifications` (or `bots`): those packages offer a
*companion* through the `parta.embedded` entry point group (see pyproject.toml), and the demo
finds them here. A companion starts with the app (after the database is open) and stops with it,
and may add pages to the app (the demo's "what was delivered" page).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis

from backend.settings import Settings

GROUP = "parta.embedded"


class Companion(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def route_handlers(self) -> list[Any]:
        """Litestar handlers the companion adds to the app (public pages of the demo)."""
        ...

    def describe(self, url: str) -> list[str]:
        """Lines (Russian) telling the newcomer what runs and where to look."""
        ...


def with_overrides(settings: Settings, found: list[Companion]) -> Settings:
    """The API's settings with what companions change (a companion that plays a service
    abroad points the API at itself: `settings_overrides()`, optional)."""
    changes: dict[str, Any] = {}
    for companion in found:
        overrides = getattr(companion, "settings_overrides", None)
        if overrides is not None:
            changes.update(overrides())
    if not changes:
        return settings
    fields = {name: getattr(settings, name) for name in Settings.model_fields}
    return Settings.model_validate({**fields, **changes})


def companions(settings: Settings, redis: Redis, directory: Path) -> list[Companion]:
    """Every installed companion, built for these settings, Redis and data directory."""
    found: list[Companion] = []
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        factory = entry.load()
        found.append(factory(settings, redis, directory))
    return found
