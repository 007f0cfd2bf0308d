"""Who wants to hear that lessons changed (moved, cancelled, replaced, another room).

The timetable service calls `notify` inside its transaction, after the change; other contexts
(the journal's diary) subscribe without this context importing them (decision 0354).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

Listener = Callable[[Sequence[int]], Awaitable[None]]

_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; the answer removes it again (an app's lifespan does both)."""
    _listeners.append(listener)

    def unsubscribe() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return unsubscribe


async def notify(lesson_ids: Sequence[int]) -> None:
    for listener in list(_listeners):
        await listener(lesson_ids)
