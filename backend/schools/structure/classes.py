"""School structure use cases: tenancy, settings, the year, classes, groups, subjects, curriculum,
teaching assignments, rooms and bells.

Every function takes the `Actor` it acts for, checks the object's place in the tenancy tree
(outside the caller's scope answers 404), validates, writes in one transaction and audits.
`Actor.system()` (commands, the seed) is trusted and still audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from piccolo.table import Table

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.forms import class_name, ru_date, short_person_name
from backend.core.rights import Permission, ScopeKind, ScopeTarget
from backend.i18n import t
from backend.schools import structure_schemas as s
from backend.schools.class_teachers import follow_class_teacher
from backend.schools.services import school_target, scope_target
from backend.schools.tables import (
    AcademicYear,
    BellSchedule,
    CurriculumItem,
    Holiday,
    Municipality,
    Region,
    Room,
    School,
    SchoolClass,
    Staff,
    Student,
    StudyGroup,
    StudyGroupMember,
    StudyPeriod,
    Subject,
    TeachingAssignment,
)
from backend.schools.validators import CLASS_LETTER, clean_names

if TYPE_CHECKING:
    from backend.accounts.services import AccountsService

READ = Permission.STRUCTURE_READ
MANAGE = Permission.STRUCTURE_MANAGE


# ---- rights ----------------------------------------------------------------------------------


def check(actor: Actor, permission: Permission, target: ScopeTarget) -> None:
    """Refuse with 404 when the actor may not act on `target` (do not reveal it exists)."""
    if actor.principal is not None and not actor.principal.allows(permission, target):
        raise NotFound()


async def authorize_school(actor: Actor, school_id: int, permission: Permission) -> ScopeTarget:
    target = await school_target(school_id)
    check(actor, permission, target)
    return target


# ---- small helpers ---------------------------------------------------------------------------


def _check_dates(starts_on: date, ends_on: date) -> None:
    if starts_on > ends_on:
        raise ValidationFailed(
            key="structure.dates_order",
            starts_on=ru_date(starts_on),
            ends_on=ru_date(ends_on),
        )


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(key="structure.time_zone_invalid", value=value[:64]) from None
    return value


async def one(query: Any) -> dict[str, Any]:
    row = await query.first()
    if row is None:
        raise NotFound()
    return row


async def audit_write(
    actor: Actor, action: str, object_type: str, object_id: Any, school_id: int, **details: Any
) -> None:
    await record(
        actor,
        action,
        object_type=object_type,
        object_id=object_id,
        school_id=school_id,
        details={k: _jsonable(v) for k, v in details.items()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _changes(data: msgspec.Struct) -> dict[str, Any]:
    return {
        f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET
    }


# ---- tenancy ---------------------------------------------------------------------------------


async def create_region(actor: Actor, data: s.RegionCreate) -> dict[str, Any]:
    data = clean_names(data, "name")
    check(actor, MANAGE, ScopeTarget())
    _check_time_zone(data.time_zone)
    async with transaction():
        taken = await Region.exists().where((Region.name == data.name) | (Region.code == data.code))
        if taken:
            raise Conflict(key="structure.region_exists")
        row = Region(name=data.name, code=data.code, time_zone=data.time_zone)
        await row.save()
        await record(actor, AuditAction.CREATE, object_type="region", object_id=row.id)
    return row.to_dict()


async def create_municipality(
    actor: Actor, region_id: int, data: s.MunicipalityCreate
) -> dict[str, Any]:
    data = clean_names(data, "name")
    target = await scope_target(ScopeKind.REGION, region_id)
    if not await Region.exists().where(Region.id == region_id):
        raise NotFound()
    check(actor, MANAGE, target)
    async with transaction():
        row = Municipality(region=region_id, name=data.name)
        await row.save()
        await record(
            actor,
            AuditAction.CREATE,
            object_type="municipality",
            object_id=row.id,
            details={"region": region_id, "name": data.name},
        )
    return {"id": row.id, "region": region_id, "name": data.name}


async def create_school(actor: Actor, municipality_id: int, data: s.SchoolCreate) -> dict[str, Any]:
    data = clean_names(data, "full_name", "short_name")
    target = await scope_target(ScopeKind.MUNICIPALITY, municipality_id)
    check(actor, MANAGE, target)
    region = await one(Region.select(Region.time_zone).where(Region.id == target.region_id))
    time_zone = _check_time_zone(data.time_zone or region["time_zone"])
    async with transaction():
        row = School(
            municipality=municipality_id,
            full_name=data.full_name,
            short_name=data.short_name,
            inn=data.inn,
            kpp=data.kpp,
            ogrn=data.ogrn,
            address=data.address,
            time_zone=time_zone,
            settings={},
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "school", row.id, row.id, short_name=data.short_name
        )
    return await get_school(actor, row.id)


_SCHOOL_COLUMNS = (
    School.id,
    School.municipality,
    School.full_name,
    School.short_name,
    School.inn,
    School.kpp,
    School.ogrn,
    School.address,
    School.time_zone,
    School.is_active,
)


async def get_school(actor: Actor, school_id: int) -> dict[str, Any]:
    await authorize_school(actor, school_id, READ)
    return await one(School.select(*_SCHOOL_COLUMNS).where(School.id == school_id))


async def list_schools(
    actor: Actor, school_ids: set[int] | None, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Schools the actor reads structure of (`school_ids` None: every school)."""
    query = School.select(*_SCHOOL_COLUMNS).order_by(School.id)
    count = School.count()
    if school_ids is not None:
        query = query.where(School.id.is_in(sorted(school_ids) or [0]))
        count = count.where(School.id.is_in(sorted(school_ids) or [0]))
    return await query.limit(limit).offset(offset), await count


# ---- settings --------------------------------------------------------------------------------


def _settings_of(stored: Any) -> s.SchoolSettings:
    doc = msgspec.json.decode(stored) if isinstance(stored, str | bytes) else (stored or {})
    known = {k: v for k, v in doc.items() if k in s.SchoolSettings.__struct_fields__}
    return msgspec.convert(known, s.SchoolSettings)


async def get_settings(actor: Actor, school_id: int) -> s.SchoolSettingsOut:
    await authorize_school(actor, school_id, READ)
    row = await one(School.select(School.time_zone, School.settings).where(School.id == school_id))
    return s.SchoolSettingsOut(school_id, row["time_zone"], _settings_of(row["settings"]))


async def school_settings(school_id: int) -> s.SchoolSettings:
    """The school's settings for other contexts (journal: marking window; meals: cut-off)."""
    row = await one(School.select(School.settings).where(School.id == school_id))
    return _settings_of(row["settings"])


async def update_settings(
    actor: Actor, school_id: int, data: s.SchoolSettingsUpdate
) -> s.SchoolSettingsOut:
    await authorize_school(actor, school_id, MANAGE)
    changes = _changes(data)
    async with transaction():
        row = await one(
            School.select(School.time_zone, School.settings).where(School.id == school_id)
        )
        stored = row["settings"]
        doc = dict(msgspec.json.decode(stored) if isinstance(stored, str | bytes) else stored or {})
        values: dict[Any, Any] = {}
        if "time_zone" in changes:
            values[School.time_zone] = _check_time_zone(changes.pop("time_zone"))
        if "study_days" in changes:
            changes["study_days"] = sorted(set(changes["study_days"]))
        for key, value in changes.items():
            doc[key] = msgspec.to_builtins(value)
        values[School.settings] = doc
        await School.update(values).where(School.id == school_id)
        await audit_write(
            actor,
            AuditAction.UPDATE,
            "school_settings",
            school_id,
            school_id,
            **{k: msgspec.to_builtins(v) for k, v in _changes(data).items()},
        )
    return await get_settings(actor, school_id)


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
    _check_dates(starts_on, ends_on)
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
            actor, AuditAction.CREATE, "academic_year", row.id, school_id, **_changes(data)
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
            actor, AuditAction.UPDATE, "academic_year", year_id, school_id, **_changes(data)
        )
    return await year_in_school(school_id, year_id)


def _check_inside_year(year: dict[str, Any], starts_on: date, ends_on: date) -> None:
    _check_dates(starts_on, ends_on)
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
        _check_inside_year(year, data.starts_on, data.ends_on)
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
            actor, AuditAction.CREATE, "study_period", row.id, school_id, **_changes(data)
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
        _check_inside_year(year, starts_on, ends_on)
        await _check_period_overlap(year["id"], period["grades"], starts_on, ends_on, period_id)
        values: dict[Any, Any] = {StudyPeriod.starts_on: starts_on, StudyPeriod.ends_on: ends_on}
        if data.name is not msgspec.UNSET:
            values[StudyPeriod.name] = data.name
        await StudyPeriod.update(values).where(StudyPeriod.id == period_id)
        await audit_write(
            actor, AuditAction.UPDATE, "study_period", period_id, school_id, **_changes(data)
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


_HOLIDAY_COLUMNS = (
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
        Holiday.select(*_HOLIDAY_COLUMNS)
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
        _check_inside_year(year, data.starts_on, data.ends_on)
        row = Holiday(
            academic_year=year_id,
            name=data.name,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            grades=sorted(set(data.grades)),
        )
        await row.save()
        await audit_write(actor, AuditAction.CREATE, "holiday", row.id, school_id, **_changes(data))
        created = await one(
            Holiday.select(*_HOLIDAY_COLUMNS).where(Holiday.id == row.id).output(load_json=True)
        )
        from backend.schools import timetable  # timetable builds on this module

        cancelled, kept = await timetable.cancel_for_holiday(actor, school_id, created)
    return {**created, "cancelled_lessons": cancelled, "kept_lessons": kept}


async def delete_holiday(actor: Actor, school_id: int, holiday_id: int) -> None:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await one(
            Holiday.select(*_HOLIDAY_COLUMNS)
            .where((Holiday.id == holiday_id) & (Holiday.academic_year.school == school_id))
            .output(load_json=True)
        )
        await Holiday.delete().where(Holiday.id == holiday_id)
        await audit_write(actor, AuditAction.DELETE, "holiday", holiday_id, school_id, **row)


# ---- staff (read-only here: the people context keeps staff) ----------------------------------


async def staff_in_school(school_id: int, staff_id: int) -> dict[str, Any]:
    row = (
        await Staff.select(
            Staff.id, Staff.last_name, Staff.first_name, Staff.middle_name, Staff.left_on
        )
        .where((Staff.id == staff_id) & (Staff.school == school_id))
        .first()
    )
    if row is None:
        raise ValidationFailed(key="structure.staff_not_in_school")
    if row["left_on"] is not None and row["left_on"] <= today_in():
        raise ValidationFailed(
            key="structure.staff_left",
            name=short_person_name(row["last_name"], row["first_name"], row["middle_name"]),
            date=ru_date(row["left_on"]),
        )
    return row


# ---- classes ---------------------------------------------------------------------------------


_CLASS_COLUMNS = (
    SchoolClass.id,
    SchoolClass.academic_year,
    SchoolClass.grade,
    SchoolClass.letter,
    SchoolClass.shift,
    SchoolClass.class_teacher,
)


def _class_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "name": class_name(row["grade"], row["letter"])}


async def list_classes(
    actor: Actor, school_id: int, year_id: int | None = None
) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    query = (
        SchoolClass.select(*_CLASS_COLUMNS)
        .where(SchoolClass.school == school_id)
        .order_by(SchoolClass.grade)
        .order_by(SchoolClass.letter)
    )
    if year_id is not None:
        query = query.where(SchoolClass.academic_year == year_id)
    return [_class_out(r) for r in await query]


async def class_in_school(school_id: int, class_id: int) -> dict[str, Any]:
    row = await one(
        SchoolClass.select(*_CLASS_COLUMNS).where(
            (SchoolClass.id == class_id) & (SchoolClass.school == school_id)
        )
    )
    return _class_out(row)


def _normal_letter(letter: str) -> str:
    """A class letter: one or two Cyrillic capitals («А», «Б», «АБ»); lower case is raised."""
    letter = letter.strip().upper()
    if not CLASS_LETTER.fullmatch(letter):
        raise ValidationFailed(key="structure.letter_invalid")
    return letter


async def create_class(
    actor: Actor,
    school_id: int,
    data: s.SchoolClassCreate,
    *,
    accounts: AccountsService | None = None,
) -> dict[str, Any]:
    """A new class; its class teacher (if named) gets the class-teacher role at it."""
    await authorize_school(actor, school_id, MANAGE)
    letter = _normal_letter(data.letter)
    async with transaction():
        await year_in_school(school_id, data.academic_year_id)
        if data.class_teacher_id is not None:
            await staff_in_school(school_id, data.class_teacher_id)
        if await SchoolClass.exists().where(
            (SchoolClass.academic_year == data.academic_year_id)
            & (SchoolClass.grade == data.grade)
            & (SchoolClass.letter == letter)
        ):
            raise Conflict(key="structure.class_exists", name=class_name(data.grade, letter))
        row = SchoolClass(
            school=school_id,
            academic_year=data.academic_year_id,
            grade=data.grade,
            letter=letter,
            shift=data.shift,
            class_teacher=data.class_teacher_id,
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "school_class", row.id, school_id, **_changes(data)
        )
        await follow_class_teacher(actor, row.id, None, data.class_teacher_id, accounts=accounts)
    return await class_in_school(school_id, row.id)


async def update_class(
    actor: Actor,
    school_id: int,
    class_id: int,
    data: s.SchoolClassUpdate,
    *,
    accounts: AccountsService | None = None,
) -> dict[str, Any]:
    """Change a class. A new class teacher gets the class-teacher role at the class and the
    previous one loses it (which ends their sessions: `accounts` is needed then)."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        current = await class_in_school(school_id, class_id)
        values: dict[Any, Any] = {}
        if data.letter is not msgspec.UNSET:
            letter = _normal_letter(data.letter)
            if letter != current["letter"] and await SchoolClass.exists().where(
                (SchoolClass.academic_year == current["academic_year"])
                & (SchoolClass.grade == current["grade"])
                & (SchoolClass.letter == letter)
            ):
                raise Conflict(
                    key="structure.class_exists", name=class_name(current["grade"], letter)
                )
            values[SchoolClass.letter] = letter
        if data.shift is not msgspec.UNSET:
            values[SchoolClass.shift] = data.shift
        if data.class_teacher_id is not msgspec.UNSET:
            if data.class_teacher_id is not None:
                await staff_in_school(school_id, data.class_teacher_id)
            values[SchoolClass.class_teacher] = data.class_teacher_id
        if values:
            await SchoolClass.update(values).where(SchoolClass.id == class_id)
        if data.class_teacher_id is not msgspec.UNSET:
            await follow_class_teacher(
                actor,
                class_id,
                current["class_teacher"],
                data.class_teacher_id,
                accounts=accounts,
            )
        await audit_write(
            actor, AuditAction.UPDATE, "school_class", class_id, school_id, **_changes(data)
        )
    return await class_in_school(school_id, class_id)


# ---- study groups ----------------------------------------------------------------------------


_GROUP_COLUMNS = (
    StudyGroup.id,
    StudyGroup.academic_year,
    StudyGroup.name,
    StudyGroup.subject,
    StudyGroup.school_class,
)


async def list_groups(
    actor: Actor, school_id: int, class_id: int | None = None
) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    query = StudyGroup.select(*_GROUP_COLUMNS).where(StudyGroup.school == school_id)
    if class_id is not None:
        query = query.where(StudyGroup.school_class == class_id)
    return await query.order_by(StudyGroup.name)


async def group_in_school(school_id: int, group_id: int) -> dict[str, Any]:
    return await one(
        StudyGroup.select(*_GROUP_COLUMNS).where(
            (StudyGroup.id == group_id) & (StudyGroup.school == school_id)
        )
    )


async def subject_in_school(school_id: int, subject_id: int) -> dict[str, Any]:
    row = (
        await Subject.select(Subject.id, Subject.name, Subject.short_name)
        .where((Subject.id == subject_id) & (Subject.school == school_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def create_group(actor: Actor, school_id: int, data: s.StudyGroupCreate) -> dict[str, Any]:
    data = clean_names(data, "name")
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        await year_in_school(school_id, data.academic_year_id)
        if data.subject_id is not None:
            await subject_in_school(school_id, data.subject_id)
        if data.school_class_id is not None:
            klass = await class_in_school(school_id, data.school_class_id)
            if klass["academic_year"] != data.academic_year_id:
                raise ValidationFailed(key="structure.group_year_mismatch")
        row = StudyGroup(
            school=school_id,
            academic_year=data.academic_year_id,
            name=data.name,
            subject=data.subject_id,
            school_class=data.school_class_id,
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "study_group", row.id, school_id, **_changes(data)
        )
    return await group_in_school(school_id, row.id)


async def group_members(
    actor: Actor, school_id: int, group_id: int, on: date | None = None
) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    await group_in_school(school_id, group_id)
    query = StudyGroupMember.select(
        StudyGroupMember.student,
        StudyGroupMember.student.last_name.as_alias("last_name"),
        StudyGroupMember.student.first_name.as_alias("first_name"),
        StudyGroupMember.valid_from,
        StudyGroupMember.valid_to,
    ).where(StudyGroupMember.group == group_id)
    if on is not None:
        query = query.where(
            (StudyGroupMember.valid_from <= on)
            & (StudyGroupMember.valid_to.is_null() | (StudyGroupMember.valid_to > on))
        )
    return await query.order_by(StudyGroupMember.student.last_name)


async def add_group_members(
    actor: Actor, school_id: int, group_id: int, data: s.GroupMembersChange
) -> list[dict[str, Any]]:
    """Pupils join a group from a date; those already in it then are left as they are."""
    await authorize_school(actor, school_id, MANAGE)
    wanted = sorted(set(data.student_ids))
    async with transaction():
        await group_in_school(school_id, group_id)
        found = {
            r["id"]
            for r in await Student.select(Student.id).where(
                Student.id.is_in(wanted) & (Student.school == school_id)
            )
        }
        for student_id in wanted:
            if student_id not in found:
                raise ValidationFailed(key="structure.student_not_in_school", id=student_id)
        current = {
            r["student"]
            for r in await StudyGroupMember.select(StudyGroupMember.student).where(
                (StudyGroupMember.group == group_id)
                & StudyGroupMember.student.is_in(wanted)
                & (StudyGroupMember.valid_to.is_null() | (StudyGroupMember.valid_to > data.on))
            )
        }
        new = [i for i in wanted if i not in current]
        if new:
            await StudyGroupMember.insert(
                *[StudyGroupMember(group=group_id, student=i, valid_from=data.on) for i in new]
            )
        await audit_write(
            actor, "study_group.join", "study_group", group_id, school_id, students=new, on=data.on
        )
    return await group_members(actor, school_id, group_id)


async def remove_group_members(
    actor: Actor, school_id: int, group_id: int, data: s.GroupMembersChange
) -> list[dict[str, Any]]:
    """Pupils leave a group on a date (their membership history stays)."""
    await authorize_school(actor, school_id, MANAGE)
    wanted = sorted(set(data.student_ids))
    async with transaction():
        await group_in_school(school_id, group_id)
        await StudyGroupMember.update({StudyGroupMember.valid_to: data.on}).where(
            (StudyGroupMember.group == group_id)
            & StudyGroupMember.student.is_in(wanted)
            & (StudyGroupMember.valid_to.is_null() | (StudyGroupMember.valid_to > data.on))
        )
        await audit_write(
            actor,
            "study_group.leave",
            "study_group",
            group_id,
            school_id,
            students=wanted,
            on=data.on,
        )
    return await group_members(actor, school_id, group_id)


# ---- subjects and rooms ----------------------------------------------------------------------


async def list_subjects(actor: Actor, school_id: int) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    return await (
        Subject.select(Subject.id, Subject.name, Subject.short_name)
        .where(Subject.school == school_id)
        .order_by(Subject.name)
    )


async def _check_name_free(
    table: type[Table], school_id: int, name: str, exclude: int, key: str
) -> None:
    rows = await table.select(table._meta.primary_key, table.name).where(table.school == school_id)
    # Compared in Python: SQLite cannot compare Cyrillic case-insensitively.
    folded = name.strip().casefold()
    if any(r["name"].strip().casefold() == folded and r["id"] != exclude for r in rows):
        raise Conflict(key=key, name=name)


async def create_subject(actor: Actor, school_id: int, data: s.SubjectCreate) -> dict[str, Any]:
    data = clean_names(data, "name", optional=("short_name",))
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        await _check_name_free(Subject, school_id, data.name, 0, "structure.subject_exists")
        row = Subject(school=school_id, name=data.name.strip(), short_name=data.short_name)
        await row.save()
        await audit_write(actor, AuditAction.CREATE, "subject", row.id, school_id, **_changes(data))
    return await subject_in_school(school_id, row.id)


async def update_subject(
    actor: Actor, school_id: int, subject_id: int, data: s.SubjectUpdate
) -> dict[str, Any]:
    data = clean_names(data, "name", optional=("short_name",))
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        await subject_in_school(school_id, subject_id)
        values: dict[Any, Any] = {}
        if data.name is not msgspec.UNSET:
            await _check_name_free(
                Subject, school_id, data.name, subject_id, "structure.subject_exists"
            )
            values[Subject.name] = data.name.strip()
        if data.short_name is not msgspec.UNSET:
            values[Subject.short_name] = data.short_name
        if values:
            await Subject.update(values).where(Subject.id == subject_id)
        await audit_write(
            actor, AuditAction.UPDATE, "subject", subject_id, school_id, **_changes(data)
        )
    return await subject_in_school(school_id, subject_id)


async def list_rooms(actor: Actor, school_id: int) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    return await (
        Room.select(Room.id, Room.name, Room.capacity)
        .where(Room.school == school_id)
        .order_by(Room.name)
    )


async def room_in_school(school_id: int, room_id: int) -> dict[str, Any]:
    row = (
        await Room.select(Room.id, Room.name, Room.capacity)
        .where((Room.id == room_id) & (Room.school == school_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def create_room(actor: Actor, school_id: int, data: s.RoomCreate) -> dict[str, Any]:
    data = clean_names(data, "name")
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        await _check_name_free(Room, school_id, data.name, 0, "structure.room_exists")
        row = Room(school=school_id, name=data.name.strip(), capacity=data.capacity)
        await row.save()
        await audit_write(actor, AuditAction.CREATE, "room", row.id, school_id, **_changes(data))
    return await room_in_school(school_id, row.id)


async def update_room(
    actor: Actor, school_id: int, room_id: int, data: s.RoomUpdate
) -> dict[str, Any]:
    data = clean_names(data, "name")
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        await room_in_school(school_id, room_id)
        values: dict[Any, Any] = {}
        if data.name is not msgspec.UNSET:
            await _check_name_free(Room, school_id, data.name, room_id, "structure.room_exists")
            values[Room.name] = data.name.strip()
        if data.capacity is not msgspec.UNSET:
            values[Room.capacity] = data.capacity
        if values:
            await Room.update(values).where(Room.id == room_id)
        await audit_write(actor, AuditAction.UPDATE, "room", room_id, school_id, **_changes(data))
    return await room_in_school(school_id, room_id)


# ---- curriculum and teaching assignments -----------------------------------------------------


_CURRICULUM_COLUMNS = (
    CurriculumItem.id,
    CurriculumItem.academic_year,
    CurriculumItem.subject,
    CurriculumItem.hours_per_week,
    CurriculumItem.school_class,
    CurriculumItem.grade,
)


def _curriculum_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "hours_per_week": float(row["hours_per_week"])}


async def list_curriculum(actor: Actor, school_id: int, year_id: int) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    await year_in_school(school_id, year_id)
    rows = (
        await CurriculumItem.select(*_CURRICULUM_COLUMNS)
        .where(CurriculumItem.academic_year == year_id)
        .order_by(CurriculumItem.grade)
        .order_by(CurriculumItem.id)
    )
    return [_curriculum_out(r) for r in rows]


async def create_curriculum_item(
    actor: Actor, school_id: int, data: s.CurriculumItemCreate
) -> dict[str, Any]:
    await authorize_school(actor, school_id, MANAGE)
    if (data.school_class_id is None) == (data.grade is None):
        raise ValidationFailed(key="structure.class_or_grade")
    async with transaction():
        await year_in_school(school_id, data.academic_year_id)
        subject = await subject_in_school(school_id, data.subject_id)
        where = (CurriculumItem.academic_year == data.academic_year_id) & (
            CurriculumItem.subject == data.subject_id
        )
        if data.school_class_id is not None:
            klass = await class_in_school(school_id, data.school_class_id)
            if klass["academic_year"] != data.academic_year_id:
                raise ValidationFailed(
                    key="structure.wrong_year", what=t("structure.what.class").capitalize()
                )
            where &= CurriculumItem.school_class == data.school_class_id
            target = klass["name"]
        else:
            where &= CurriculumItem.grade == data.grade
            target = f"{data.grade} параллели"
        if await CurriculumItem.exists().where(where):
            raise Conflict(key="structure.curriculum_exists", target=target)
        row = CurriculumItem(
            academic_year=data.academic_year_id,
            subject=data.subject_id,
            hours_per_week=Decimal(str(round(data.hours_per_week, 1))),
            school_class=data.school_class_id,
            grade=data.grade,
        )
        await row.save()
        await audit_write(
            actor,
            AuditAction.CREATE,
            "curriculum_item",
            row.id,
            school_id,
            subject=subject["name"],
            **_changes(data),
        )
    return _curriculum_out(
        await one(CurriculumItem.select(*_CURRICULUM_COLUMNS).where(CurriculumItem.id == row.id))
    )


async def delete_curriculum_item(actor: Actor, school_id: int, item_id: int) -> None:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await one(
            CurriculumItem.select(*_CURRICULUM_COLUMNS).where(
                (CurriculumItem.id == item_id) & (CurriculumItem.academic_year.school == school_id)
            )
        )
        await CurriculumItem.delete().where(CurriculumItem.id == item_id)
        await audit_write(
            actor, AuditAction.DELETE, "curriculum_item", item_id, school_id, **_curriculum_out(row)
        )


_ASSIGNMENT_COLUMNS = (
    TeachingAssignment.id,
    TeachingAssignment.academic_year,
    TeachingAssignment.teacher,
    TeachingAssignment.subject,
    TeachingAssignment.school_class,
    TeachingAssignment.study_group,
    TeachingAssignment.valid_from,
    TeachingAssignment.valid_to,
)


async def list_assignments(
    actor: Actor, school_id: int, year_id: int, teacher_id: int | None = None
) -> list[dict[str, Any]]:
    await authorize_school(actor, school_id, READ)
    await year_in_school(school_id, year_id)
    query = TeachingAssignment.select(*_ASSIGNMENT_COLUMNS).where(
        TeachingAssignment.academic_year == year_id
    )
    if teacher_id is not None:
        query = query.where(TeachingAssignment.teacher == teacher_id)
    return await query.order_by(TeachingAssignment.id)


async def create_assignment(
    actor: Actor, school_id: int, data: s.TeachingAssignmentCreate
) -> dict[str, Any]:
    await authorize_school(actor, school_id, MANAGE)
    if (data.school_class_id is None) == (data.study_group_id is None):
        raise ValidationFailed(key="structure.class_or_group")
    if data.valid_from and data.valid_to:
        _check_dates(data.valid_from, data.valid_to)
    async with transaction():
        await year_in_school(school_id, data.academic_year_id)
        await staff_in_school(school_id, data.teacher_id)
        await subject_in_school(school_id, data.subject_id)
        where = (
            (TeachingAssignment.academic_year == data.academic_year_id)
            & (TeachingAssignment.teacher == data.teacher_id)
            & (TeachingAssignment.subject == data.subject_id)
        )
        if data.school_class_id is not None:
            klass = await class_in_school(school_id, data.school_class_id)
            if klass["academic_year"] != data.academic_year_id:
                raise ValidationFailed(
                    key="structure.wrong_year", what=t("structure.what.class").capitalize()
                )
            where &= TeachingAssignment.school_class == data.school_class_id
        else:
            assert data.study_group_id is not None
            await group_in_school(school_id, data.study_group_id)
            where &= TeachingAssignment.study_group == data.study_group_id
        if await TeachingAssignment.exists().where(where):
            raise Conflict(key="structure.assignment_exists")
        row = TeachingAssignment(
            academic_year=data.academic_year_id,
            teacher=data.teacher_id,
            subject=data.subject_id,
            school_class=data.school_class_id,
            study_group=data.study_group_id,
            valid_from=data.valid_from,
            valid_to=data.valid_to,
        )
        await row.save()
        await audit_write(
            actor, AuditAction.CREATE, "teaching_assignment", row.id, school_id, **_changes(data)
        )
    return await one(
        TeachingAssignment.select(*_ASSIGNMENT_COLUMNS).where(TeachingAssignment.id == row.id)
    )


async def delete_assignment(actor: Actor, school_id: int, assignment_id: int) -> None:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await one(
            TeachingAssignment.select(*_ASSIGNMENT_COLUMNS).where(
                (TeachingAssignment.id == assignment_id)
                & (TeachingAssignment.academic_year.school == school_id)
            )
        )
        await TeachingAssignment.delete().where(TeachingAssignment.id == assignment_id)
        await audit_write(
            actor, AuditAction.DELETE, "teaching_assignment", assignment_id, school_id, **row
        )


async def teaches(
    teacher_id: int,
    subject_id: int,
    *,
    school_class_id: int | None,
    study_group_id: int | None,
    on: date,
) -> bool:
    """Whether a teaching assignment covers this teacher, subject and class or group on a date
    (for the journal: a teacher writes marks in their own lessons)."""
    query = TeachingAssignment.select(TeachingAssignment.id).where(
        (TeachingAssignment.teacher == teacher_id)
        & (TeachingAssignment.subject == subject_id)
        & (TeachingAssignment.valid_from.is_null() | (TeachingAssignment.valid_from <= on))
        & (TeachingAssignment.valid_to.is_null() | (TeachingAssignment.valid_to >= on))
    )
    if school_class_id is not None:
        query = query.where(TeachingAssignment.school_class == school_class_id)
    else:
        query = query.where(TeachingAssignment.study_group == study_group_id)
    return await query.first() is not None


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
