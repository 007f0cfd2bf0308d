"""A school's "today": the date on the school's own clock, not on the server's or on UTC's.

Russia spans eleven time zones: at 01:00 in Vladivostok it is still yesterday in UTC, so a
"today" taken from UTC shows a family in the Far East yesterday's week for ten hours a day.
Every default of "today" that a person sees goes through here with the school's time zone
(`School.time_zone`); without one, the deployment's default zone.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIME_ZONE = "Europe/Moscow"


def today_in(time_zone: str | None = None) -> date:
    return datetime.now(ZoneInfo(time_zone or DEFAULT_TIME_ZONE)).date()
