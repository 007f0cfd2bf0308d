"""Alerts from the entry log, written to the outbox (the notifications worker delivers them).

- ``access.entered``: a pupil's first entry of the day ("вошёл в 08:05"), once a day.
- ``access.exited``: an exit that leaves the pupil outside (the day's last exit so far).
- ``access.card_refused``: passes with an unknown, blocked or unreadable card (to security).
- ``access.not_arrived``: see `backend.access.absence`.

An alert is raised only for a *fresh* pass: one that reached the server within `FRESH` of
happening. A batch a gateway uploads hours late fills the log but tells nobody that a child
"entered at 08:05" at noon. Each alert is recorded in `AccessAlert` (unique per pupil, day,
kind and key) in the same transaction as its outbox event, so nothing is raised twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.access.tables import AccessAlert, AccessEvent
from backend.events import kinds as k
from backend.events.services import emit_many

FRESH = timedelta(minutes=10)
ENTERED, EXITED, REFUSED = k.ACCESS_ENTERED, k.ACCESS_EXITED, k.ACCESS_CARD_REFUSED
REFUSED_LISTED = 20  # refused passes named in one security alert (the rest are counted)


def is_fresh(event: dict[str, Any], received_at: datetime) -> bool:
    return received_at - event["occurred_at"] <= FRESH


async def claim(
    school_id: int,
    student_id: int,
    day: date,
    kind: str,
    key: str,
    event_id: int | None,
    at: datetime,
) -> bool:
    """Record that this alert is raised; False if it already was."""
    rows = (
        await AccessAlert.insert(
            AccessAlert(
                school_id=school_id,
                student_id=student_id,
                local_date=day,
                kind=kind,
                key=key,
                event_id=event_id,
                created_at=at,
            )
        )
        .on_conflict(
            target=(
                AccessAlert.student_id,
                AccessAlert.local_date,
                AccessAlert.kind,
                AccessAlert.key,
            ),
            action="DO NOTHING",
        )
        .returning(AccessAlert.id)
    )
    return bool(rows)


async def _days_of(
    students: Iterable[int], days: Iterable[date]
) -> dict[tuple[int, date], list[Any]]:
    """Every granted pass of these pupils on these days, in time order, by (pupil, day)."""
    ids, dates = sorted(set(students)), sorted(set(days))
    if not ids:
        return {}
    rows = (
        await AccessEvent.select(
            AccessEvent.id,
            AccessEvent.holder_id,
            AccessEvent.local_date,
            AccessEvent.direction,
            AccessEvent.occurred_at,
        )
        .where(
            (AccessEvent.holder_kind == "student")
            & AccessEvent.holder_id.is_in(ids)
            & AccessEvent.local_date.is_in(dates)
            & (AccessEvent.result == "granted")
        )
        .order_by(AccessEvent.occurred_at)
        .order_by(AccessEvent.id)
    )
    found: dict[tuple[int, date], list[Any]] = {}
    for row in rows:
        found.setdefault((row["holder_id"], row["local_date"]), []).append(row)
    return found


def _hhmm(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


async def after_ingest(new: list[dict[str, Any]], zone: ZoneInfo, received_at: datetime) -> int:
    """Alerts for passes just stored (inside the ingest's transaction). Returns how many
    refused passes were reported to security."""
    fresh = [e for e in new if is_fresh(e, received_at)]
    pupils = [
        e
        for e in fresh
        if e["holder_kind"] == "student" and e["holder_id"] and e["result"] == "granted"
    ]
    days = await _days_of((e["holder_id"] for e in pupils), (e["local_date"] for e in pupils))
    events: list[tuple[str, dict[str, Any], int | None, int | None]] = []
    for event in pupils:
        student_id, day = event["holder_id"], event["local_date"]
        passes = days.get((student_id, day), [])
        payload = {
            "student_id": student_id,
            "time": _hhmm(event["occurred_at"], zone),
            "at": event["occurred_at"].isoformat(),
            "date": day.isoformat(),
            "access_point_id": event["access_point_id"],
        }
        if event["direction"] == "in":
            first_in = next((p for p in passes if p["direction"] == "in"), None)
            if first_in is not None and first_in["id"] != event["id"]:
                continue  # an earlier entry that day is known: this is not the first
            if await claim(
                event["school_id"], student_id, day, ENTERED, "", event["id"], received_at
            ):
                events.append((ENTERED, payload, event["school_id"], student_id))
        else:
            if passes and passes[-1]["id"] != event["id"]:
                continue  # a later pass is known: this exit did not leave the pupil outside
            if await claim(
                event["school_id"],
                student_id,
                day,
                EXITED,
                str(event["id"]),
                event["id"],
                received_at,
            ):
                events.append((EXITED, payload, event["school_id"], student_id))
    refused = [e for e in new if e["problem"]]
    fresh_refused = [e for e in refused if is_fresh(e, received_at)]
    if fresh_refused:
        school_id = fresh_refused[0]["school_id"]
        events.append(
            (
                REFUSED,
                {
                    "count": len(fresh_refused),
                    "passes": [
                        {
                            "event_id": e["id"],
                            "problem": e["problem"],
                            "card": e["card_raw"],
                            "time": _hhmm(e["occurred_at"], zone),
                            "access_point_id": e["access_point_id"],
                            "student_id": e["holder_id"] if e["holder_kind"] == "student" else None,
                        }
                        for e in fresh_refused[:REFUSED_LISTED]
                    ],
                },
                school_id,
                None,
            )
        )
    await emit_many(events)
    return len(refused)
