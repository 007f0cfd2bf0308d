"""School structure: regions, municipalities, schools and a school's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound
from backend.core.rights import ScopeKind, ScopeTarget
from backend.schools.people import movement
from backend.schools.services import scope_target
from backend.schools.structure import schemas as s
from backend.schools.structure.common import (
    MANAGE,
    READ,
    audit_write,
    authorize_school,
    changed_fields,
    check,
    check_time_zone,
    one,
)
from backend.schools.tables import (
    Municipality,
    Region,
    School,
    Student,
)
from backend.schools.validators import clean_names

# ---- tenancy ---------------------------------------------------------------------------------


async def create_region(actor: Actor, data: s.RegionCreate) -> dict[str, Any]:
    data = clean_names(data, "name")
    check(actor, MANAGE, ScopeTarget())
    check_time_zone(data.time_zone)
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
    time_zone = check_time_zone(data.time_zone or region["time_zone"])
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


async def school_clock(school_id: int) -> s.SchoolSettingsOut:
    """The school's settings and time zone for other contexts, in one query and without a
    rights check (meals: the cut-off on the school's clock, asked on every order)."""
    row = await one(School.select(School.time_zone, School.settings).where(School.id == school_id))
    return s.SchoolSettingsOut(school_id, row["time_zone"], _settings_of(row["settings"]))


@dataclass(frozen=True, slots=True)
class PupilDay:
    """What an order of a pupil's meal needs of schools, from one query: where the pupil sits
    for rights (as `scope_target(STUDENT)` answers it), the class and grade on `day`, the
    school's clock (as `school_clock` answers it) and its holidays over a span (the rows
    `timetable.load_holidays` reads)."""

    target: ScopeTarget
    class_id: int | None
    grade: int | None
    clock: s.SchoolSettingsOut | None  # None: the pupil has no school
    holidays: list[dict[str, Any]]


def _day_of(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite: text


def _json_of(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


async def pupil_day(student_id: int, day: date, holidays_since: date | None = None) -> PupilDay:
    """One query for `scope_target(STUDENT)` + `movement.class_on` + `class_info` +
    `school_clock` + `load_holidays(school, holidays_since, day)` (decision 0810): the pupil,
    every entry of the book of movement with its class's grade, the school's place in the
    tenancy tree, its time zone and settings, and (a second part of the same statement) the
    school's holidays meeting the span. The rights rule reads the same target (classes today
    and ahead, as `student_target` reads them)."""
    since = holidays_since or day
    rows = await Student.raw(
        "SELECT 0 AS part, st.school, sc.municipality, m.region, sc.time_zone, sc.settings, "
        "e.id AS entry_id, e.school_class, e.kind, e.date, c.grade, "
        "NULL AS h_name, NULL AS h_starts, NULL AS h_ends, NULL AS h_grades "
        "FROM student st LEFT JOIN school sc ON sc.id = st.school "
        "LEFT JOIN municipality m ON m.id = sc.municipality "
        "LEFT JOIN enrollment e ON e.student = st.id "
        "LEFT JOIN school_class c ON c.id = e.school_class "
        "WHERE st.id = {} "
        "UNION ALL "
        "SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "h.name, h.starts_on, h.ends_on, h.grades "
        "FROM holiday h JOIN academic_year y ON y.id = h.academic_year "
        "JOIN student st ON st.school = y.school "
        "WHERE st.id = {} AND h.starts_on <= {} AND h.ends_on >= {}",
        student_id,
        student_id,
        day,
        since,
    )
    pupil = [r for r in rows if r["part"] == 0]
    if not pupil:
        raise NotFound()
    first = pupil[0]
    entries = sorted(
        (
            {
                "id": r["entry_id"],
                "school_class": r["school_class"],
                "kind": r["kind"],
                "date": _day_of(r["date"]),
            }
            for r in pupil
            if r["entry_id"] is not None
        ),
        key=lambda e: (e["date"], e["id"]),
    )
    grades = {r["school_class"]: r["grade"] for r in pupil if r["school_class"] is not None}
    target = ScopeTarget(
        region_id=first["region"],
        municipality_id=first["municipality"],
        school_id=first["school"],
        student_id=student_id,
        class_ids=frozenset(movement.classes_in(entries, movement.today())),
    )
    class_id = movement.class_at(entries, day)
    clock = None
    if first["school"] is not None:
        clock = s.SchoolSettingsOut(
            first["school"], first["time_zone"], _settings_of(first["settings"])
        )
    holidays = [
        {
            "name": r["h_name"],
            "starts_on": _day_of(r["h_starts"]),
            "ends_on": _day_of(r["h_ends"]),
            "grades": _json_of(r["h_grades"]),
        }
        for r in rows
        if r["part"] == 1
    ]
    return PupilDay(target, class_id, grades.get(class_id) if class_id else None, clock, holidays)


async def school_settings(school_id: int) -> s.SchoolSettings:
    """The school's settings for other contexts (journal: marking window; meals: cut-off)."""
    row = await one(School.select(School.settings).where(School.id == school_id))
    return _settings_of(row["settings"])


async def update_settings(
    actor: Actor, school_id: int, data: s.SchoolSettingsUpdate
) -> s.SchoolSettingsOut:
    await authorize_school(actor, school_id, MANAGE)
    changes = changed_fields(data)
    async with transaction():
        row = await one(
            School.select(School.time_zone, School.settings).where(School.id == school_id)
        )
        stored = row["settings"]
        doc = dict(msgspec.json.decode(stored) if isinstance(stored, str | bytes) else stored or {})
        values: dict[Any, Any] = {}
        if "time_zone" in changes:
            values[School.time_zone] = check_time_zone(changes.pop("time_zone"))
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
            **{k: msgspec.to_builtins(v) for k, v in changed_fields(data).items()},
        )
    return await get_settings(actor, school_id)
