"""School structure: classes, study groups, subjects and rooms (and staff as read here)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.table import Table

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.forms import class_name, ru_date, short_person_name
from backend.schools.people.class_teachers import follow_class_teacher
from backend.schools.structure import schemas as s
from backend.schools.structure.common import (
    MANAGE,
    READ,
    audit_write,
    authorize_school,
    changed_fields,
    one,
)
from backend.schools.structure.year import year_in_school
from backend.schools.tables import (
    Room,
    SchoolClass,
    Staff,
    Student,
    StudyGroup,
    StudyGroupMember,
    Subject,
)
from backend.schools.validators import CLASS_LETTER, clean_names

if TYPE_CHECKING:
    from backend.accounts.services import AccountsService


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
            actor, AuditAction.CREATE, "school_class", row.id, school_id, **changed_fields(data)
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
            actor, AuditAction.UPDATE, "school_class", class_id, school_id, **changed_fields(data)
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
            actor, AuditAction.CREATE, "study_group", row.id, school_id, **changed_fields(data)
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
        await audit_write(
            actor, AuditAction.CREATE, "subject", row.id, school_id, **changed_fields(data)
        )
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
            actor, AuditAction.UPDATE, "subject", subject_id, school_id, **changed_fields(data)
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
        await audit_write(
            actor, AuditAction.CREATE, "room", row.id, school_id, **changed_fields(data)
        )
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
        await audit_write(
            actor, AuditAction.UPDATE, "room", room_id, school_id, **changed_fields(data)
        )
    return await room_in_school(school_id, room_id)
