"""Personal files (личное дело) of pupils, guardians and staff: create, change, read."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from backend.core.rights import Permission, ScopeTarget
from backend.i18n import t
from backend.schools.people import consent
from backend.schools.people.fields import (
    GUARDIAN_RULES,
    PERSONAL_FIELDS,
    STAFF_RULES,
    STUDENT_RULES,
    FieldProblem,
    clean_fields,
    now_utc,
    personal_given,
    raise_problems,
)
from backend.schools.people.movement import class_info, class_on, ensure, student_target, today
from backend.schools.places import school_target
from backend.schools.tables import (
    BenefitCategory,
    Guardian,
    Staff,
    Student,
    StudentBenefit,
    StudentGuardian,
)
from backend.schools.validators import (
    BENEFIT_CATEGORIES,
    normalize_positions,
    normalize_relation,
)

# ---- pupils --------------------------------------------------------------------------------


async def create_student(
    actor: Actor,
    school_id: int,
    data: dict[str, Any],
    *,
    consent_data: dict[str, Any] | None = None,
    benefits: list[dict[str, Any]] | None = None,
) -> int:
    """A new pupil's personal file. Names are always allowed; anything else needs consent,
    which may come in the same request (recorded first, in the same transaction)."""
    target = await school_target(school_id)
    ensure(actor, Permission.PERSONAL_FILE_WRITE, target)
    clean, problems = clean_fields(STUDENT_RULES, data)
    for name in ("last_name", "first_name"):
        if name not in data:
            problems.append(FieldProblem(name, t("people.name_required")))
    raise_problems(problems)
    personal = personal_given("student", clean)
    if benefits:
        personal.append("benefits")
    async with transaction():
        row = Student(
            school=school_id,
            last_name=clean["last_name"],
            first_name=clean["first_name"],
            middle_name=clean.get("middle_name", ""),
            personal_file_number=clean.get("personal_file_number", ""),
        )
        await row.save()
        student_id = int(row.id)
        if consent_data is not None:
            await consent.record_consent(
                actor, "student", student_id, target=target, **consent_data
            )
        await consent.require_consent("student", student_id, personal)
        values = {k: v for k, v in clean.items() if k in PERSONAL_FIELDS["student"]}
        if values:
            await Student.update({getattr(Student, k): v for k, v in values.items()}).where(
                Student.id == student_id
            )
        for benefit in benefits or []:
            await _add_benefit(student_id, benefit)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="student",
            object_id=student_id,
            school_id=school_id,
            student_id=student_id,
            details={"fields": sorted(clean)},
        )
    return student_id


async def _add_benefit(student_id: int, benefit: dict[str, Any]) -> None:
    code = str(benefit["code"]).strip().lower()
    category = (
        await BenefitCategory.select(BenefitCategory.id).where(BenefitCategory.code == code).first()
    )
    if category is None and code in BENEFIT_CATEGORIES:
        rows = await BenefitCategory.insert(
            BenefitCategory(code=code, name=BENEFIT_CATEGORIES[code])
        ).returning(BenefitCategory.id)
        category = rows[0]
    if category is None:
        message = t("people.benefit_unknown", value=benefit["code"])
        raise ValidationFailed(message, details=[{"field": "benefits", "message": message}])
    valid_to = benefit.get("valid_to")
    if valid_to is not None and valid_to < benefit["valid_from"]:
        message = t("people.benefit_dates")
        raise ValidationFailed(message, details=[{"field": "benefits", "message": message}])
    await StudentBenefit(
        student=student_id,
        category=category["id"],
        valid_from=benefit["valid_from"],
        valid_to=valid_to,
        document=str(benefit.get("document", ""))[:300],
    ).save()


async def add_benefit(actor: Actor, student_id: int, benefit: dict[str, Any]) -> None:
    """A benefit category for a pupil (from a date, with the supporting document): personal
    data, so it needs consent."""
    target = await student_target(student_id)
    ensure(actor, Permission.PERSONAL_FILE_WRITE, target)
    async with transaction():
        await consent.require_consent("student", student_id, ["benefits"])
        await _add_benefit(student_id, benefit)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="student_benefit",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
            details={"code": benefit["code"]},
        )


async def update_student(actor: Actor, student_id: int, data: dict[str, Any]) -> None:
    """Change fields of a personal file. Audited with the names of the fields changed (the
    values are personal data and stay out of the audit log)."""
    target = await student_target(student_id)
    ensure(actor, Permission.PERSONAL_FILE_WRITE, target)
    clean, problems = clean_fields(STUDENT_RULES, data)
    raise_problems(problems)
    if not clean:
        return
    async with transaction():
        await consent.require_consent("student", student_id, personal_given("student", clean))
        clean_columns = {getattr(Student, k): v for k, v in clean.items()}
        clean_columns[Student.updated_at] = now_utc()
        await Student.update(clean_columns).where(Student.id == student_id)
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="student",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
            details={"fields": sorted(clean)},
        )


async def student_card(actor: Actor, student_id: int) -> dict[str, Any]:
    """Names, school and today's class: for school staff and the pupil's family."""
    target = await student_target(student_id)
    if actor.principal is not None and not (
        actor.principal.allows(Permission.PEOPLE_READ, target)
        or actor.principal.allows(Permission.DIARY_READ, target)
    ):
        raise NotFound()
    row = (
        await Student.select(
            Student.id,
            Student.school,
            Student.last_name,
            Student.first_name,
            Student.middle_name,
            Student.archived,
        )
        .where(Student.id == student_id)
        .first()
    )
    if row is None:
        raise NotFound()
    class_id = await class_on(student_id, today())
    row["class_id"] = class_id
    row["class_name"] = (await class_info(class_id)).label if class_id else None
    row["school_id"] = row.pop("school")
    return row


async def personal_file(actor: Actor, student_id: int) -> dict[str, Any]:
    """Documents, SNILS, addresses, contacts and benefits. Every read is audited."""
    target = await student_target(student_id)
    ensure(actor, Permission.PERSONAL_FILE_READ, target)
    row = await Student.select().where(Student.id == student_id).first()
    if row is None:
        raise NotFound()
    benefits = await StudentBenefit.select(
        StudentBenefit.category.code,
        StudentBenefit.category.name,
        StudentBenefit.valid_from,
        StudentBenefit.valid_to,
        StudentBenefit.document,
    ).where(StudentBenefit.student == student_id)
    async with transaction():
        await record(
            actor,
            AuditAction.READ_PERSONAL,
            object_type="student",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
        )
    row["school_id"] = row["school"]
    row["benefits"] = [
        {
            "code": b["category.code"],
            "name": b["category.name"],
            "valid_from": b["valid_from"],
            "valid_to": b["valid_to"],
            "document": b["document"],
        }
        for b in benefits
    ]
    row["has_consent"] = await consent.has_consent("student", student_id)
    return row


async def health(actor: Actor, student_id: int) -> dict[str, Any]:
    """Health group and PE group: nurse, class teacher, guardians. Every read is audited."""
    target = await student_target(student_id)
    ensure(actor, Permission.HEALTH_READ, target)
    row = (
        await Student.select(Student.health_group, Student.pe_group)
        .where(Student.id == student_id)
        .first()
    )
    if row is None:
        raise NotFound()
    async with transaction():
        await record(
            actor,
            AuditAction.READ_HEALTH,
            object_type="student",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
        )
    return {"student_id": student_id, **row}


async def add_consent(
    actor: Actor, subject_kind: str, subject_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    target = await subject_target(actor, subject_kind, subject_id, Permission.PERSONAL_FILE_WRITE)
    return await consent.record_consent(actor, subject_kind, subject_id, target=target, **data)


async def revoke_consent(actor: Actor, consent_id: int, revoked_on: date) -> dict[str, Any]:
    kind, subject_id = await consent.subject_of(consent_id)
    target = await subject_target(actor, kind, subject_id, Permission.PERSONAL_FILE_WRITE)
    return await consent.revoke_consent(actor, consent_id, revoked_on, target)


async def subject_target(
    actor: Actor, subject_kind: str, subject_id: int, permission: Permission
) -> ScopeTarget:
    """Where a pupil, guardian or staff member sits, checked against the actor's right."""
    if subject_kind == "student":
        target = await student_target(subject_id)
        ensure(actor, permission, target)
        return target
    if subject_kind == "guardian":
        return await guardian_target(actor, subject_id, permission)
    if subject_kind == "staff":
        row = await Staff.select(Staff.school).where(Staff.id == subject_id).first()
        if row is None:
            raise NotFound()
        target = await school_target(row["school"])
        ensure(actor, permission, target)
        return target
    raise NotFound()


# ---- guardians -----------------------------------------------------------------------------


async def guardian_target(actor: Actor, guardian_id: int, permission: Permission) -> ScopeTarget:
    """A guardian is reached through a child: the first child the actor may use `permission`
    on. A guardian whose children are all elsewhere does not exist for the actor."""
    children = await StudentGuardian.select(StudentGuardian.student).where(
        StudentGuardian.guardian == guardian_id
    )
    for link in children:
        target = await student_target(link["student"])
        if actor.principal is None or actor.principal.allows(permission, target):
            return target
    raise NotFound()


async def create_guardian(
    actor: Actor,
    data: dict[str, Any],
    children: list[dict[str, Any]],
    *,
    consent_data: dict[str, Any] | None = None,
) -> int:
    """A guardian and their links to children. A guardian whose phone is already on file with
    the same name is the same person: the children are linked to them (one parent, children in
    several schools) instead of creating a double."""
    targets = {}
    for child in children:
        target = await student_target(child["student_id"])
        ensure(actor, Permission.PERSONAL_FILE_WRITE, target)
        targets[child["student_id"]] = target
    clean, problems = clean_fields(GUARDIAN_RULES, data)
    for link in children:
        try:
            link["relation"] = normalize_relation(link.get("relation") or "")
        except DomainError as exc:
            problems.append(FieldProblem("relation", exc.message))
    raise_problems(problems)
    personal = personal_given("guardian", clean)
    first_target = next(iter(targets.values()))
    async with transaction():
        guardian_id = await _same_guardian(clean)
        if guardian_id is None:
            row = Guardian(
                last_name=clean["last_name"],
                first_name=clean["first_name"],
                middle_name=clean.get("middle_name", ""),
            )
            await row.save()
            guardian_id = int(row.id)
            created = True
        else:
            created = False
        if consent_data is not None:
            await consent.record_consent(
                actor, "guardian", guardian_id, target=first_target, **consent_data
            )
        await consent.require_consent("guardian", guardian_id, personal)
        values = {k: v for k, v in clean.items() if k in PERSONAL_FIELDS["guardian"]}
        if values and created:
            await Guardian.update({getattr(Guardian, k): v for k, v in values.items()}).where(
                Guardian.id == guardian_id
            )
        for link in children:
            if await StudentGuardian.exists().where(
                (StudentGuardian.student == link["student_id"])
                & (StudentGuardian.guardian == guardian_id)
            ):
                raise Conflict(key="people.already_linked")
            await StudentGuardian(
                student=link["student_id"],
                guardian=guardian_id,
                relation=link["relation"],
                is_legal_representative=link.get("is_legal_representative", True),
            ).save()
            await record(
                actor,
                AuditAction.CREATE if created else AuditAction.UPDATE,
                object_type="guardian",
                object_id=guardian_id,
                school_id=targets[link["student_id"]].school_id,
                student_id=link["student_id"],
                details={"fields": sorted(clean), "relation": link["relation"]},
            )
    return guardian_id


async def _same_guardian(clean: dict[str, Any]) -> int | None:
    phone = clean.get("phone")
    if not phone:
        return None
    row = await Guardian.select().where(Guardian.phone == phone).first()
    if row is None:
        return None
    same = (row["last_name"].lower(), row["first_name"].lower()) == (
        clean["last_name"].lower(),
        clean["first_name"].lower(),
    )
    if not same:
        raise Conflict(key="people.phone_other_guardian", phone=phone)
    return int(row["id"])


async def guardian_file(actor: Actor, guardian_id: int) -> dict[str, Any]:
    """A guardian's personal file, with the links to the children the actor may see."""
    await guardian_target(actor, guardian_id, Permission.PERSONAL_FILE_READ)
    row = await Guardian.select().where(Guardian.id == guardian_id).first()
    if row is None:
        raise NotFound()
    links = await StudentGuardian.select().where(StudentGuardian.guardian == guardian_id)
    visible = []
    async with transaction():
        for link in links:
            target = await student_target(link["student"])
            if actor.principal is not None and not actor.principal.allows(
                Permission.PERSONAL_FILE_READ, target
            ):
                continue
            visible.append(link)
            await record(
                actor,
                AuditAction.READ_PERSONAL,
                object_type="guardian",
                object_id=guardian_id,
                school_id=target.school_id,
                student_id=link["student"],
            )
    row["has_account"] = row["user_id"] is not None
    row["children"] = [
        {
            "student_id": link["student"],
            "relation": link["relation"],
            "is_legal_representative": link["is_legal_representative"],
        }
        for link in visible
    ]
    return row


async def guardian_contacts(actor: Actor, student_id: int) -> list[dict[str, Any]]:
    """A pupil's guardians with phones and e-mails: for the class teacher and the office."""
    from backend.schools.people.services import guardians_of

    target = await student_target(student_id)
    ensure(actor, Permission.PERSONAL_FILE_READ, target)
    rows = await guardians_of(student_id)
    async with transaction():
        await record(
            actor,
            AuditAction.READ_PERSONAL,
            object_type="guardian_contacts",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
        )
    return [
        {
            "guardian_id": g.guardian_id,
            "full_name": g.full_name,
            "relation": g.relation,
            "is_legal_representative": g.is_legal_representative,
            "phone": g.phone,
            "email": g.email,
            "has_account": g.user_id is not None,
        }
        for g in rows
    ]


# ---- staff ---------------------------------------------------------------------------------


async def create_staff(
    actor: Actor,
    school_id: int,
    data: dict[str, Any],
    positions: list[str],
    *,
    consent_data: dict[str, Any] | None = None,
) -> int:
    target = await school_target(school_id)
    ensure(actor, Permission.PERSONAL_FILE_WRITE, target)
    clean, problems = clean_fields(STAFF_RULES, data)
    try:
        clean_positions = normalize_positions(positions)
    except DomainError as exc:
        problems.append(FieldProblem("positions", exc.message))
        clean_positions = []
    raise_problems(problems)
    async with transaction():
        row = Staff(
            school=school_id,
            last_name=clean["last_name"],
            first_name=clean["first_name"],
            middle_name=clean.get("middle_name", ""),
            positions=clean_positions,
            hired_on=clean.get("hired_on"),
        )
        await row.save()
        staff_id = int(row.id)
        if consent_data is not None:
            await consent.record_consent(actor, "staff", staff_id, target=target, **consent_data)
        await consent.require_consent("staff", staff_id, personal_given("staff", clean))
        values = {k: v for k, v in clean.items() if k in PERSONAL_FIELDS["staff"]}
        if values:
            await Staff.update({getattr(Staff, k): v for k, v in values.items()}).where(
                Staff.id == staff_id
            )
        await record(
            actor,
            AuditAction.CREATE,
            object_type="staff",
            object_id=staff_id,
            school_id=school_id,
            details={"fields": sorted(clean), "positions": clean_positions},
        )
    return staff_id


async def staff_card(actor: Actor, staff_id: int) -> dict[str, Any]:
    row = (
        await Staff.select(
            Staff.id,
            Staff.school,
            Staff.last_name,
            Staff.first_name,
            Staff.middle_name,
            Staff.positions,
            Staff.user_id,
        )
        .where(Staff.id == staff_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound()
    ensure(actor, Permission.PEOPLE_READ, await school_target(row["school"]))
    row["school_id"] = row.pop("school")
    return row
