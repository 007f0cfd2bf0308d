"""Which backups `parta backup` keeps: the newest of each recent day and month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.ops.backup import to_keep

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def test_the_newest_of_each_recent_day_is_kept() -> None:
    made = [NOW - timedelta(days=d, hours=h) for d in range(5) for h in (0, 1, 2)]
    kept = to_keep(made, NOW, keep_daily=3, keep_monthly=0)
    assert kept == {NOW, NOW - timedelta(days=1), NOW - timedelta(days=2)}


def test_older_days_keep_the_newest_of_each_month() -> None:
    made = [datetime(2026, m, d, 3, tzinfo=UTC) for m in (8, 9, 10, 11) for d in (1, 15, 28)]
    made.append(NOW)
    kept = to_keep(made, NOW, keep_daily=1, keep_monthly=3)
    # this month (December), November and October: the newest of each
    assert kept == {
        NOW,
        datetime(2026, 11, 28, 3, tzinfo=UTC),
        datetime(2026, 10, 28, 3, tzinfo=UTC),
    }


def test_a_year_of_daily_backups_shrinks_to_days_plus_months() -> None:
    made = [NOW - timedelta(days=d) for d in range(365)]
    kept = to_keep(made, NOW, keep_daily=14, keep_monthly=12)
    recent = {at for at in made if (NOW.date() - at.date()).days < 14}
    assert recent <= kept
    # besides the 14 days: the newest of each month back to January (December's and November's
    # newest, today and 30 November, are among the 14 days)
    assert sorted(at.month for at in kept - recent) == list(range(1, 11))


def test_backups_from_the_future_are_never_pruned() -> None:
    ahead = NOW + timedelta(days=40)  # a clock that was set back
    assert ahead in to_keep([ahead, NOW], NOW, keep_daily=1, keep_monthly=0)
