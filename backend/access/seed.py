"""Demo entries: the demo school's turnstile, a gateway, a card for the demo pupil and the
pupil's passes on the last ten school days before today (two weeks, or the two before a
holiday). `backend.seed` calls
`seed_demo_entries`; the registry's services make the turnstile, gateway and card, and the
passes go through the ingest as the gateway would have sent each day's passes that evening.

Sent in the evening, the passes are not fresh: they raise no alerts (the demo does not send
a fortnight of «пришёл в школу»), and the gateway was last seen yesterday, so the "has not
arrived" check does not count the school's other pupils, who have no cards, as missing.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.access import ingest, registry
from backend.access import schemas as s
from backend.core.context import Actor
from backend.schools.people.contacts import school_info
from backend.schools.structure import services as structure
from backend.schools.timetable import services as timetable

SEEDED_DAYS = 10  # the last school days before today with passes (two weeks)
LOOK_BACK = 30  # calendar days searched for them (a holiday may come between)
DEMO_CARD = "123,45678"  # Wiegand-26: facility 123, number 45678
LESSON_WEEKDAYS = (1, 2, 3, 4, 5)  # the demo timetable's days (backend.seed.DAYS)


async def school_days(school_id: int, start: date, end: date) -> list[date]:
    """The days in [start, end) the demo has lessons (Monday to Friday of the school's study
    days), without its holidays."""
    settings = await structure.school_settings(school_id)
    holidays = await timetable.load_holidays(school_id, start, end)
    weekdays = set(settings.study_days) & set(LESSON_WEEKDAYS)
    days = (start + timedelta(days=n) for n in range((end - start).days))
    return [d for d in days if d.isoweekday() in weekdays and not holidays.is_off(d, None)]


async def seed_demo_entries(
    school_id: int, student_id: int, today: date, rng: random.Random
) -> dict[str, int]:
    system = Actor.system()
    info = await school_info(school_id)
    zone = ZoneInfo(info.time_zone if info else "Europe/Moscow")
    point = await registry.create_point(
        system, school_id, name="Главный вход, турникет 1", direction="both", lane=1
    )
    gateway = await registry.create_gateway(system, school_id, name="Шлюз на вахте")
    await registry.issue_card(
        system, school_id, raw_value=DEMO_CARD, card_format="wiegand26",
        holder_kind="student", holder_id=student_id,
    )  # fmt: skip
    sender = ingest.Gateway(gateway["id"], school_id)
    stored = 0
    days = await school_days(school_id, today - timedelta(days=LOOK_BACK), today)
    for day in days[-SEEDED_DAYS:]:

        def at(hour: int, minute: int, day: date = day) -> datetime:
            return datetime.combine(day, time(hour, minute, rng.randrange(60)), tzinfo=zone)

        passes = [
            ("in", at(7, rng.randrange(35, 56))),
            ("out", at(rng.choice((13, 14)), rng.randrange(60))),
        ]
        events = [
            s.IngestEvent(
                device_event_id=f"demo-{day.isoformat()}-{n}",
                card=DEMO_CARD,
                card_format="wiegand26",
                access_point_id=point["id"],
                direction=direction,  # type: ignore[arg-type]
                result="granted",
                controller_time=moment,
            )
            for n, (direction, moment) in enumerate(passes)
        ]
        evening = datetime.combine(day, time(18, 0), tzinfo=zone)
        result = await ingest.ingest(sender, s.IngestBatch(events=events), received_at=evening)
        stored += result.stored
    return {"passes": stored}
