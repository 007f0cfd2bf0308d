"""Who wants to hear that lessons changed (moved, cancelled, replaced, another room, or made
again from the timetable).

The timetable service calls `notify` (these lessons) or `notify_span` (a school's lessons
between two dates, when the timetable was generated again) inside its transaction, after the
change; other contexts (the journal's diary) subscribe without this context importing them
(decision 0354).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date

Listener = Callable[[Sequence[int]], Awaitable[None]]
SpanListener = Callable[[int, date, date], Awaitable[None]]

_listeners: list[tuple[Listener, SpanListener]] = []


def subscribe(on_lessons: Listener, on_span: SpanListener) -> Callable[[], None]:
    """Add a listener; the answer removes it again (an app's lifespan does both)."""
    pair = (on_lessons, on_span)
    _listeners.append(pair)

    def unsubscribe() -> None:
        if pair in _listeners:
            _listeners.remove(pair)

    return unsubscribe


async def notify(lesson_ids: Sequence[int]) -> None:
    for on_lessons, _ in list(_listeners):
        await on_lessons(lesson_ids)


async def notify_span(school_id: int, date_from: date, date_to: date) -> None:
    """The school's lessons between these dates may have been added, removed or changed."""
    for _, on_span in list(_listeners):
        await on_span(school_id, date_from, date_to)
