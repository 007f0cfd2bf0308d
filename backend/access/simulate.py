"""A morning rush at a school's turnstiles, for demos and load tests (`parta simulate
turnstiles`).

`rush()` is pure: pupils arrive over about 40 minutes on a bell-shaped curve peaking 10 minutes
before the first lesson; each lane passes at most `per_lane_minute` people a minute (a pupil who
arrives at a busy lane waits in its queue); a few cards are unknown (a forgotten card lent by a
friend, a card from another school) and a few are lost cards already blocked. The passes are
written as the JSON-lines spool `parta gateway` reads, so a gateway replays them against the
ingest; stopping the gateway for a while and starting it again is the "offline, uploads late"
case.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.access.tables import AccessCard, AccessPoint


@dataclass(frozen=True, slots=True)
class Holder:
    card: str
    card_format: str


@dataclass(frozen=True, slots=True)
class Pass:
    id: str  # unique across runs: the day, the seed and the pass's number
    card: str
    card_format: str
    access_point_id: int
    time: datetime
    result: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "card": self.card,
            "card_format": self.card_format,
            "access_point_id": self.access_point_id,
            "direction": "in",
            "result": self.result,
            "time": self.time.isoformat(),
        }


def rush(
    holders: Sequence[Holder],
    lanes: Sequence[int],
    first_lesson: datetime,
    *,
    minutes: int = 40,
    per_lane_minute: int = 28,
    unknown_share: float = 0.02,
    seed: int = 1,
) -> list[Pass]:
    """Every holder enters once; passes in time order."""
    if not lanes:
        raise ValueError("no lanes")
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    start = first_lesson - timedelta(minutes=minutes - 5)
    peak = minutes - 15  # minutes after `start`: 10 minutes before the lesson
    arrivals = sorted(
        (
            (min(max(rng.gauss(peak, minutes / 5), 0.0), float(minutes)), holder)
            for holder in holders
        ),
        key=lambda pair: pair[0],
    )
    gap = 60.0 / per_lane_minute  # seconds a lane needs per person
    free_at = dict.fromkeys(lanes, 0.0)
    passes: list[Pass] = []
    for number, (minute, holder) in enumerate(arrivals, start=1):
        arrived = minute * 60
        lane = min(lanes, key=lambda lane: max(free_at[lane], arrived))
        at = max(free_at[lane], arrived)
        free_at[lane] = at + gap
        card, fmt, result = holder.card, holder.card_format, "granted"
        if rng.random() < unknown_share:
            card, fmt, result = (
                f"{rng.randint(200, 255)},{rng.randint(0, 65535)}",
                "wiegand26",
                "denied",
            )
        moment = start + timedelta(seconds=round(at, 1))
        passes.append(
            Pass(f"{first_lesson.date()}-{seed}-{number}", card, fmt, lane, moment, result)
        )
    passes.sort(key=lambda p: p.time)
    return passes


async def school_cards(school_id: int) -> tuple[list[Holder], list[int]]:
    """The pupils' cards of a school and its active access points (the lanes)."""
    cards = await AccessCard.select(AccessCard.raw_value, AccessCard.card_format).where(
        (AccessCard.school_id == school_id) & (AccessCard.holder_kind == "student")
    )
    points = await AccessPoint.select(AccessPoint.id).where(
        (AccessPoint.school_id == school_id) & (AccessPoint.is_active == True)  # noqa: E712
    )
    return [Holder(c["raw_value"], c["card_format"]) for c in cards], [p["id"] for p in points]
