"""Alerts from the entry log, written to the outbox (the notifications worker delivers them).

- ``access.entered``: a pupil's first entry of the day ("вошёл в 08:05"), once a day.
- ``access.exited``: an exit that leaves the pupil outside (the day's last exit so far).
- ``access.passed``: a later entry the same day (back from lunch): only families who asked
  for every pass hear it (an opt-in kind, see backend/events/kinds.py `OPT_IN`).
- ``access.card_refused``: passes with an unknown, blocked or unreadable card (to the school's
  security staff).
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

from piccolo.engine.postgres import PostgresEngine

from backend.access.tables import AccessAlert, AccessEvent
from backend.events import kinds as k
from backend.events.services import emit_many
from backend.i18n import t

FRESH = timedelta(minutes=10)
AHEAD = timedelta(minutes=2)
ENTERED, EXITED, REFUSED = k.ACCESS_ENTERED, k.ACCESS_EXITED, k.ACCESS_CARD_REFUSED
PASSED = k.ACCESS_PASSED
REFUSED_LISTED = 20  # refused passes named in one security alert (the rest are counted)


def is_fresh(event: dict[str, Any], received_at: datetime) -> bool:
    """Reached the server within `FRESH` of happening. A pass dated in the future (a controller
    clock the skew did not explain) is not fresh either: "entered at 12:00" told at midnight
    would be wrong twice."""
    return -AHEAD <= received_at - event["occurred_at"] <= FRESH


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
) -> dict[tuple[int, date], tuple[datetime | None, datetime]]:
    """For each (pupil, day) with granted passes: the time of the first entry (None without
    one) and of the latest pass. One row per pupil and day, whatever the day's traffic."""
    ids, dates = sorted(set(students)), sorted(set(days))
    if not ids:
        return {}
    if isinstance(AccessEvent._meta.db, PostgresEngine):
        rows = await AccessEvent.raw(
            "SELECT holder_id, local_date, "
            "min(occurred_at) FILTER (WHERE direction = 'in') AS first_in, "
            "max(occurred_at) AS last_at FROM access_event "
            "WHERE holder_kind = 'student' AND holder_id = ANY({}::int[]) "
            "AND local_date = ANY({}::date[]) AND result = 'granted' "
            "GROUP BY holder_id, local_date",
            ids,
            dates,
        )
        return {(r["holder_id"], r["local_date"]): (r["first_in"], r["last_at"]) for r in rows}
    found: dict[tuple[int, date], tuple[datetime | None, datetime]] = {}
    for row in await AccessEvent.select(
        AccessEvent.holder_id,
        AccessEvent.local_date,
        AccessEvent.direction,
        AccessEvent.occurred_at,
    ).where(
        (AccessEvent.holder_kind == "student")
        & AccessEvent.holder_id.is_in(ids)
        & AccessEvent.local_date.is_in(dates)
        & (AccessEvent.result == "granted")
    ):
        key, at = (row["holder_id"], row["local_date"]), row["occurred_at"]
        first_in, last_at = found.get(key, (None, at))
        if row["direction"] == "in" and (first_in is None or at < first_in):
            first_in = at
        found[key] = (first_in, max(last_at, at))
    return found


def _hhmm(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


PG_CLAIM = (
    "INSERT INTO access_alert (school_id, student_id, local_date, kind, key, event_id, created_at) "
    "SELECT s, p, d, k, y, e, {} FROM unnest({}::int[], {}::int[], {}::date[], {}::varchar[], "
    "{}::varchar[], {}::bigint[]) AS t(s, p, d, k, y, e) "
    "ON CONFLICT (student_id, local_date, kind, key) DO NOTHING "
    "RETURNING student_id, local_date, kind, key"
)


async def claim_many(
    wanted: list[tuple[int, int, date, str, str, int | None]], at: datetime
) -> set[tuple[int, date, str, str]]:
    """Record several alerts in one statement: (school, pupil, day, kind, key, event) each.
    Returns the (pupil, day, kind, key) of those not raised before."""
    if not wanted:
        return set()
    if isinstance(AccessAlert._meta.db, PostgresEngine):
        columns = [list(values) for values in zip(*wanted, strict=True)]
        rows = await AccessAlert.raw(PG_CLAIM, at, *columns)
        return {(r["student_id"], r["local_date"], r["kind"], r["key"]) for r in rows}
    rows = (
        await AccessAlert.insert(
            *(
                AccessAlert(
                    school_id=school_id,
                    student_id=student_id,
                    local_date=day,
                    kind=kind,
                    key=key,
                    event_id=event_id,
                    created_at=at,
                )
                for school_id, student_id, day, kind, key, event_id in wanted
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
        .returning(
            AccessAlert.student_id, AccessAlert.local_date, AccessAlert.kind, AccessAlert.key
        )
    )
    return {(r["student_id"], r["local_date"], r["kind"], r["key"]) for r in rows}


async def after_ingest(new: list[dict[str, Any]], zone: ZoneInfo, received_at: datetime) -> int:
    """Alerts for passes just stored (inside the ingest's transaction): a few statements per
    batch, none per pass. Returns how many refused passes were reported to security."""
    fresh = [e for e in new if is_fresh(e, received_at)]
    pupils = [
        e
        for e in fresh
        if e["holder_kind"] == "student" and e["holder_id"] and e["result"] == "granted"
    ]
    days = await _days_of((e["holder_id"] for e in pupils), (e["local_date"] for e in pupils))
    candidates: list[tuple[str, dict[str, Any], int, int, str]] = []
    for event in pupils:
        student_id, day = event["holder_id"], event["local_date"]
        first_in, last_at = days[(student_id, day)]  # this pass is among them
        payload = {
            "student_id": student_id,
            "time": _hhmm(event["occurred_at"], zone),
            "at": event["occurred_at"].isoformat(),
            "date": day.isoformat(),
            "access_point_id": event["access_point_id"],
        }
        if event["direction"] == "in":
            if first_in is not None and first_in < event["occurred_at"]:
                # An earlier entry that day is known: a re-entry, for who wants every pass.
                candidates.append(
                    (PASSED, payload, event["school_id"], event["id"], str(event["id"]))
                )
                continue
            candidates.append((ENTERED, payload, event["school_id"], event["id"], ""))
        else:
            if last_at > event["occurred_at"]:
                continue  # a later pass is known: this exit did not leave the pupil outside
            candidates.append((EXITED, payload, event["school_id"], event["id"], str(event["id"])))
    raised = await claim_many(
        [
            (
                school_id,
                payload["student_id"],
                date.fromisoformat(payload["date"]),
                kind,
                key,
                event_id,
            )
            for kind, payload, school_id, event_id, key in candidates
        ],
        received_at,
    )
    events: list[tuple[str, dict[str, Any], int | None, int | None]] = [
        (kind, payload, school_id, payload["student_id"])
        for kind, payload, school_id, _, key in candidates
        if (payload["student_id"], date.fromisoformat(payload["date"]), kind, key) in raised
    ]
    refused = [e for e in new if e["problem"]]
    fresh_refused = [e for e in refused if is_fresh(e, received_at)]
    if fresh_refused:
        school_id = fresh_refused[0]["school_id"]
        first = fresh_refused[0]
        events.append(
            (
                REFUSED,
                {
                    "count": len(fresh_refused),
                    "time": _hhmm(first["occurred_at"], zone),
                    "card": first["card_raw"],
                    "problem": t(f"access.problem.{first['problem']}"),
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
