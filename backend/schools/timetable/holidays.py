"""Holidays of a year: creating one cancels the untouched lessons it covers."""

from __future__ import annotations

from typing import Any

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.db import transaction
from backend.schools.structure import schemas as s
from backend.schools.structure.common import (
    MANAGE,
    READ,
    audit_write,
    authorize_school,
    changed_fields,
    one,
)
from backend.schools.structure.year import check_inside_year, year_in_school
from backend.schools.tables import (
    Holiday,
)
from backend.schools.timetable.lessons import cancel_for_holiday
from backend.schools.validators import clean_names

HOLIDAY_COLUMNS = (
    Holiday.id,
    Holiday.academic_year,
    Holiday.name,
    Holiday.starts_on,
    Holiday.ends_on,
    Holiday.grades,
)


async def list_holidays(actor: Actor, school_id: int, year_id: int) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    await year_in_school(school_id, year_id)
    return await (
        Holiday.select(*HOLIDAY_COLUMNS)
        .where(Holiday.academic_year == year_id)
        .order_by(Holiday.starts_on)
        .output(load_json=True)
    )


async def create_holiday(
    actor: Actor, school_id: int, year_id: int, data: s.HolidayCreate
) -> dict[str, Any]:
    data = clean_names(data, "name")
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        year = await year_in_school(school_id, year_id)
        check_inside_year(year, data.starts_on, data.ends_on)
        row = Holiday(
            academic_year=year_id,
            name=data.name,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            grades=sorted(set(data.grades)),
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "holiday", row.id, school_id, **changed_fields(data)
        )
        created = await one(
            Holiday.select(*HOLIDAY_COLUMNS).where(Holiday.id == row.id).output(load_json=True)
        )
        cancelled, kept = await cancel_for_holiday(actor, school_id, created)
    return {**created, "cancelled_lessons": cancelled, "kept_lessons": kept}


async def delete_holiday(actor: Actor, school_id: int, holiday_id: int) -> None:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await one(
            Holiday.select(*HOLIDAY_COLUMNS)
            .where((Holiday.id == holiday_id) & (Holiday.academic_year.school == school_id))
            .output(load_json=True)
        )
        await Holiday.delete().where(Holiday.id == holiday_id)
        await audit_write(actor, AuditAction.DELETE, "holiday", holiday_id, school_id, **row)
