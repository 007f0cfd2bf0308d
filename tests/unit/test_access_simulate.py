"""The turnstile simulator: a believable morning rush that lanes can actually pass."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from backend.access.simulate import Holder, leaving, live_schedule, rush

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


def test_lost_cards_are_tried_and_refused() -> None:
    lost = [Holder(f"250,{n}", "wiegand26") for n in range(200)]
    passes = rush(school(100), [1], LESSON, unknown_share=0.0, lost=lost, lost_tries=0.5)
    refused = [p for p in passes if p.result == "denied"]
    assert {p.card for p in refused} <= {h.card for h in lost}
    assert 60 <= len(refused) <= 140
    assert len([p for p in passes if p.result == "granted"]) == 100


def test_everyone_who_came_leaves_once_after_the_last_lesson() -> None:
    morning = rush(school(600), [1, 2], LESSON, unknown_share=0.05)
    end = LESSON + timedelta(hours=6)
    out = leaving(morning, [3, 4], end, minutes=30)
    came = {p.card for p in morning if p.result == "granted"}
    assert sorted(p.card for p in out) == sorted(came)
    assert {p.direction for p in out} == {"out"} and {p.access_point_id for p in out} == {3, 4}
    assert all(end <= p.time <= end + timedelta(minutes=31) for p in out)
    first_ten = [p for p in out if p.time < end + timedelta(minutes=10)]
    assert len(first_ten) > len(out) / 2  # most leave in the first minutes
    per_minute = Counter((p.access_point_id, p.time.replace(second=0, microsecond=0)) for p in out)
    assert max(per_minute.values()) <= 29


def test_a_live_replay_compresses_the_day_skews_the_clock_and_holds_an_offline_window() -> None:
    passes = rush(school(300), [1, 2], LESSON, unknown_share=0.0)
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    span = (passes[-1].time - passes[0].time).total_seconds()
    plan = live_schedule(passes, now, speed=60, skew=timedelta(seconds=90), offline=(10.0, 20.0))
    assert len(plan) == 300
    assert [w.after for w in plan] == sorted(w.after for w in plan)
    assert plan[-1].after == pytest.approx(span / 60)
    for written in plan:
        happened = (written.item.time - now - timedelta(seconds=90)).total_seconds()
        assert happened >= 0
        if 10.0 <= happened < 20.0:
            assert written.after == 20.0  # held until the gateway is back
        else:
            assert written.after == pytest.approx(happened)
    assert any(w.after == 20.0 for w in plan)
