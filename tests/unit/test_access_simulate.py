"""The turnstile simulator: a believable morning rush that lanes can actually pass."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from backend.access.simulate import Holder, rush

LESSON = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 08:00 in Moscow


def school(pupils: int) -> list[Holder]:
    return [Holder(f"{n // 60000},{n % 60000}", "wiegand26") for n in range(pupils)]


def test_every_pupil_enters_once_before_the_lesson_within_about_forty_minutes() -> None:
    passes = rush(school(1000), [1, 2, 3, 4], LESSON, unknown_share=0.0)
    assert len(passes) == 1000
    assert len({p.card for p in passes}) == 1000
    assert len({p.id for p in passes}) == 1000
    times = [p.time for p in passes]
    assert times == sorted(times)
    assert LESSON - timedelta(minutes=36) <= times[0]
    assert times[-1] <= LESSON + timedelta(minutes=10)
    # The bulk arrives in the last quarter hour before the bell.
    rush_hour = [t for t in times if LESSON - timedelta(minutes=20) <= t <= LESSON]
    assert len(rush_hour) > 500


def test_no_lane_passes_more_than_its_rate() -> None:
    passes = rush(school(1000), [1, 2], LESSON, per_lane_minute=28)
    per_minute = Counter(
        (p.access_point_id, p.time.replace(second=0, microsecond=0)) for p in passes
    )
    assert max(per_minute.values()) <= 29  # 28 a minute, a boundary may hold one more
    assert {p.access_point_id for p in passes} == {1, 2}


def test_a_few_cards_are_unknown_and_refused() -> None:
    passes = rush(school(2000), [1, 2, 3], LESSON, unknown_share=0.02, seed=7)
    refused = [p for p in passes if p.result == "denied"]
    assert 10 <= len(refused) <= 80
    assert rush(school(2000), [1, 2, 3], LESSON, seed=7) == passes  # the seed repeats it
