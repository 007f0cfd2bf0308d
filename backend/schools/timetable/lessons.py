"""Lessons: reading them and changing one (replacement, room, cancellation, moving)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.forms import ru_date
from backend.core.rights import Permission, ScopeTarget
from backend.events.services import emit
from backend.i18n import t
from backend.schools.places import school_target
from backend.schools.structure import schemas as s
from backend.schools.structure import services as structure
from backend.schools.structure.common import MANAGE, READ, audit_write, authorize_school, check
from backend.schools.tables import (
    Lesson,
    SchoolClass,
    Staff,
)
from backend.schools.timetable import changes as lesson_changes
from backend.schools.timetable.conflicts import (
    MAX_LIST_DAYS,
    Bells,
    ConflictIndex,
    Occupant,
    attach_group_reach,
    check_study_day,
    load_bells,
    names_for_messages,
    who_of,
)
from backend.schools.timetable.generation import chunks, lessons_with_content, load_holidays

# ---- lessons ---------------------------------------------------------------------------------


_LESSON_COLUMNS = (
    Lesson.id,
    Lesson.date,
    Lesson.lesson_number,
    Lesson.school_class,
    Lesson.study_group,
    Lesson.subject,
    Lesson.subject.name.as_alias("subject_name"),
    Lesson.teacher,
    Lesson.replacement_teacher,
    Lesson.room,
    Lesson.timetable_entry,
    Lesson.status,
    Lesson.moved_to,
    Lesson.topic,
    Lesson.version,
)
_LESSON_CONTEXT = (
    Lesson.school_class.grade.as_alias("class_grade"),
    Lesson.school_class.letter.as_alias("class_letter"),
    Lesson.school_class.shift.as_alias("class_shift"),
    Lesson.school_class.academic_year.as_alias("class_year"),
    Lesson.study_group.name.as_alias("group_name"),
    Lesson.study_group.academic_year.as_alias("group_year"),
    Lesson.study_group.school_class.as_alias("group_class"),
    Lesson.study_group.school_class.grade.as_alias("group_grade"),  # type: ignore[union-attr]
    Lesson.study_group.school_class.letter.as_alias("group_letter"),  # type: ignore[union-attr]
    Lesson.study_group.school_class.shift.as_alias("group_shift"),  # type: ignore[union-attr]
)


def _lesson_occupant(row: dict[str, Any]) -> Occupant:
    return Occupant(
        id=row["id"],
        day=row["date"],
        lesson_number=row["lesson_number"],
        shift=row["class_shift"] or row["group_shift"] or 1,
        class_id=row["school_class"] or row["group_class"],
        group_id=row["study_group"],
        teacher_id=row["replacement_teacher"] or row["teacher"],
        room_id=row["room"],
        subject_id=row["subject"],
        valid_from=row["date"],
        valid_to=row["date"],
        who=who_of(row),
        subject=row["subject_name"],
        kind="lesson",
        group_name=row["group_name"] or "",
    )


def lesson_out(row: dict[str, Any], bells: Bells | None = None) -> s.Lesson:
    starts_at = ends_at = None
    if bells is not None:
        starts_at, ends_at = bells.clock(
            row.get("class_shift") or row.get("group_shift") or 1, row["lesson_number"]
        )
    fields = {k: row[k] for k in s.Lesson.__struct_fields__ if k in row}
    return s.Lesson(**fields, starts_at=starts_at, ends_at=ends_at)


async def list_lessons(
    actor: Actor,
    school_id: int,
    date_from: date,
    date_to: date,
    *,
    class_id: int | None = None,
    group_id: int | None = None,
    teacher_id: int | None = None,
    room_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.Lesson], int]:
    """A page of the lessons of a school in a date range (at most `MAX_LIST_DAYS`), and how
    many there are in all. With `class_id` a class teacher of that class may read them too
    (the class's own lessons and its groups')."""
    target = await school_target(school_id)
    if class_id is not None:
        target = ScopeTarget(
            region_id=target.region_id,
            municipality_id=target.municipality_id,
            school_id=school_id,
            class_id=class_id,
            class_ids=frozenset({class_id}),
        )
    check(actor, READ, target)
    if date_from > date_to:
        raise ValidationFailed(
            key="structure.dates_order",
            starts_on=ru_date(date_from),
            ends_on=ru_date(date_to),
        )
    if (date_to - date_from).days >= MAX_LIST_DAYS:
        raise ValidationFailed(key="timetable.range_too_long", days=MAX_LIST_DAYS)
    where = (Lesson.school == school_id) & (Lesson.date >= date_from) & (Lesson.date <= date_to)
    if class_id is not None:
        if not await SchoolClass.exists().where(
            (SchoolClass.id == class_id) & (SchoolClass.school == school_id)
        ):
            raise NotFound()
        where &= (Lesson.school_class == class_id) | (Lesson.study_group.school_class == class_id)
    if group_id is not None:
        where &= Lesson.study_group == group_id
    if teacher_id is not None:
        where &= (Lesson.teacher == teacher_id) | (Lesson.replacement_teacher == teacher_id)
    if room_id is not None:
        where &= Lesson.room == room_id
    total = await Lesson.count().where(where)
    rows = (
        await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT)
        .where(where)
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
        .order_by(Lesson.id)
        .limit(limit)
        .offset(offset)
    )
    bells = await load_bells(school_id)
    return [lesson_out(r, bells) for r in rows], total


async def my_staff(actor: Actor) -> list[dict[str, Any]]:
    """The signed-in person's own staff records (one per school they work at)."""
    if actor.principal is None:
        raise NotFound()
    return list(
        await Staff.select(
            Staff.id,
            Staff.school,
            Staff.school.short_name.as_alias("school_name"),
            Staff.last_name,
            Staff.first_name,
            Staff.middle_name,
            Staff.positions,
            Staff.left_on,
        )
        .where(Staff.user_id == actor.principal.user_id)
        .order_by(Staff.id)
        .output(load_json=True)
    )


async def my_lessons(
    actor: Actor, date_from: date, date_to: date, limit: int, offset: int
) -> tuple[list[s.Lesson], int]:
    """Lessons the signed-in staff member teaches or replaces in, in a date range (at most
    `MAX_LIST_DAYS`), a page at a time. Someone with no staff record has none."""
    if date_from > date_to:
        raise ValidationFailed(
            key="structure.dates_order", starts_on=ru_date(date_from), ends_on=ru_date(date_to)
        )
    if (date_to - date_from).days >= MAX_LIST_DAYS:
        raise ValidationFailed(key="timetable.range_too_long", days=MAX_LIST_DAYS)
    staff_ids = [r["id"] for r in await my_staff(actor)]
    if not staff_ids:
        return [], 0
    where = (
        (Lesson.teacher.is_in(staff_ids) | Lesson.replacement_teacher.is_in(staff_ids))
        & (Lesson.date >= date_from)
        & (Lesson.date <= date_to)
    )
    total = await Lesson.count().where(where)
    rows = (
        await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT, Lesson.school)
        .where(where)
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
        .order_by(Lesson.id)
        .limit(limit)
        .offset(offset)
    )
    bells: dict[int, Bells] = {}
    out: list[s.Lesson] = []
    for r in rows:
        if r["school"] not in bells:
            bells[r["school"]] = await load_bells(r["school"])
        out.append(lesson_out(r, bells[r["school"]]))
    return out, total


async def _lesson_in_school(school_id: int, lesson_id: int) -> dict[str, Any]:
    row = (
        await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT)
        .where((Lesson.id == lesson_id) & (Lesson.school == school_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def get_lesson(actor: Actor, school_id: int, lesson_id: int) -> s.Lesson:
    await authorize_school(actor, school_id, READ)
    return lesson_out(await _lesson_in_school(school_id, lesson_id), await load_bells(school_id))


def _check_changeable(row: dict[str, Any], version: int | None) -> None:
    if version is not None and version != row["version"]:
        raise Conflict(key="timetable.version_mismatch", current=row["version"], given=version)
    if row["status"] != "scheduled":
        raise Conflict(
            key="timetable.lesson_not_scheduled", state=t(f"timetable.state.{row['status']}")
        )


async def _lessons_on(school_id: int, day: date) -> list[Occupant]:
    rows = await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT).where(
        (Lesson.school == school_id) & (Lesson.date == day) & (Lesson.status == "scheduled")
    )
    return [_lesson_occupant(r) for r in rows]


async def _check_lesson_slot(school_id: int, occupant: Occupant, ignore: set[int]) -> None:
    others = await _lessons_on(school_id, occupant.day)  # type: ignore[arg-type]
    await attach_group_reach([*others, occupant])
    index = ConflictIndex(await load_bells(school_id), others)
    index.check(occupant, await names_for_messages(school_id), ignore=ignore)


async def _bump(lesson_id: int, version: int, values: dict[Any, Any]) -> None:
    """Write a change only over the version it was checked against."""
    rows = (
        await Lesson.update(
            {**values, Lesson.version: version + 1, Lesson.updated_at: datetime.now(UTC)}
        )
        .where((Lesson.id == lesson_id) & (Lesson.version == version))
        .returning(Lesson.id)
    )
    if not rows:
        current = await Lesson.select(Lesson.version).where(Lesson.id == lesson_id).first()
        raise Conflict(
            key="timetable.version_mismatch",
            current=current["version"] if current else "?",
            given=version,
        )
    await lesson_changes.notify([lesson_id])


def _event_payload(row: dict[str, Any], names: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "lesson_id": row["id"],
        "date": row["date"].isoformat(),
        "lesson_number": row["lesson_number"],
        "school_class_id": row["school_class"] or row["group_class"],
        "study_group_id": row["study_group"],
        "who": who_of(row),
        "subject": row["subject_name"],
        "teacher": names.get(f"teacher:{row['teacher']}", ""),
        **extra,
    }


async def set_replacement(
    actor: Actor, school_id: int, lesson_id: int, data: s.ReplacementSet
) -> s.Lesson:
    """Замена: another teacher takes this one lesson (None gives it back)."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        names = await names_for_messages(school_id)
        if data.teacher_id is not None:
            if data.teacher_id == row["teacher"]:
                raise ValidationFailed(key="timetable.replacement_same")
            await structure.staff_in_school(school_id, data.teacher_id)
            occupant = _lesson_occupant(row)
            occupant.teacher_id = data.teacher_id
            occupant.room_id = None  # the room is not what changes here
            occupant.class_id = occupant.group_id = None
            await _check_lesson_slot(school_id, occupant, {lesson_id})
        await _bump(lesson_id, row["version"], {Lesson.replacement_teacher: data.teacher_id})
        await audit_write(
            actor,
            "lesson.replace",
            "lesson",
            lesson_id,
            school_id,
            before=row["replacement_teacher"],
            after=data.teacher_id,
        )
        await emit(
            "lesson.replaced",
            _event_payload(
                row,
                names,
                replacement_teacher=names.get(f"teacher:{data.teacher_id}", "")
                if data.teacher_id
                else None,
            ),
            school_id=school_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def change_room(actor: Actor, school_id: int, lesson_id: int, data: s.RoomChange) -> s.Lesson:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        if data.room_id is not None:
            await structure.room_in_school(school_id, data.room_id)
            occupant = _lesson_occupant(row)
            occupant.room_id = data.room_id
            occupant.teacher_id = 0  # only the room is checked here
            occupant.class_id = occupant.group_id = None
            await _check_lesson_slot(school_id, occupant, {lesson_id})
        await _bump(lesson_id, row["version"], {Lesson.room: data.room_id})
        await audit_write(
            actor,
            "lesson.room",
            "lesson",
            lesson_id,
            school_id,
            before=row["room"],
            after=data.room_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def cancel_lesson(
    actor: Actor, school_id: int, lesson_id: int, data: s.Cancellation
) -> s.Lesson:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        await _bump(lesson_id, row["version"], {Lesson.status: "cancelled"})
        await audit_write(
            actor, "lesson.cancel", "lesson", lesson_id, school_id, reason=data.reason
        )
        await emit(
            "lesson.cancelled",
            _event_payload(row, await names_for_messages(school_id), reason=data.reason),
            school_id=school_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def cancel_for_holiday(
    actor: Actor, school_id: int, holiday: dict[str, Any]
) -> tuple[list[int], list[s.Lesson]]:
    """A holiday was added (in the caller's transaction): its days' scheduled lessons without
    journal content are cancelled (kept, marked `cancelled`, so the diary shows why); those
    with content (a topic, or rows of other tables such as marks) are left as they are and
    returned, for the coordinator to move or cancel by hand."""
    rows = await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT).where(
        (Lesson.school == school_id)
        & (Lesson.date >= holiday["starts_on"])
        & (Lesson.date <= holiday["ends_on"])
        & (Lesson.status == "scheduled")
    )
    grades = set(holiday["grades"] or [])
    hit = [r for r in rows if not grades or (r["class_grade"] or r["group_grade"]) in grades]
    with_content = await lessons_with_content([r["id"] for r in hit])
    with_content |= {r["id"] for r in hit if r["topic"]}
    cancelled = sorted(r["id"] for r in hit if r["id"] not in with_content)
    now = datetime.now(UTC)
    for chunk in chunks(cancelled):
        await Lesson.update(
            {Lesson.status: "cancelled", Lesson.version: Lesson.version + 1, Lesson.updated_at: now}
        ).where(Lesson.id.is_in(list(chunk)) & (Lesson.status == "scheduled"))
    if cancelled:
        # The diary hears of these as of any other cancellation (decision 0354).
        await lesson_changes.notify(cancelled)
    kept = [r for r in hit if r["id"] in with_content]
    if hit:
        await audit_write(
            actor,
            "lesson.cancel",
            "holiday",
            holiday["id"],
            school_id,
            reason=holiday["name"],
            cancelled=cancelled[:500],
            kept_with_content=[r["id"] for r in kept][:500],
        )
    if cancelled:
        await emit(
            "lessons.cancelled_for_holiday",
            {
                "holiday_id": holiday["id"],
                "name": holiday["name"],
                "starts_on": holiday["starts_on"].isoformat(),
                "ends_on": holiday["ends_on"].isoformat(),
                "grades": sorted(grades),
                "lesson_ids": cancelled[:2000],
                "count": len(cancelled),
            },
            school_id=school_id,
        )
    bells = await load_bells(school_id)
    kept.sort(key=lambda r: (r["date"], r["lesson_number"], r["id"]))
    return cancelled, [lesson_out(r, bells) for r in kept]


async def restore_lesson(
    actor: Actor, school_id: int, lesson_id: int, data: s.Restoration
) -> s.Lesson:
    """Un-cancel a cancelled lesson (by a holiday or by hand), if its day is a study day, not
    a holiday, and its slot is still free."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        if data.version is not None and data.version != row["version"]:
            raise Conflict(
                key="timetable.version_mismatch", current=row["version"], given=data.version
            )
        if row["status"] != "cancelled":
            raise Conflict(key="slot.restore.not_cancelled")
        day = row["date"]
        holidays = await load_holidays(school_id, day, day)
        if holidays.is_off(day, row["class_grade"] or row["group_grade"]):
            raise ValidationFailed(
                key="slot.restore.holiday", date=ru_date(day), name=holidays.names.get(day, "")
            )
        await check_study_day(school_id, day.isoweekday(), day)
        await _check_lesson_slot(school_id, _lesson_occupant(row), {lesson_id})
        await _bump(lesson_id, row["version"], {Lesson.status: "scheduled"})
        await audit_write(actor, "lesson.restore", "lesson", lesson_id, school_id)
        await emit(
            "lesson.restored",
            _event_payload(row, await names_for_messages(school_id)),
            school_id=school_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def move_lesson(
    actor: Actor, school_id: int, lesson_id: int, data: s.LessonMove
) -> s.MoveResult:
    """Move one lesson to another date and lesson number (and maybe room). The original stays,
    marked `moved` and pointing at the new lesson, so the diary can show where it went."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        if row["date"] == data.date and row["lesson_number"] == data.lesson_number:
            raise ValidationFailed(key="timetable.lesson_same_slot")
        if await lessons_with_content([lesson_id]):
            raise Conflict(key="timetable.lesson_has_content")
        room_id = row["room"] if data.room_id is msgspec.UNSET else data.room_id
        if room_id is not None:
            await structure.room_in_school(school_id, room_id)
        year_id = row["class_year"] or row["group_year"]
        year = await structure.year_in_school(school_id, year_id)
        if not (year["starts_on"] <= data.date <= year["ends_on"]):
            raise ValidationFailed(
                key="structure.outside_year",
                starts_on=ru_date(data.date),
                ends_on=ru_date(data.date),
                year=year["name"],
                year_starts=ru_date(year["starts_on"]),
                year_ends=ru_date(year["ends_on"]),
            )
        holidays = await load_holidays(school_id, data.date, data.date)
        if holidays.is_off(data.date, row["class_grade"] or row["group_grade"]):
            raise ValidationFailed(
                key="timetable.move_holiday",
                date=data.date.strftime("%d.%m.%Y"),
                name=holidays.names.get(data.date, ""),
            )
        await check_study_day(school_id, data.date.isoweekday(), data.date)
        occupant = _lesson_occupant(row)
        (await load_bells(school_id)).check_number(occupant.shift, data.lesson_number)
        occupant.day, occupant.valid_from, occupant.valid_to = data.date, data.date, data.date
        occupant.lesson_number = data.lesson_number
        occupant.room_id = room_id
        await _check_lesson_slot(school_id, occupant, {lesson_id})
        new_rows = await Lesson.insert(
            Lesson(
                school=school_id,
                date=data.date,
                lesson_number=data.lesson_number,
                school_class=row["school_class"],
                study_group=row["study_group"],
                subject=row["subject"],
                teacher=row["teacher"],
                replacement_teacher=row["replacement_teacher"],
                room=room_id,
                topic=row["topic"],
                updated_at=datetime.now(UTC),
            )
        ).returning(Lesson.id)
        new_id = new_rows[0]["id"]
        await _bump(lesson_id, row["version"], {Lesson.status: "moved", Lesson.moved_to: new_id})
        await lesson_changes.notify([new_id])
        await audit_write(
            actor,
            "lesson.move",
            "lesson",
            lesson_id,
            school_id,
            moved_to=new_id,
            date=data.date,
            lesson_number=data.lesson_number,
            room=room_id,
        )
        await emit(
            "lesson.moved",
            _event_payload(
                row,
                await names_for_messages(school_id),
                moved_to_lesson_id=new_id,
                new_date=data.date.isoformat(),
                new_lesson_number=data.lesson_number,
            ),
            school_id=school_id,
        )
    return s.MoveResult(
        original=await get_lesson(actor, school_id, lesson_id),
        moved_to=await get_lesson(actor, school_id, new_id),
    )


READ_PERMISSION = Permission.STRUCTURE_READ


async def journal_wrote(
    lesson_id: int, version: int, at: datetime, topic: str | None = None
) -> None:
    """The journal saved something of a lesson, inside its transaction: the lesson's new version
    (what the teacher's page checks before writing) and, when `topic` is given, its topic."""
    values: dict[Any, Any] = {Lesson.version: version, Lesson.updated_at: at}
    if topic is not None:
        values[Lesson.topic] = topic
    await Lesson.update(values).where(Lesson.id == lesson_id)


async def set_topics(topics: Iterable[tuple[int, str]]) -> None:
    """Lessons' topics as the demo's journal fills them, (lesson id, topic) pairs: one update per
    distinct topic."""
    by_topic: dict[str, list[int]] = {}
    for lesson_id, topic in topics:
        by_topic.setdefault(topic, []).append(lesson_id)
    for topic, ids in by_topic.items():
        await Lesson.update({Lesson.topic: topic}).where(Lesson.id.is_in(ids))
