"""School structure: academic years and study periods (closing and reopening a period)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, ValidationFailed
from backend.core.forms import ru_date
from backend.i18n import t
from backend.schools.structure import schemas as s
from backend.schools.structure.common import (
    MANAGE,
    READ,
    audit_write,
    authorize_school,
    changed_fields,
    check_dates,
    one,
)
from backend.schools.tables import (
    AcademicYear,
    Holiday,
    SchoolClass,
    StudyPeriod,
)
from backend.schools.validators import clean_names

# ---- the year --------------------------------------------------------------------------------


_YEAR_COLUMNS = (
    AcademicYear.id,
    AcademicYear.school,
    AcademicYear.name,
    AcademicYear.starts_on,
    AcademicYear.ends_on,
)


async def list_years(actor: Actor, school_id: int) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    return await (
        AcademicYear.select(*_YEAR_COLUMNS)
        .where(AcademicYear.school == school_id)
        .order_by(AcademicYear.starts_on)
    )


async def year_in_school(school_id: int, year_id: int) -> dict[str, Any]:
    return await one(
        AcademicYear.select(*_YEAR_COLUMNS).where(
            (AcademicYear.id == year_id) & (AcademicYear.school == school_id)
        )
    )


def _check_year_dates(name: str, starts_on: date, ends_on: date) -> None:
    check_dates(starts_on, ends_on)
    if (ends_on - starts_on).days > 366:
        raise ValidationFailed(key="structure.year_too_long")
    first, _, second = name.partition("/")
    if name and (int(first) != starts_on.year or int(second) != ends_on.year):
        raise ValidationFailed(key="structure.year_name_mismatch", name=name)


async def _check_year_overlap(school_id: int, starts_on: date, ends_on: date, exclude: int) -> None:
    other = (
        await AcademicYear.select(AcademicYear.name)
        .where(
            (AcademicYear.school == school_id)
            & (AcademicYear.id != exclude)
            & (AcademicYear.starts_on <= ends_on)
            & (AcademicYear.ends_on >= starts_on)
        )
        .first()
    )
    if other is not None:
        raise Conflict(key="structure.year_overlaps", name=other["name"])


async def create_year(actor: Actor, school_id: int, data: s.AcademicYearCreate) -> dict[str, Any]:
    await authorize_school(actor, school_id, MANAGE)
    _check_year_dates(data.name, data.starts_on, data.ends_on)
    async with transaction():
        if await AcademicYear.exists().where(
            (AcademicYear.school == school_id) & (AcademicYear.name == data.name)
        ):
            raise Conflict(key="structure.year_exists", name=data.name)
        await _check_year_overlap(school_id, data.starts_on, data.ends_on, 0)
        row = AcademicYear(
            school=school_id, name=data.name, starts_on=data.starts_on, ends_on=data.ends_on
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "academic_year", row.id, school_id, **changed_fields(data)
        )
    return await year_in_school(school_id, row.id)


async def update_year(
    actor: Actor, school_id: int, year_id: int, data: s.AcademicYearUpdate
) -> dict[str, Any]:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        year = await year_in_school(school_id, year_id)
        starts_on = data.starts_on if data.starts_on is not msgspec.UNSET else year["starts_on"]
        ends_on = data.ends_on if data.ends_on is not msgspec.UNSET else year["ends_on"]
        _check_year_dates(year["name"], starts_on, ends_on)
        await _check_year_overlap(school_id, starts_on, ends_on, year_id)
        # Periods and holidays must stay inside the year.
        for table, what in ((StudyPeriod, "period"), (Holiday, "holiday")):
            outside = (
                await table.select(table.name)
                .where(
                    (table.academic_year == year_id)
                    & ((table.starts_on < starts_on) | (table.ends_on > ends_on))
                )
                .first()
            )
            if outside is not None:
                raise Conflict(
                    key="structure.year_shrinks_past",
                    what=t(f"structure.what.{what}"),
                    name=outside["name"],
                )
        await AcademicYear.update(
            {AcademicYear.starts_on: starts_on, AcademicYear.ends_on: ends_on}
        ).where(AcademicYear.id == year_id)
        await audit_write(
            actor, AuditAction.UPDATE, "academic_year", year_id, school_id, **changed_fields(data)
        )
    return await year_in_school(school_id, year_id)


def check_inside_year(year: dict[str, Any], starts_on: date, ends_on: date) -> None:
    check_dates(starts_on, ends_on)
    if starts_on < year["starts_on"] or ends_on > year["ends_on"]:
        raise ValidationFailed(
            key="structure.outside_year",
            starts_on=ru_date(starts_on),
            ends_on=ru_date(ends_on),
            year=year["name"],
            year_starts=ru_date(year["starts_on"]),
            year_ends=ru_date(year["ends_on"]),
        )


_PERIOD_COLUMNS = (
    StudyPeriod.id,
    StudyPeriod.academic_year,
    StudyPeriod.kind,
    StudyPeriod.number,
    StudyPeriod.name,
    StudyPeriod.starts_on,
    StudyPeriod.ends_on,
    StudyPeriod.grades,
    StudyPeriod.closed_at,
    StudyPeriod.closed_by,
)


async def list_periods(actor: Actor, school_id: int, year_id: int) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    await year_in_school(school_id, year_id)
    return await (
        StudyPeriod.select(*_PERIOD_COLUMNS)
        .where(StudyPeriod.academic_year == year_id)
        .order_by(StudyPeriod.starts_on)
        .order_by(StudyPeriod.kind)
        .output(load_json=True)
    )


async def _period_in_school(school_id: int, period_id: int) -> dict[str, Any]:
    return await one(
        StudyPeriod.select(*_PERIOD_COLUMNS)
        .where((StudyPeriod.id == period_id) & (StudyPeriod.academic_year.school == school_id))
        .output(load_json=True)
    )


async def _check_period_overlap(
    year_id: int, grades: Iterable[int], starts_on: date, ends_on: date, exclude: int
) -> None:
    wanted = set(grades)
    rows = (
        await StudyPeriod.select(
            StudyPeriod.name, StudyPeriod.grades, StudyPeriod.starts_on, StudyPeriod.ends_on
        )
        .where(
            (StudyPeriod.academic_year == year_id)
            & (StudyPeriod.id != exclude)
            & (StudyPeriod.starts_on <= ends_on)
            & (StudyPeriod.ends_on >= starts_on)
        )
        .output(load_json=True)
    )
    for row in rows:
        if wanted & set(row["grades"]):
            raise Conflict(
                key="structure.period_overlaps",
                name=row["name"],
                starts_on=ru_date(row["starts_on"]),
                ends_on=ru_date(row["ends_on"]),
            )


async def create_period(
    actor: Actor, school_id: int, year_id: int, data: s.StudyPeriodCreate
) -> dict[str, Any]:
    data = clean_names(data, optional=("name",))
    await authorize_school(actor, school_id, MANAGE)
    if not data.grades:
        raise ValidationFailed(key="structure.grades_required")
    grades = sorted(set(data.grades))
    name = data.name or f"{data.number} {t(f'structure.kind.{data.kind}')}"
    async with transaction():
        year = await year_in_school(school_id, year_id)
        check_inside_year(year, data.starts_on, data.ends_on)
        await _check_period_overlap(year_id, grades, data.starts_on, data.ends_on, 0)
        row = StudyPeriod(
            academic_year=year_id,
            kind=data.kind,
            number=data.number,
            name=name,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            grades=grades,
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "study_period", row.id, school_id, **changed_fields(data)
        )
    return await _period_in_school(school_id, row.id)


async def update_period(
    actor: Actor, school_id: int, period_id: int, data: s.StudyPeriodUpdate
) -> dict[str, Any]:
    data = clean_names(data, "name")
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        period = await _period_in_school(school_id, period_id)
        if period["closed_at"] is not None:
            raise Conflict(key="structure.period_closed", name=period["name"])
        year = await year_in_school(school_id, period["academic_year"])
        starts_on = data.starts_on if data.starts_on is not msgspec.UNSET else period["starts_on"]
        ends_on = data.ends_on if data.ends_on is not msgspec.UNSET else period["ends_on"]
        check_inside_year(year, starts_on, ends_on)
        await _check_period_overlap(year["id"], period["grades"], starts_on, ends_on, period_id)
        values: dict[Any, Any] = {StudyPeriod.starts_on: starts_on, StudyPeriod.ends_on: ends_on}
        if data.name is not msgspec.UNSET:
            values[StudyPeriod.name] = data.name
        await StudyPeriod.update(values).where(StudyPeriod.id == period_id)
        await audit_write(
            actor, AuditAction.UPDATE, "study_period", period_id, school_id, **changed_fields(data)
        )
    return await _period_in_school(school_id, period_id)


async def close_period(actor: Actor, school_id: int, period_id: int) -> dict[str, Any]:
    """Close a study period: its marks are locked from now on (the journal enforces it)."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        period = await _period_in_school(school_id, period_id)
        if period["closed_at"] is not None:
            raise Conflict(key="structure.period_already_closed", name=period["name"])
        await StudyPeriod.update(
            {StudyPeriod.closed_at: datetime.now(UTC), StudyPeriod.closed_by: actor.user_id}
        ).where(StudyPeriod.id == period_id)
        await audit_write(actor, "study_period.close", "study_period", period_id, school_id)
    return await _period_in_school(school_id, period_id)


async def reopen_period(actor: Actor, school_id: int, period_id: int) -> dict[str, Any]:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        period = await _period_in_school(school_id, period_id)
        if period["closed_at"] is None:
            raise Conflict(key="structure.period_not_closed", name=period["name"])
        await StudyPeriod.update({StudyPeriod.closed_at: None, StudyPeriod.closed_by: None}).where(
            StudyPeriod.id == period_id
        )
        await audit_write(
            actor,
            "study_period.reopen",
            "study_period",
            period_id,
            school_id,
            was_closed_at=period["closed_at"],
        )
    return await _period_in_school(school_id, period_id)


async def period_of(school_class_id: int, on: date) -> dict[str, Any] | None:
    """The study period a class's lesson on `on` belongs to (for the journal: closed periods lock
    marks). None when the date is outside every period of the class's grade."""
    klass = await one(
        SchoolClass.select(SchoolClass.grade, SchoolClass.academic_year).where(
            SchoolClass.id == school_class_id
        )
    )
    rows = (
        await StudyPeriod.select(*_PERIOD_COLUMNS)
        .where(
            (StudyPeriod.academic_year == klass["academic_year"])
            & (StudyPeriod.starts_on <= on)
            & (StudyPeriod.ends_on >= on)
        )
        .output(load_json=True)
    )
    for row in rows:
        if klass["grade"] in row["grades"]:
            return row
    return None


async def is_period_closed(school_class_id: int, on: date) -> bool:
    period = await period_of(school_class_id, on)
    return period is not None and period["closed_at"] is not None
