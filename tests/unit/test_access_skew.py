"""The skew estimate over a gateway's recent samples (decision 0908)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.access.ingest import WINDOW_MINUTES, estimate_skew

START = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def feed(samples: list[tuple[int, float]]) -> list[int]:
    """The estimate after each (minute from START, sample seconds)."""
    window: tuple[tuple[int, float], ...] = ()
    out = []
    for minute, sample in samples:
        skew, window = estimate_skew(window, sample, START + timedelta(minutes=minute))
        out.append(skew)
    return out


def test_a_delayed_sample_never_moves_the_estimate() -> None:
    # 300 s fast; delays of 0.2 s, then batches held 6 s and 40 s in the same and next minutes.
    assert feed([(0, 299.8), (0, 294.0), (1, 260.0), (1, 299.9)]) == [300, 300, 300, 300]


def test_a_clock_set_forward_shows_at_once_and_one_set_back_when_the_window_passes() -> None:
    before = [(m, 0.1) for m in range(3)]
    assert feed([*before, (3, 120.0)])[-1] == 120
    back = [(m, 120.0) for m in range(3)] + [(m, -0.2) for m in range(3, 3 + WINDOW_MINUTES)]
    estimates = feed(back)
    assert estimates[3] == 120  # the older samples still in the window
    assert estimates[-1] == 0  # they left it


def test_a_batch_without_sent_at_keeps_the_estimate_and_a_small_skew_is_none() -> None:
    skew, window = estimate_skew(((1000, 42.3),), None, datetime.fromtimestamp(1000 * 60, UTC))
    assert (skew, window) == (42, ((1000, 42.3),))
    assert estimate_skew((), 0.9, START)[0] == 0
    assert estimate_skew((), -1.6, START)[0] == -2


def test_samples_older_than_six_hours_are_dropped() -> None:
    window = ((int(START.timestamp() // 60) - 7 * 60, 300.0),)
    assert estimate_skew(window, 0.0, START) == (0, ((int(START.timestamp() // 60), 0.0),))
