"""School structure: the curriculum and teaching assignments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, ValidationFailed
from backend.i18n import t
from backend.schools.structure import schemas as s
from backend.schools.structure.classes import (
    class_in_school,
    group_in_school,
    staff_in_school,
    subject_in_school,
)
from backend.schools.structure.common import (
    MANAGE,
    READ,
    audit_write,
    authorize_school,
    changed_fields,
    check_dates,
    one,
)
from backend.schools.structure.year import year_in_school
from backend.schools.tables import (
    CurriculumItem,
    TeachingAssignment,
)

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
            **changed_fields(data),
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
        check_dates(data.valid_from, data.valid_to)
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
            actor,
            AuditAction.CREATE,
            "teaching_assignment",
            row.id,
            school_id,
            **changed_fields(data),
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
