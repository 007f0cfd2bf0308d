"""Ingest: a gateway's signed batch of passes, stored once each and placed in time.

Signing (docs/decisions/0901-gateway-signing.md): the gateway sends
``X-Parta-Gateway: <id>``, ``X-Parta-Timestamp: <unix seconds>`` and
``X-Parta-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>." + body)>``. The timestamp
must be within `REPLAY_WINDOW` of the server's clock; during a key rotation the previous key
is accepted until it expires. Nothing of a batch is read before its signature is checked.

Storing: one `INSERT ... ON CONFLICT (gateway_id, device_event_id) DO NOTHING RETURNING` per
batch, so a batch sent twice (a lost answer, a restarted gateway) stores each pass once and only
the passes new to the server go on to presence and alerts. The controller's time is corrected
by the gateway's skew and kept as `occurred_at`; the log is ordered by it, so a batch that
arrives hours late fills the log where its passes happened.

Skew (decision 0908): each batch gives a sample, its `sent_at` (the controllers' clock when
this attempt left the gateway) minus the moment the request reached the server (stamped by the
route's middleware, before the body is read). Delay on the way or in a busy server only ever
makes a sample smaller than the true skew, never larger; so the skew is the LARGEST sample over
the gateway's recent minutes (`skew_window`), the least-delayed one, as NTP's filters keep the
least-delayed exchange. A batch held for seconds moves nothing; a clock set forward shows at
once, a clock set back once its older, larger samples leave the window (`WINDOW_MINUTES`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from piccolo.engine.postgres import PostgresEngine

from backend.access import alerts, cards
from backend.access.registry import match_cards, points_of
from backend.access.tables import AccessEvent, AccessGateway
from backend.core.db import transaction
from backend.core.errors import NotAuthenticated
from backend.events import kinds as k
from backend.events.services import emit
from backend.schools.people.contacts import school_info

REPLAY_WINDOW = timedelta(minutes=5)
SKEW_TOLERANCE = 1  # seconds: a skew this small is not corrected
WINDOW_MINUTES = 8  # the gateway's latest minutes with a batch whose best samples are kept
SAMPLE_MAX_AGE = 6 * 60  # minutes: an older sample is dropped (a cheap clock drifts ~0.4 s)
ARRIVED_STATE = "access_arrived_at"
SKEW_REPORT = 60  # seconds of skew reported to the school (once, until it is fixed)
GATEWAY_HEADER = "x-parta-gateway"
TIMESTAMP_HEADER = "x-parta-timestamp"
SIGNATURE_HEADER = "x-parta-signature"
SIGNATURE_PREFIX = "sha256="
SKEW_KIND = k.ACCESS_CLOCK_SKEW


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (the gateway uses this)."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Gateway:
    id: int
    school_id: int
    # The best skew sample of each of its latest minutes with a batch: [[minute, seconds]].
    skew_window: tuple[tuple[int, float], ...] = ()


def parse_window(text: str | None) -> tuple[tuple[int, float], ...]:
    try:
        pairs = msgspec.json.decode(text or "[]", type=list[tuple[int, float]])
    except (msgspec.ValidationError, msgspec.DecodeError):
        return ()
    return tuple(pairs)


def estimate_skew(
    window: tuple[tuple[int, float], ...], sample: float | None, at: datetime
) -> tuple[int, tuple[tuple[int, float], ...]]:
    """The skew (whole seconds, 0 within `SKEW_TOLERANCE`) and the window kept after adding
    `sample` (sent_at minus arrival, seconds; None for a batch without `sent_at`) seen `at`.
    Every sample is the true skew minus its delay (>= 0), so the largest recent one is the
    closest: a delayed batch's smaller sample never moves the estimate."""
    minute = int(at.timestamp() // 60)
    best = {m: o for m, o in window if abs(minute - m) <= SAMPLE_MAX_AGE}
    if sample is not None:
        best[minute] = max(best.get(minute, sample), sample)
    kept = tuple(sorted(best.items())[-WINDOW_MINUTES:])
    if not kept:
        return 0, ()
    skew = round(max(o for _, o in kept))
    return (skew if abs(skew) > SKEW_TOLERANCE else 0), tuple((m, round(o, 3)) for m, o in kept)


def _refuse(key: str, **details: Any) -> NotAuthenticated:
    return NotAuthenticated(key=f"access.ingest.{key}", details=details or None)


async def verify(headers: dict[str, str], body: bytes, at: datetime | None = None) -> Gateway:
    """The gateway that signed this request, or 401. `headers` are lower-cased names."""
    at = at or datetime.now(UTC)
    gateway_text = headers.get(GATEWAY_HEADER, "")
    timestamp_text = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not (gateway_text.isdigit() and timestamp_text.isdigit() and signature):
        raise _refuse("unsigned")
    if len(gateway_text) > 9 or len(timestamp_text) > 12:
        raise _refuse("signature_invalid")
    timestamp = int(timestamp_text)
    if abs(at.timestamp() - timestamp) > REPLAY_WINDOW.total_seconds():
        # The server's time lets a gateway with a wrong clock correct its signing clock.
        raise _refuse("stale", server_time=int(at.timestamp()))
    row = (
        await AccessGateway.select(
            AccessGateway.id,
            AccessGateway.school_id,
            AccessGateway.signing_key,
            AccessGateway.previous_key,
            AccessGateway.previous_key_until,
            AccessGateway.skew_window,
        )
        .where((AccessGateway.id == int(gateway_text)) & (AccessGateway.is_active == True))  # noqa: E712
        .first()
    )
    if row is None:
        raise _refuse("signature_invalid")
    keys = [row["signing_key"]]
    if row["previous_key"] and row["previous_key_until"] and row["previous_key_until"] > at:
        keys.append(row["previous_key"])
    if not any(hmac.compare_digest(sign(k, timestamp, body), signature) for k in keys):
        raise _refuse("signature_invalid")
    return Gateway(row["id"], row["school_id"], parse_window(row["skew_window"]))


@dataclass(frozen=True, slots=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    clock_skew_seconds: int
    refused_cards: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def ingest(
    gateway: Gateway,
    batch: Any,
    received_at: datetime | None = None,
    arrived_at: datetime | None = None,
) -> IngestResult:
    """Store a verified batch (`schemas.IngestBatch`): passes new to the server are stored,
    placed in time, matched to cards, and the fresh ones raise their alerts. `arrived_at`:
    when the request reached the server (the skew sample's reference; `received_at` if None)."""
    received_at = received_at or datetime.now(UTC)
    arrived_at = arrived_at or received_at
    sample = None
    if batch.sent_at is not None:
        sample = (_aware(batch.sent_at) - arrived_at).total_seconds()
    skew, window = estimate_skew(gateway.skew_window, sample, arrived_at)
    correction = timedelta(seconds=skew)
    info = await school_info(gateway.school_id)
    zone = ZoneInfo(info.time_zone if info else "Europe/Moscow")
    points = await points_of(gateway.school_id)

    readings: dict[int, cards.CardId | None] = {}
    for index, event in enumerate(batch.events):
        try:
            readings[index] = cards.parse(event.card, event.card_format)
        except cards.CardFormatError:
            readings[index] = None
    matched = await match_cards(gateway.school_id, [r for r in readings.values() if r])

    rows: list[dict[str, Any]] = []
    for index, event in enumerate(batch.events):
        reading = readings[index]
        card = matched.get(reading.canonical) if reading else None
        problem = ""
        if reading is None:
            problem = "bad_card"
        elif card is None:
            problem = "unknown_card"
        elif card["status"] != "active":
            problem = "blocked_card"
        device_time = _aware(event.controller_time)
        occurred_at = (device_time - correction).astimezone(UTC)
        point_id = event.access_point_id if event.access_point_id in points else None
        rows.append(
            dict(
                gateway_id=gateway.id,
                device_event_id=event.device_event_id,
                school_id=gateway.school_id,
                access_point_id=point_id,
                card_raw=event.card[:64],
                card_format=event.card_format,
                card_canonical=reading.canonical if reading else "",
                card_id=card["id"] if card else None,
                holder_kind=card["holder_kind"] if card else "",
                holder_id=card["holder_id"] if card else None,
                direction=event.direction,
                result=event.result,
                problem=problem,
                device_time=device_time,
                occurred_at=occurred_at,
                received_at=received_at,
                local_date=occurred_at.astimezone(zone).date(),
            )
        )

    async with transaction():
        new = await store(rows)
        refused = await alerts.after_ingest(new, zone, received_at)
        # Last: its update holds the gateway's row until the commit.
        await _seen(gateway, skew, window, received_at)
    return IngestResult(
        received=len(rows),
        stored=len(new),
        duplicates=len(rows) - len(new),
        clock_skew_seconds=skew,
        refused_cards=refused,
    )


RETURNED = (
    "id",
    "school_id",
    "holder_kind",
    "holder_id",
    "direction",
    "result",
    "problem",
    "card_raw",
    "access_point_id",
    "occurred_at",
    "received_at",
    "local_date",
)
# The columns written, with their PostgreSQL types.
STORED = (
    ("gateway_id", "int"),
    ("device_event_id", "varchar"),
    ("school_id", "int"),
    ("access_point_id", "int"),
    ("card_raw", "varchar"),
    ("card_format", "varchar"),
    ("card_canonical", "varchar"),
    ("card_id", "int"),
    ("holder_kind", "varchar"),
    ("holder_id", "int"),
    ("direction", "varchar"),
    ("result", "varchar"),
    ("problem", "varchar"),
    ("device_time", "timestamptz"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("local_date", "date"),
)
# Built from the constants above only (no input reaches the text; the rows are one parameter).
PG_STORE = (
    f"INSERT INTO access_event ({', '.join(c for c, _ in STORED)}) "  # noqa: S608
    f"SELECT {', '.join(c for c, _ in STORED)} FROM json_to_recordset({{}}::json) "
    f"AS x({', '.join(f'{c} {kind}' for c, kind in STORED)}) "
    "ON CONFLICT (gateway_id, device_event_id) DO NOTHING "
    "RETURNING id, device_event_id"
)
ENCODER = msgspec.json.Encoder()


async def store(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the passes not stored before, in one statement; returns those inserted (the
    row given, with its `id`). On PostgreSQL the batch travels as one JSON parameter read by
    `json_to_recordset`, and only the new rows' ids come back: building a 500-row `VALUES`
    list through the ORM, or one array per column (asyncpg checks every element's type in
    Python), cost more than the database's work."""
    if not rows:
        return []
    if isinstance(AccessEvent._meta.db, PostgresEngine):
        inserted = await AccessEvent.raw(PG_STORE, ENCODER.encode(rows).decode())
        ids = {r["device_event_id"]: r["id"] for r in inserted}
        new = []
        for row in rows:
            # Within a batch the first of two passes with one device id is the one stored.
            event_id = ids.pop(row["device_event_id"], None)
            if event_id is not None:
                new.append({**row, "id": event_id})
        return new
    inserted = (
        await AccessEvent.insert(*(AccessEvent(**row) for row in rows))
        .on_conflict(
            target=(AccessEvent.gateway_id, AccessEvent.device_event_id), action="DO NOTHING"
        )
        .returning(*(getattr(AccessEvent, name) for name in RETURNED))
    )
    return list(inserted)


async def _seen(
    gateway: Gateway, skew: int, window: tuple[tuple[int, float], ...], at: datetime
) -> None:
    """Note the gateway's last contact and skew; report a skew past `SKEW_REPORT` once (and
    again only after it was fixed)."""
    row = (
        await AccessGateway.select(AccessGateway.skew_reported, AccessGateway.name)
        .where(AccessGateway.id == gateway.id)
        .first()
    )
    reported = bool(row and row["skew_reported"])
    too_far = abs(skew) > SKEW_REPORT
    values: dict[Any, Any] = {
        AccessGateway.last_seen_at: at,
        AccessGateway.clock_skew_seconds: skew,
        AccessGateway.skew_window: ENCODER.encode(window).decode(),
    }
    if too_far and not reported:
        values[AccessGateway.skew_reported] = True
        await emit(
            SKEW_KIND,
            {"gateway_id": gateway.id, "gateway": row["name"] if row else "", "skew_seconds": skew},
            school_id=gateway.school_id,
        )
    elif reported and not too_far:
        values[AccessGateway.skew_reported] = False
    await AccessGateway.update(values).where(AccessGateway.id == gateway.id)
