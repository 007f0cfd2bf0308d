# Over 600 lines: the diary's whole read path in one place, read top to bottom.
"""The diary: the journal's facts read for one pupil, by week, for the family.

Reading a week is the hot path after lessons. It costs:
1. the week's projection row (`DiaryWeek`: version and body), one indexed lookup shared with
   the other reads the process is serving at that moment (`backend.journal.weeks`); an
   `If-None-Match` that matches its version answers 304;
2. when nothing is stored yet, or a write cleared it (and the background rebuild has not got
   there yet): the week is built from the journal tables (a few indexed queries) and stored.
Rights need no database trip for the pupil, guardians and delegates (their token's grant names
the pupil); staff reading through a class or school grant cost one query for the pupil's place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Forbidden, NotFound, ValidationFailed
from backend.core.forms import short_person_name
from backend.core.rights import Permission, ScopeKind, ScopeTarget
from backend.journal.lessons import week_start
from backend.journal.scales import plain_average, weighted_average
from backend.journal.tables import (
    AttendanceRecord,
    DiarySeen,
    DiaryWeek,
    FinalMark,
    Homework,
    HomeworkDone,
    Mark,
    Remark,
)
from backend.journal.weeks import DiaryWeeks, bump_weeks, etag_of
from backend.schools.people import movement
from backend.schools.reads import (
    Lesson,
    Student,
    StudyGroupMember,
    StudyPeriod,
    Subject,
)


@dataclass(frozen=True, slots=True)
class WeekAnswer:
    status: int  # 200 or 304
    etag: str
    body: bytes


# ---- rights ----------------------------------------------------------------------------------


async def check_diary_reader(actor: Actor, student_id: int) -> bool:
    """Refuse (404) anyone who may not read this pupil's diary. True when the reader came
    through a staff grant (class or school), whose reads of a pupil's data are audited."""
    principal = actor.principal
    if principal is None:
        return False
    if principal.allows(Permission.DIARY_READ, ScopeTarget(student_id=student_id)):
        return False  # the pupil, a guardian, a delegate with the diary part: no DB trip
    if not principal.has_permission(Permission.DIARY_READ):
        raise NotFound()
    target = await movement.student_target(student_id)
    if not principal.allows(Permission.DIARY_READ, target):
        raise NotFound()
    return True


def reads_as_family(actor: Actor, student_id: int) -> bool:
    principal = actor.principal
    return principal is not None and any(
        g.scope_kind is ScopeKind.STUDENT and g.scope_id == student_id
        for g in principal.live_grants()
    )


# ---- the week --------------------------------------------------------------------------------


async def read_week(
    actor: Actor, student_id: int, day: date, weeks: DiaryWeeks, if_none_match: str | None
) -> WeekAnswer:
    staff_read = await check_diary_reader(actor, student_id)
    monday = week_start(day)
    version, body = await _projection(weeks, student_id, monday)
    if staff_read:
        await _audit_read(actor, student_id, monday)
    etag = etag_of(student_id, monday, version, body)
    if if_none_match and etag in if_none_match:
        return WeekAnswer(304, etag, b"")
    return WeekAnswer(200, etag, body)


async def _audit_read(actor: Actor, student_id: int, monday: date) -> None:
    await record(
        actor,
        AuditAction.READ_DIARY,
        object_type="diary_week",
        object_id=f"{student_id}:{monday.isoformat()}",
        student_id=student_id,
    )


async def _store_body(student_id: int, monday: date, version: int, body: bytes) -> None:
    """Store a built week, only if no write came in meanwhile (it would have bumped the
    version): a build racing a write never stores stale data."""
    await DiaryWeek.raw(
        'UPDATE "diary_week" SET "body" = {} '
        'WHERE "student" = {} AND "week_start" = {} AND "version" = {}',
        body.decode(),
        student_id,
        monday,
        version,
    )


async def refresh_projections(student_ids: list[int], monday: date) -> int:
    """Build the projection rows of these pupils' week that a write cleared, all in one go
    (the diary cache calls this in the background after each announced write). A row that
    another write changed meanwhile is left for its reader. Returns the rows built."""
    rows = await DiaryWeek.select(DiaryWeek.student, DiaryWeek.version).where(
        DiaryWeek.student.is_in(student_ids)
        & (DiaryWeek.week_start == monday)
        & DiaryWeek.body.is_null()
    )
    if not rows:
        return 0
    weeks = await build_weeks([r["student"] for r in rows], monday)
    async with transaction():  # one commit for the batch
        for row in rows:
            body = msgspec.json.encode(weeks[row["student"]])
            await _store_body(row["student"], monday, row["version"], body)
    return len(rows)


async def build_weeks_ahead(monday: date, *, batch: int = 30) -> int:
    """Projection rows for the week of `monday` for every pupil in a class that day who has
    none yet, built ahead of their readers: a week no write has touched (a new week, on Monday
    morning) would otherwise be built by each family's first read, the slowest read there is,
    at the busiest moment. Existing rows are left as they are (their version, so their ETag,
    does not change). A class's pupils are built together (`build_weeks`). Returns the rows
    built. The worker runs it every night for this week and the next."""
    monday = week_start(monday)
    students = [r["id"] for r in await Student.select(Student.id)]
    by_class: dict[int, list[int]] = {}
    for student_id, class_id in (await movement.classes_on(students, monday)).items():
        if class_id is not None:
            by_class.setdefault(class_id, []).append(student_id)
    built = 0
    for pupils in by_class.values():
        for start in range(0, len(pupils), batch):
            chunk = sorted(pupils[start : start + batch])
            missing = await _add_missing_rows(chunk, monday)
            if missing:
                built += await refresh_projections(missing, monday)
    return built


async def _add_missing_rows(student_ids: list[int], monday: date) -> list[int]:
    """Empty projection rows (version 1, no body) for those of these pupils who have none for
    the week; returns whom it added."""
    values = ", ".join("({}, {}, 1, NULL)" for _ in student_ids)
    args: list[object] = []
    for student_id in student_ids:
        args += [student_id, monday]
    rows = await DiaryWeek.raw(
        'INSERT INTO "diary_week" ("student", "week_start", "version", "body") '  # noqa: S608
        f'VALUES {values} ON CONFLICT ("student", "week_start") DO NOTHING RETURNING "student"',
        *args,
    )
    return [int(r["student"]) for r in rows]


async def _projection(weeks: DiaryWeeks, student_id: int, monday: date) -> tuple[int, bytes]:
    stored = await weeks.stored(student_id, monday)
    if stored is not None and stored[1] is not None:
        return stored[0], stored[1]
    body = msgspec.json.encode(await build_week(student_id, monday))
    if stored is None:
        await DiaryWeek.raw(
            'INSERT INTO "diary_week" ("student", "week_start", "version", "body") '
            'VALUES ({}, {}, 1, {}) ON CONFLICT ("student", "week_start") DO NOTHING',
            student_id,
            monday,
            body.decode(),
        )
        return 1, body
    await _store_body(student_id, monday, stored[0], body)
    return stored[0], body


Members = dict[int, tuple[set[int], set[int]]]
HOMEWORK_COLUMNS = (
    Homework.id,
    Homework.lesson,
    Homework.text,
    Homework.due_date,
    Homework.due_lesson,
    Homework.attachments,
    Homework.subject,
    Homework.lesson.school_class.as_alias("given_class"),
    Homework.lesson.study_group.as_alias("given_group"),
)


async def memberships_many(student_ids: list[int], start: date, end: date) -> Members:
    """The classes and study groups each pupil belonged to between two dates (a transfer in
    the middle of a week shows both classes' lessons of that week). Three queries."""
    first = await movement.classes_on(student_ids, start)
    last = await movement.classes_on(student_ids, end)
    out: Members = {
        sid: ({c for c in (first.get(sid), last.get(sid)) if c}, set()) for sid in student_ids
    }
    groups = await StudyGroupMember.select(StudyGroupMember.student, StudyGroupMember.group).where(
        StudyGroupMember.student.is_in(student_ids)
        & (StudyGroupMember.valid_from <= end)
        & (StudyGroupMember.valid_to.is_null() | (StudyGroupMember.valid_to >= start))
    )
    for g in groups:
        out[g["student"]][1].add(g["group"])
    return out


def _staff_name(last: str | None, first: str | None, middle: str | None) -> str:
    if not last:
        return ""
    return short_person_name(last, first or "", middle or "")


def _in(members: tuple[set[int], set[int]], class_id: int | None, group_id: int | None) -> bool:
    classes, groups = members
    return (class_id is not None and class_id in classes) or (
        group_id is not None and group_id in groups
    )


async def lessons_of_many(
    members: Members, start: date, end: date
) -> dict[int, list[dict[str, Any]]]:
    """Each pupil's lessons between two dates (of their classes and groups), in one query."""
    classes = set().union(*(m[0] for m in members.values())) if members else set()
    groups = set().union(*(m[1] for m in members.values())) if members else set()
    out: dict[int, list[dict[str, Any]]] = {sid: [] for sid in members}
    if not classes and not groups:
        return out
    where: Any = Lesson.school_class.is_in(list(classes)) if classes else None
    if groups:
        by_group = Lesson.study_group.is_in(list(groups))
        where = by_group if where is None else (where | by_group)
    rows = (
        await Lesson.select(
            Lesson.id,
            Lesson.date,
            Lesson.lesson_number,
            Lesson.school_class,
            Lesson.study_group,
            Lesson.subject,
            Lesson.subject.name,
            Lesson.status,
            Lesson.topic,
            Lesson.teacher.last_name,
            Lesson.teacher.first_name,
            Lesson.teacher.middle_name,
            Lesson.replacement_teacher,
            Lesson.replacement_teacher.last_name,
            Lesson.replacement_teacher.first_name,
            Lesson.replacement_teacher.middle_name,
            Lesson.room.name,
        )
        .where((Lesson.date >= start) & (Lesson.date <= end) & where)
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
    )
    for sid, m in members.items():
        out[sid] = [r for r in rows if _in(m, r["school_class"], r["study_group"])]
    return out


async def lessons_of(student_id: int, start: date, end: date) -> list[dict[str, Any]]:
    members = await memberships_many([student_id], start, end)
    return (await lessons_of_many(members, start, end))[student_id]


def _pupils_week(table: Any, student_ids: list[int], monday: date, sunday: date) -> Any:
    """These pupils' rows of a journal table (marks, attendance, remarks) in one week."""
    return (
        table.student.is_in(student_ids)
        & (table.lesson_date >= monday)
        & (table.lesson_date <= sunday)
    )


def _by_student(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["student"], []).append(row)
    return out


async def build_week(student_id: int, monday: date) -> dict[str, Any]:
    """The diary week as the API sends it, from the journal tables."""
    return (await build_weeks([student_id], monday))[student_id]


async def build_weeks(student_ids: list[int], monday: date) -> dict[int, dict[str, Any]]:
    """The diary weeks of several pupils (a lesson's class after a save) from the journal
    tables, in the same dozen queries as one pupil's."""
    sunday = monday + timedelta(days=6)
    members = await memberships_many(student_ids, monday, sunday)
    lessons = await lessons_of_many(members, monday, sunday)
    lesson_ids = sorted({lesson["id"] for rows in lessons.values() for lesson in rows})
    marks = _by_student(
        await Mark.select(
            Mark.id,
            Mark.student,
            Mark.lesson,
            Mark.value,
            Mark.weight,
            Mark.comment,
            Mark.work_kind.name,
            Mark.created_at,
            Mark.updated_at,
            Mark.version,
        ).where(_pupils_week(Mark, student_ids, monday, sunday) & Mark.deleted_at.is_null())
    )
    attendance = _by_student(
        await AttendanceRecord.select(
            AttendanceRecord.student,
            AttendanceRecord.lesson,
            AttendanceRecord.status,
            AttendanceRecord.late_minutes,
            AttendanceRecord.reason,
        ).where(_pupils_week(AttendanceRecord, student_ids, monday, sunday))
    )
    remarks = _by_student(
        await Remark.select(
            Remark.id, Remark.student, Remark.lesson, Remark.text, Remark.created_at
        ).where(_pupils_week(Remark, student_ids, monday, sunday) & Remark.deleted_at.is_null())
    )
    homework: list[dict[str, Any]] = []
    if lesson_ids:
        homework = await Homework.select(*HOMEWORK_COLUMNS).where(
            (Homework.lesson.is_in(lesson_ids) | Homework.due_lesson.is_in(lesson_ids))
            & Homework.deleted_at.is_null()
        )
        homework += await _due_by_date(members, monday, sunday, lessons, homework)
    done: dict[int, set[int]] = {}
    if homework:
        ticks = await HomeworkDone.select(HomeworkDone.student, HomeworkDone.homework).where(
            HomeworkDone.student.is_in(student_ids)
            & HomeworkDone.homework.is_in([h["id"] for h in homework])
        )
        for t in ticks:
            done.setdefault(t["student"], set()).add(t["homework"])
    out: dict[int, dict[str, Any]] = {}
    for sid in student_ids:
        mine = lessons[sid]
        ids = {lesson["id"] for lesson in mine}
        given_here = [
            h
            for h in homework
            if h["lesson"] in ids
            or h["due_lesson"] in ids
            or (h.get("by_date") and _in(members[sid], h["given_class"], h["given_group"]))
        ]
        out[sid] = _assemble(
            sid,
            monday,
            mine,
            marks.get(sid, []),
            attendance.get(sid, []),
            remarks.get(sid, []),
            given_here,
            done.get(sid, set()),
        )
    return out


def _assemble(
    student_id: int,
    monday: date,
    lessons: list[dict[str, Any]],
    marks: list[dict[str, Any]],
    attendance: list[dict[str, Any]],
    remarks: list[dict[str, Any]],
    homework: list[dict[str, Any]],
    done: set[int],
) -> dict[str, Any]:
    """One pupil's week from its rows."""
    by_lesson: dict[int, dict[str, Any]] = {}
    days: dict[date, list[dict[str, Any]]] = {monday + timedelta(days=i): [] for i in range(6)}
    for lesson in lessons:
        item = {
            "lesson_id": lesson["id"],
            "number": lesson["lesson_number"],
            "subject_id": lesson["subject"],
            "subject": lesson["subject.name"],
            "teacher": _staff_name(
                lesson["teacher.last_name"],
                lesson["teacher.first_name"],
                lesson["teacher.middle_name"],
            ),
            "replacement_teacher": _staff_name(
                lesson["replacement_teacher.last_name"],
                lesson["replacement_teacher.first_name"],
                lesson["replacement_teacher.middle_name"],
            )
            or None,
            "room": lesson["room.name"],
            "status": lesson["status"],
            "topic": lesson["topic"] or "",
            "homework": [],
            "homework_due": [],
            "marks": [],
            "attendance": None,
            "remarks": [],
        }
        by_lesson[lesson["id"]] = item
        days.setdefault(lesson["date"], []).append(item)
    for mark in marks:
        target = by_lesson.get(mark["lesson"])
        if target is not None:
            target["marks"].append(
                {
                    "id": mark["id"],
                    "value": mark["value"],
                    "work_kind": mark["work_kind.name"],
                    "weight": mark["weight"],
                    "comment": mark["comment"],
                    "at": mark["created_at"],
                    "changed": mark["version"] > 1,
                }
            )
    for row in attendance:
        target = by_lesson.get(row["lesson"])
        if target is not None and row["status"] != "present":
            target["attendance"] = {
                "status": row["status"],
                "late_minutes": row["late_minutes"],
                "reason": row["reason"],
            }
    for remark in remarks:
        target = by_lesson.get(remark["lesson"])
        if target is not None:
            target["remarks"].append(
                {"id": remark["id"], "text": remark["text"], "at": remark["created_at"]}
            )
    first_of_subject: dict[tuple[date, int], dict[str, Any]] = {}
    for lesson in lessons:
        first_of_subject.setdefault(
            (_as_date(lesson["date"]), lesson["subject"]), by_lesson[lesson["id"]]
        )
    for hw in homework:
        attachments = hw["attachments"]
        if isinstance(attachments, str):
            attachments = json.loads(attachments or "[]")
        entry = {
            "id": hw["id"],
            "text": hw["text"],
            "due_date": hw["due_date"],
            "attachments": attachments,
            "done": hw["id"] in done,
        }
        given = by_lesson.get(hw["lesson"])
        if given is not None:
            given["homework"].append(entry)
        due = by_lesson.get(hw["due_lesson"]) if hw["due_lesson"] else None
        if due is None and not hw["due_lesson"] and hw["due_date"] is not None:
            due = first_of_subject.get((_as_date(hw["due_date"]), hw["subject"]))
        if due is not None:
            due["homework_due"].append(entry)
    return {
        "student_id": student_id,
        "week_start": monday,
        "days": [{"date": d, "lessons": items} for d, items in sorted(days.items())],
    }


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def _due_by_date(
    members: Members,
    monday: date,
    sunday: date,
    lessons: dict[int, list[dict[str, Any]]],
    found: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Homework set with only a due date (no due lesson) that falls in this week: it shows on
    the first lesson of its subject that day, to the pupils of the class or group it was given
    to (`by_date`; `build_weeks` sorts them out). The rows already found (given this week)
    are not repeated."""
    subjects = list({lesson["subject"] for rows in lessons.values() for lesson in rows})
    classes = set().union(*(m[0] for m in members.values()))
    groups = set().union(*(m[1] for m in members.values()))
    if not subjects or (not classes and not groups):
        return []
    given: Any = Homework.lesson.school_class.is_in(list(classes or {-1}))
    if groups:
        given = given | Homework.lesson.study_group.is_in(list(groups))
    rows = await Homework.select(*HOMEWORK_COLUMNS).where(
        Homework.due_lesson.is_null()
        & (Homework.due_date >= monday)
        & (Homework.due_date <= sunday)
        & Homework.subject.is_in(subjects)
        & Homework.deleted_at.is_null()
        & given
    )
    known = {h["id"] for h in found}
    return [{**r, "by_date": True} for r in rows if r["id"] not in known]


# ---- marks by subject ------------------------------------------------------------------------


async def period_dates(
    student_id: int, period_id: int | None, date_from: date | None, date_to: date | None
) -> tuple[date, date]:
    if period_id is not None:
        row = (
            await StudyPeriod.select(
                StudyPeriod.starts_on, StudyPeriod.ends_on, StudyPeriod.academic_year.school
            )
            .where(StudyPeriod.id == period_id)
            .first()
        )
        pupil = await Student.select(Student.school).where(Student.id == student_id).first()
        if row is None or pupil is None or row["academic_year.school"] != pupil["school"]:
            raise ValidationFailed(key="journal.period_not_found")
        return row["starts_on"], row["ends_on"]
    today = await movement.pupil_today(student_id)
    start = date_from or today - timedelta(days=90)
    end = date_to or today
    if start > end:
        raise ValidationFailed(key="reports.range_invalid")
    return start, end


async def marks_by_subject(
    actor: Actor,
    student_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    staff_read = await check_diary_reader(actor, student_id)
    start, end = await period_dates(student_id, period_id, date_from, date_to)
    marks = (
        await Mark.select(
            Mark.id,
            Mark.subject,
            Mark.value,
            Mark.points,
            Mark.weight,
            Mark.lesson_date,
            Mark.work_kind.name,
            Mark.comment,
            Mark.scale,
        )
        .where(
            (Mark.student == student_id)
            & (Mark.lesson_date >= start)
            & (Mark.lesson_date <= end)
            & Mark.deleted_at.is_null()
        )
        .order_by(Mark.lesson_date)
    )
    finals = await FinalMark.select(
        FinalMark.subject, FinalMark.kind, FinalMark.study_period, FinalMark.value
    ).where(FinalMark.student == student_id)
    subject_ids = {m["subject"] for m in marks} | {f["subject"] for f in finals}
    names = {
        r["id"]: r["name"]
        for r in (
            await Subject.select(Subject.id, Subject.name).where(
                Subject.id.is_in(list(subject_ids))
            )
            if subject_ids
            else []
        )
    }
    grouped: dict[int, list[dict[str, Any]]] = {}
    for mark in marks:
        grouped.setdefault(mark["subject"], []).append(mark)
    subjects = []
    for subject_id in sorted(subject_ids, key=lambda s: names.get(s, "")):
        items = grouped.get(subject_id, [])
        subjects.append(
            {
                "subject_id": subject_id,
                "subject": names.get(subject_id, ""),
                "marks": [
                    {
                        "id": m["id"],
                        "value": m["value"],
                        "weight": m["weight"],
                        "date": m["lesson_date"],
                        "work_kind": m["work_kind.name"],
                        "comment": m["comment"],
                    }
                    for m in items
                ],
                "average": plain_average([m["points"] for m in items]),
                "weighted_average": weighted_average([(m["points"], m["weight"]) for m in items]),
                "final_marks": [
                    {
                        "kind": f["kind"],
                        "study_period_id": f["study_period"] or None,
                        "value": f["value"],
                    }
                    for f in finals
                    if f["subject"] == subject_id
                    and (
                        period_id is None or f["kind"] != "period" or f["study_period"] == period_id
                    )
                ],
            }
        )
    if staff_read:
        await record(
            actor,
            AuditAction.READ_DIARY,
            object_type="diary_marks",
            object_id=student_id,
            student_id=student_id,
        )
    return {"student_id": student_id, "date_from": start, "date_to": end, "subjects": subjects}


# ---- unseen-new markers ----------------------------------------------------------------------


async def news(actor: Actor, student_id: int) -> dict[str, Any]:
    """What is new for this reader since they last marked the diary seen (per reader)."""
    await check_diary_reader(actor, student_id)
    assert actor.principal is not None
    seen = (
        await DiarySeen.select(DiarySeen.seen_at)
        .where((DiarySeen.user_id == actor.principal.user_id) & (DiarySeen.student == student_id))
        .first()
    )
    since = seen["seen_at"] if seen else datetime.now(UTC) - timedelta(days=14)
    marks = (
        await Mark.select(
            Mark.id,
            Mark.lesson,
            Mark.lesson_date,
            Mark.subject,
            Mark.value,
            Mark.updated_at,
            Mark.version,
        )
        .where((Mark.student == student_id) & (Mark.updated_at > since) & Mark.deleted_at.is_null())
        # Newest first: the last written, then (written together) the latest lesson.
        .order_by(Mark.updated_at, Mark.lesson_date, Mark.id, ascending=False)
        .limit(200)
    )
    remarks = (
        await Remark.select(Remark.id, Remark.lesson_date, Remark.text, Remark.created_at)
        .where(
            (Remark.student == student_id)
            & (Remark.created_at > since)
            & Remark.deleted_at.is_null()
        )
        .order_by(Remark.created_at, ascending=False)
        .limit(200)
    )
    subject_ids = list({m["subject"] for m in marks})
    names = {
        r["id"]: r["name"]
        for r in (
            await Subject.select(Subject.id, Subject.name).where(Subject.id.is_in(subject_ids))
            if subject_ids
            else []
        )
    }
    for mark in marks:  # named here: a mark of a subject not in this week's lessons too
        mark["subject_name"] = names.get(mark["subject"], "")
    today = await movement.pupil_today(student_id)
    lessons = await lessons_of(student_id, today - timedelta(days=14), today + timedelta(days=14))
    homework = []
    if lessons:
        homework = (
            await Homework.select(
                Homework.id,
                Homework.lesson,
                Homework.lesson_date,
                Homework.text,
                Homework.due_date,
                Homework.updated_at,
            )
            .where(
                Homework.lesson.is_in([lesson["id"] for lesson in lessons])
                & (Homework.updated_at > since)
                & Homework.deleted_at.is_null()
            )
            .order_by(Homework.updated_at, ascending=False)
            .limit(200)
        )
    return {
        "student_id": student_id,
        "seen_at": seen["seen_at"] if seen else None,
        "marks": marks,
        "remarks": remarks,
        "homework": homework,
    }


async def mark_seen(actor: Actor, student_id: int) -> None:
    await check_diary_reader(actor, student_id)
    assert actor.principal is not None
    now = datetime.now(UTC)
    async with transaction():
        await DiarySeen.insert(
            DiarySeen(user_id=actor.principal.user_id, student=student_id, seen_at=now)
        ).on_conflict(
            target=(DiarySeen.user_id, DiarySeen.student),
            action="DO UPDATE",
            values=[DiarySeen.seen_at],
        )


# ---- homework ticks --------------------------------------------------------------------------


async def tick_homework(
    actor: Actor, student_id: int, homework_id: int, done: bool, weeks: DiaryWeeks
) -> None:
    """The pupil ticks (or unticks) a homework as done. Only the pupil themself may."""
    principal = actor.principal
    await check_diary_reader(actor, student_id)
    if principal is None or not any(
        g.role.value == "pupil" and g.scope_id == student_id for g in principal.live_grants()
    ):
        raise Forbidden(key="journal.homework_done_only_pupil")
    row = (
        await Homework.select(Homework.id, Homework.lesson, Homework.lesson_date)
        .where((Homework.id == homework_id) & Homework.deleted_at.is_null())
        .first()
    )
    if row is None:
        raise NotFound()
    mine = await lessons_of(student_id, row["lesson_date"], row["lesson_date"])
    if row["lesson"] not in {lesson["id"] for lesson in mine}:
        raise NotFound()
    async with transaction():
        if done:
            await HomeworkDone.insert(
                HomeworkDone(homework=homework_id, student=student_id, done_at=datetime.now(UTC))
            ).on_conflict(action="DO NOTHING")
        else:
            await HomeworkDone.delete().where(
                (HomeworkDone.homework == homework_id) & (HomeworkDone.student == student_id)
            )
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="homework_done",
            object_id=homework_id,
            student_id=student_id,
            details={"done": done},
        )
        versions = await bump_weeks([(student_id, week_start(row["lesson_date"]))])
    weeks.announce(versions)
