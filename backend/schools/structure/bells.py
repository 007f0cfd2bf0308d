"""School structure: bell schedules and clock times."""

from __future__ import annotations

from datetime import date, time, timedelta

import msgspec

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import ValidationFailed
from backend.schools.structure import schemas as s
from backend.schools.structure.common import MANAGE, READ, audit_write, authorize_school
from backend.schools.tables import (
    BellSchedule,
)

# ---- bells -----------------------------------------------------------------------------------


async def bell_schedules(actor: Actor, school_id: int) -> list[s.BellSchedule]:
    await authorize_school(actor, school_id, READ)
    rows = (
        await BellSchedule.select(
            BellSchedule.shift,
            BellSchedule.lesson_number,
            BellSchedule.starts_at,
            BellSchedule.ends_at,
        )
        .where(BellSchedule.school == school_id)
        .order_by(BellSchedule.shift)
        .order_by(BellSchedule.lesson_number)
    )
    shifts: dict[int, list[s.Bell]] = {}
    for r in rows:
        shifts.setdefault(r["shift"], []).append(
            s.Bell(r["lesson_number"], clock(r["starts_at"]), clock(r["ends_at"]))
        )
    return [s.BellSchedule(shift, bells) for shift, bells in shifts.items()]


def clock(value: time) -> str:
    return value.strftime("%H:%M")


def parse_clock(value: str) -> time:
    return time.fromisoformat(value[:5])


def _check_bells(bells: list[s.Bell]) -> list[s.Bell]:
    ordered = sorted(bells, key=lambda b: b.lesson_number)
    seen: set[int] = set()
    previous: s.Bell | None = None
    for bell in ordered:
        if bell.lesson_number in seen:
            raise ValidationFailed(key="structure.bell_duplicate", number=bell.lesson_number)
        seen.add(bell.lesson_number)
        if parse_clock(bell.starts_at) >= parse_clock(bell.ends_at):
            raise ValidationFailed(
                key="structure.bell_order",
                number=bell.lesson_number,
                starts_at=bell.starts_at[:5],
                ends_at=bell.ends_at[:5],
            )
        if previous is not None and parse_clock(bell.starts_at) < parse_clock(previous.ends_at):
            raise ValidationFailed(
                key="structure.bell_overlap",
                number=bell.lesson_number,
                previous=previous.lesson_number,
            )
        previous = bell
    return ordered


async def set_bell_schedule(
    actor: Actor, school_id: int, shift: int, data: s.BellScheduleSet
) -> list[s.BellSchedule]:
    """Replace one shift's bells as a whole (a bell schedule is edited as one table)."""
    await authorize_school(actor, school_id, MANAGE)
    bells = _check_bells(data.bells)
    async with transaction():
        await BellSchedule.delete().where(
            (BellSchedule.school == school_id) & (BellSchedule.shift == shift)
        )
        await BellSchedule.insert(
            *[
                BellSchedule(
                    school=school_id,
                    shift=shift,
                    lesson_number=b.lesson_number,
                    starts_at=parse_clock(b.starts_at),
                    ends_at=parse_clock(b.ends_at),
                )
                for b in bells
            ]
        )
        await audit_write(
            actor,
            AuditAction.UPDATE,
            "bell_schedule",
            f"{school_id}:{shift}",
            school_id,
            bells=[msgspec.to_builtins(b) for b in bells],
        )
    return await bell_schedules(actor, school_id)


def default_year_dates(today: date) -> tuple[str, date, date]:
    """The academic year `today` falls in (1 September to 31 August)."""
    first = today.year if today.month >= 9 else today.year - 1
    return f"{first}/{first + 1}", date(first, 9, 1), date(first + 1, 8, 31)


ONE_DAY = timedelta(days=1)
