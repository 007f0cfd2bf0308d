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
"entered at 08:05" at noon. An alert that a second batch or a second run of a check could
raise again (the day's first entry, "has not arrived", absent but inside) is recorded in
`AccessAlert` (unique per pupil, day, kind and key) in the same transaction as its outbox
event, so nothing is raised twice; a re-entry or an exit is told with its pass, which is new to
the server exactly once.
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


# Per pupil and day of the batch, two probes at most down `access_event_holder_day`, each
# stopping at its first granted row: the first entry (for a batch's entries) and the latest
# pass (for its exits). Aggregating the day's passes instead cost as much as the day's traffic,
# so a busy day slowed every batch (docs/decisions/0906-ingest-cost-per-batch.md).
PG_DAYS = (
    "SELECT k.holder_id, k.local_date, "
    "CASE WHEN k.want_in THEN (SELECT e.occurred_at FROM access_event e "
    "WHERE e.holder_kind = 'student' AND e.holder_id = k.holder_id "
    "AND e.local_date = k.local_date AND e.result = 'granted' AND e.direction = 'in' "
    "ORDER BY e.occurred_at LIMIT 1) END AS first_in, "
    "CASE WHEN k.want_last THEN (SELECT e.occurred_at FROM access_event e "
    "WHERE e.holder_kind = 'student' AND e.holder_id = k.holder_id "
    "AND e.local_date = k.local_date AND e.result = 'granted' "
    "ORDER BY e.occurred_at DESC LIMIT 1) END AS last_at "
    "FROM unnest({}::int[], {}::date[], {}::bool[], {}::bool[]) "
    "AS k(holder_id, local_date, want_in, want_last)"
)


async def _days_of(
    passes: Iterable[dict[str, Any]],
) -> dict[tuple[int, date], tuple[datetime | None, datetime | None]]:
    """For each (pupil, day) of these granted passes: the time of the day's first granted entry
    (None without one; asked only where the passes include an entry) and of its latest granted
    pass (asked only where they include an exit). The passes themselves are already stored."""
    wanted: dict[tuple[int, date], tuple[bool, bool]] = {}
    for event in passes:
        key = (event["holder_id"], event["local_date"])
        want_in, want_last = wanted.get(key, (False, False))
        if event["direction"] == "in":
            want_in = True
        else:
            want_last = True
        wanted[key] = (want_in, want_last)
    if not wanted:
        return {}
    if isinstance(AccessEvent._meta.db, PostgresEngine):
        keys = sorted(wanted)
        rows = await AccessEvent.raw(
            PG_DAYS,
            [student for student, _ in keys],
            [day for _, day in keys],
            [wanted[key][0] for key in keys],
            [wanted[key][1] for key in keys],
        )
        return {(r["holder_id"], r["local_date"]): (r["first_in"], r["last_at"]) for r in rows}
    # SQLite (the embedded default: one school's traffic): the days' passes, summed up here.
    found: dict[tuple[int, date], tuple[datetime | None, datetime | None]] = {}
    for row in await AccessEvent.select(
        AccessEvent.holder_id,
        AccessEvent.local_date,
        AccessEvent.direction,
        AccessEvent.occurred_at,
    ).where(
        (AccessEvent.holder_kind == "student")
        & AccessEvent.holder_id.is_in(sorted({s for s, _ in wanted}))
        & AccessEvent.local_date.is_in(sorted({d for _, d in wanted}))
        & (AccessEvent.result == "granted")
    ):
        key, at = (row["holder_id"], row["local_date"]), row["occurred_at"]
        first_in, last_at = found.get(key, (None, at))
        if row["direction"] == "in" and (first_in is None or at < first_in):
            first_in = at
        found[key] = (first_in, max(last_at or at, at))
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
    days = await _days_of(pupils)
    # The day's first entry is claimed (a later batch may hold an earlier or a simultaneous
    # entry); a re-entry or an exit is told once by construction: its pass is new to the
    # server once, in this transaction, so it needs no claim row.
    entries: dict[tuple[int, date], tuple[int, int]] = {}  # (pupil, day) -> school, pass
    ordered: list[tuple[str, dict[str, Any], int, int, date]] = []
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
                kind = PASSED
            elif (student_id, day) in entries:
                continue  # two entries at the same instant: the first one is told
            else:
                kind = ENTERED
                entries[(student_id, day)] = (event["school_id"], event["id"])
        elif last_at is None or last_at <= event["occurred_at"]:
            kind = EXITED  # no later pass is known: this exit left the pupil outside
        else:
            continue
        ordered.append((kind, payload, event["school_id"], student_id, day))
    raised = await claim_many(
        [
            (school_id, student_id, day, ENTERED, "", event_id)
            for (student_id, day), (school_id, event_id) in entries.items()
        ],
        received_at,
    )
    events: list[tuple[str, dict[str, Any], int | None, int | None]] = [
        (kind, payload, school_id, student_id)
        for kind, payload, school_id, student_id, day in ordered
        if kind != ENTERED or (student_id, day, ENTERED, "") in raised
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
