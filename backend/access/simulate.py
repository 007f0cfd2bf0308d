"""A school day at the turnstiles, for demos and load tests (`parta simulate turnstiles`).

All pure:

- `rush()`: pupils arrive over about 40 minutes on a bell-shaped curve peaking 10 minutes
  before the first lesson; each lane passes at most `per_lane_minute` people a minute (a pupil
  who arrives at a busy lane waits in its queue); a few cards are unknown (a forgotten card lent
  by a friend, a card from another school), and some lost cards, already blocked, are tried
  and refused.
- `leaving()`: the afternoon: every pupil who came leaves once, most in the first minutes after
  the last lesson, through the exit lanes.
- `live_schedule()`: for a live replay, when each pass is written to the spool and its time on
  the controllers' clock: the day compressed by `speed` to start now, the controllers' clock
  off by `skew`, and the passes of a window when the gateway was offline written only at the
  window's end (the gateway uploads them late: they fill the log in time order, and those
  more than 10 minutes late alert nobody).

The passes are written as the JSON-lines spool `parta gateway` reads.
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
    direction: str = "in"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "card": self.card,
            "card_format": self.card_format,
            "access_point_id": self.access_point_id,
            "direction": self.direction,
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
    lost: Sequence[Holder] = (),
    lost_tries: float = 0.5,
) -> list[Pass]:
    """Every holder enters once; each `lost` (blocked) card is tried with probability
    `lost_tries` and refused; passes in time order."""
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
    for number, lost_card in enumerate(lost, start=1):
        if rng.random() < lost_tries:
            moment = start + timedelta(seconds=round(rng.uniform(0, minutes * 60), 1))
            passes.append(
                Pass(
                    f"{first_lesson.date()}-{seed}-lost-{number}",
                    lost_card.card,
                    lost_card.card_format,
                    rng.choice(list(lanes)),
                    moment,
                    "denied",
                )
            )
    passes.sort(key=lambda p: p.time)
    return passes


def leaving(
    entered: Sequence[Pass],
    lanes: Sequence[int],
    last_lesson_end: datetime,
    *,
    minutes: int = 30,
    per_lane_minute: int = 28,
    seed: int = 1,
) -> list[Pass]:
    """Each card that entered (granted) leaves once after `last_lesson_end`: most within the
    first 10 minutes (an exponential curve), every one within `minutes`; lanes pass at most
    `per_lane_minute` a minute."""
    if not lanes:
        raise ValueError("no lanes")
    rng = random.Random(seed * 7919 + 1)  # noqa: S311 - a simulation, not a secret
    cards = sorted({(p.card, p.card_format) for p in entered if p.result == "granted"})
    departures = sorted((min(rng.expovariate(1 / 5), float(minutes)), card) for card in cards)
    gap = 60.0 / per_lane_minute
    free_at = dict.fromkeys(lanes, 0.0)
    passes = []
    for number, (minute, (card, fmt)) in enumerate(departures, start=1):
        wanted = minute * 60
        lane = min(lanes, key=lambda lane: max(free_at[lane], wanted))
        at = max(free_at[lane], wanted)
        free_at[lane] = at + gap
        passes.append(
            Pass(
                f"{last_lesson_end.date()}-{seed}-out-{number}",
                card,
                fmt,
                lane,
                last_lesson_end + timedelta(seconds=round(at, 1)),
                "granted",
                "out",
            )
        )
    passes.sort(key=lambda p: p.time)
    return passes


@dataclass(frozen=True, slots=True)
class Written:
    after: float  # seconds after the replay's start when the line is written
    item: Pass  # with its time on the controllers' clock


def live_schedule(
    passes: Sequence[Pass],
    now: datetime,
    *,
    speed: float = 1.0,
    skew: timedelta = timedelta(0),
    offline: tuple[float, float] | None = None,
) -> list[Written]:
    """The replay of `passes` starting `now`: a pass `d` after the first happens at
    `now + d / speed` (and is written then), stamped with the controllers' clock (`skew` off
    the true time). Passes happening in `offline` (seconds after the start, from and to) are
    written at its end, all at once, as a gateway back online uploads them."""
    if not passes:
        return []
    if speed <= 0:
        raise ValueError("speed")
    origin = passes[0].time
    out = []
    for one in passes:
        after = (one.time - origin).total_seconds() / speed
        written = after
        if offline is not None and offline[0] <= after < offline[1]:
            written = offline[1]
        stamped = Pass(
            one.id,
            one.card,
            one.card_format,
            one.access_point_id,
            now + timedelta(seconds=after) + skew,
            one.result,
            one.direction,
        )
        out.append(Written(written, stamped))
    out.sort(key=lambda w: w.after)
    return out


@dataclass(frozen=True, slots=True)
class SchoolCards:
    holders: list[Holder]  # the pupils' live cards
    lost: list[Holder]  # the pupils' blocked cards
    entrances: list[int]  # access points one enters by (in or both)
    exits: list[int]  # access points one leaves by (out or both)


async def school_cards(school_id: int) -> SchoolCards:
    """The pupils' cards of a school and its active access points (the lanes)."""
    cards = await AccessCard.select(
        AccessCard.raw_value, AccessCard.card_format, AccessCard.status
    ).where((AccessCard.school_id == school_id) & (AccessCard.holder_kind == "student"))
    points = await AccessPoint.select(AccessPoint.id, AccessPoint.direction).where(
        (AccessPoint.school_id == school_id) & (AccessPoint.is_active == True)  # noqa: E712
    )
    return SchoolCards(
        holders=[
            Holder(c["raw_value"], c["card_format"]) for c in cards if c["status"] == "active"
        ],
        lost=[Holder(c["raw_value"], c["card_format"]) for c in cards if c["status"] != "active"],
        entrances=[p["id"] for p in points if p["direction"] in ("in", "both")],
        exits=[p["id"] for p in points if p["direction"] in ("out", "both")],
    )
