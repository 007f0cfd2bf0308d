"""Effective preferences of one person for one kind of event and one child, and the clock
arithmetic of quiet hours and digests in the school's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.events import kinds as k
from backend.events.kinds import CHANNELS, PUSH
from backend.schools.people.consent import school_forbids_cross_border

BUILT_IN: dict[str, Any] = {
    "channels": [PUSH],
    "mode": "instant",
    "digest_at": "19:00",
    "quiet_from": "21:00",
    "quiet_to": "07:00",
    "muted": False,
}


@dataclass(frozen=True, slots=True)
class Effective:
    channels: tuple[str, ...]
    mode: str  # instant | digest
    digest_at: time
    quiet_from: time | None
    quiet_to: time | None
    muted: bool


# School switches (`marks: false`, ...) that mute kinds by default.
SWITCHES = {
    "marks": (k.MARK_CREATED, k.MARK_CHANGED, k.FINAL_MARK_SET),
    "absences": (k.ATTENDANCE_ABSENT, k.ATTENDANCE_LATE),
}


@dataclass(frozen=True, slots=True)
class SchoolPolicy:
    """School-wide notification settings: `School.settings["notification_defaults"]` as the
    schools context stores them (channels, quiet_hours_start/end, marks, absences) plus the
    keys this context adds there (mode, digest_at, sms_fallback, forbid_cross_border)."""

    defaults: dict[str, Any]
    time_zone: str = "Europe/Moscow"
    sms_fallback: bool = True
    forbid_cross_border: bool = False
    muted_kinds: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None, time_zone: str) -> SchoolPolicy:
        notify = dict((settings or {}).get("notification_defaults") or {})
        renamed = {"quiet_hours_start": "quiet_from", "quiet_hours_end": "quiet_to"}
        for theirs, ours in renamed.items():
            if theirs in notify:
                notify[ours] = notify[theirs]
        muted = {
            k for switch, kinds in SWITCHES.items() if notify.get(switch) is False for k in kinds
        }
        return cls(
            defaults={k: notify[k] for k in BUILT_IN if k in notify and k != "muted"},
            time_zone=time_zone or "Europe/Moscow",
            sms_fallback=bool(notify.get("sms_fallback", True)),
            forbid_cross_border=school_forbids_cross_border(settings),
            muted_kinds=frozenset(muted),
        )


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def effective(
    rows: list[dict[str, Any]], kind: str, student_id: int | None, policy: SchoolPolicy
) -> Effective:
    """Most specific wins, field by field: (kind, child) > (kind, all) > (*, child) > (*, all)
    > the school's defaults > built-in defaults."""
    sid = student_id or 0

    def rank(row: dict[str, Any]) -> int:
        return (0 if row["kind"] == kind else 2) + (0 if row["student_id"] == sid else 1)

    relevant = sorted(
        (r for r in rows if r["kind"] in (kind, "*") and r["student_id"] in (sid, 0)), key=rank
    )
    chosen: dict[str, Any] = {}
    for row in relevant:
        for field in ("channels", "mode", "digest_at", "quiet_from", "quiet_to"):
            if field not in chosen and row.get(field) is not None:
                chosen[field] = row[field]
        if row.get("muted") and "muted" not in chosen:
            chosen["muted"] = True
    if kind in policy.muted_kinds:
        chosen.setdefault("muted", True)
    if kind in k.OPT_IN and not any(r["kind"] == kind and not r.get("muted") for r in relevant):
        chosen["muted"] = True  # heard only by who asked for exactly this kind
    for source in (policy.defaults, BUILT_IN):
        for field, value in source.items():
            chosen.setdefault(field, value)
    channels = tuple(c for c in chosen["channels"] if c in CHANNELS)
    quiet_from, quiet_to = chosen["quiet_from"], chosen["quiet_to"]
    return Effective(
        channels=channels,
        mode=chosen["mode"],
        digest_at=parse_hhmm(chosen["digest_at"]),
        quiet_from=parse_hhmm(quiet_from) if quiet_from else None,
        quiet_to=parse_hhmm(quiet_to) if quiet_to else None,
        muted=bool(chosen["muted"]),
    )


def _local(now: datetime, tz: str) -> datetime:
    return now.astimezone(ZoneInfo(tz))


def quiet_release(
    now: datetime, tz: str, quiet_from: time | None, quiet_to: time | None
) -> datetime | None:
    """If `now` falls in the quiet hours, the UTC instant they end; else None."""
    if quiet_from is None or quiet_to is None or quiet_from == quiet_to:
        return None
    local = _local(now, tz)
    t = local.time()
    inside = (
        quiet_from <= t < quiet_to
        if quiet_from < quiet_to
        else (t >= quiet_from or t < quiet_to)  # across midnight: 21:00-07:00
    )
    if not inside:
        return None
    day = local.date() if t < quiet_to else local.date() + timedelta(days=1)
    release = datetime.combine(day, quiet_to, tzinfo=ZoneInfo(tz))
    return release.astimezone(UTC)


def next_digest(now: datetime, tz: str, at: time) -> tuple[datetime, date]:
    """The next digest instant (UTC) at local `at`, and the local day it gathers."""
    local = _local(now, tz)
    candidate = datetime.combine(local.date(), at, tzinfo=ZoneInfo(tz))
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC), candidate.date()
