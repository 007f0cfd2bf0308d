# Over 600 lines: each report is a few set-based queries and their arithmetic.
"""Reports on the journal: class performance, attendance, quality of knowledge and success
rate, journal completeness, pupils at risk. Each answers JSON-ready data; `files.py` turns it
into XLSX and PDF.

Rights: `REPORTS_READ` covering the school (or the class). Reports that name pupils are for
school and class grants only; regional and municipal officials get the aggregated ones (the
task needs no names there). Reads that name pupils are audited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from backend.audit.services import AuditAction, record, record_reads
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import replica_reads
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import class_order, short_person_name
from backend.core.rights import Permission, ScopeKind, ScopeTarget
from backend.i18n import t
from backend.journal.reads import AttendanceRecord, FinalMark, LessonRecord, Mark
from backend.journal.scales import SCALES, weighted_average
from backend.schools.people import movement
from backend.schools.reads import (
    Lesson,
    School,
    SchoolClass,
    Staff,
    Student,
    StudyGroupMember,
    StudyPeriod,
    Subject,
)
from backend.schools.services import school_target

ABSENCES = ("absent", "sick", "excused")
MAX_RANGE_DAYS = 370
# The at-risk report's share of missed lessons means something only from this many lessons
# with a register for the pupil.
MIN_REGISTERED_LESSONS = 10


@dataclass(frozen=True, slots=True)
class Range:
    start: date
    end: date
    label: str
    period_id: int | None = None


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def check_reader(actor: Actor, target: ScopeTarget, *, names_pupils: bool) -> None:
    principal = actor.principal
    if principal is None:
        return
    if not principal.allows(Permission.REPORTS_READ, target):
        raise NotFound()
    if names_pupils and not any(
        Permission.REPORTS_READ in g.permissions()
        and g.covers(target)
        and g.scope_kind in (ScopeKind.SYSTEM, ScopeKind.SCHOOL, ScopeKind.CLASS)
        for g in principal.live_grants()
    ):
        raise NotFound()


async def report_range(
    school_id: int, period_id: int | None, date_from: date | None, date_to: date | None
) -> Range:
    if period_id is not None:
        row = (
            await StudyPeriod.select(
                StudyPeriod.id,
                StudyPeriod.name,
                StudyPeriod.starts_on,
                StudyPeriod.ends_on,
                StudyPeriod.academic_year.school,
            )
            .where(StudyPeriod.id == period_id)
            .first()
        )
        if row is None or row["academic_year.school"] != school_id:
            raise ValidationFailed(key="journal.period_not_found")
        return Range(row["starts_on"], row["ends_on"], row["name"], row["id"])
    end = date_to or await movement.school_today(school_id)
    start = date_from or end - timedelta(days=30)
    if start > end:
        raise ValidationFailed(key="reports.range_invalid")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationFailed(key="reports.range_too_long")
    return Range(start, end, f"{start:%d.%m.%Y} – {end:%d.%m.%Y}")


async def _school_name(school_id: int) -> str:
    row = await School.select(School.short_name).where(School.id == school_id).first()
    return row["short_name"] if row else ""


async def _subject_names(school_id: int) -> dict[int, str]:
    rows = await Subject.select(Subject.id, Subject.name).where(Subject.school == school_id)
    return {r["id"]: r["name"] for r in rows}


@lru_cache(maxsize=4096)
def _round(avg: float | None, scale_code: str) -> float | None:
    if avg is None:
        return None
    symbol = SCALES.get(scale_code, SCALES["five"]).symbol_for(avg)
    return float(symbol) if symbol.isdigit() else None


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# ---- class performance sheet -----------------------------------------------------------------


async def class_performance(
    actor: Actor,
    class_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    """Ведомость успеваемости: each pupil's marks count, average, weighted average and final
    mark per subject, and per subject the class average, quality and success rates."""
    target = await movement.class_target(class_id)
    check_reader(actor, target, names_pupils=True)
    with replica_reads():  # decision 1111: the data may be seconds old
        info = (
            await SchoolClass.select(SchoolClass.id, SchoolClass.grade, SchoolClass.letter)
            .where(SchoolClass.id == class_id)
            .first()
        )
        assert info is not None and target.school_id is not None
        school_id = target.school_id
        span = await report_range(school_id, period_id, date_from, date_to)
        (sheet,) = await _performance_sheets(school_id, [info], span)
        await _audit_performance(actor, school_id, [class_id], span)
        return sheet


async def _audit_performance(
    actor: Actor, school_id: int, class_ids: list[int], span: Range
) -> None:
    """Each class sheet names its pupils' results: a read of personal data, one entry a class
    (written in one statement for a school's workbook)."""
    await record_reads(
        actor,
        AuditAction.READ_PERSONAL,
        object_type="report.class_performance",
        object_ids=class_ids,
        school_id=school_id,
        details={"from": str(span.start), "to": str(span.end)},
    )


async def _performance_sheets(
    school_id: int, classes: list[dict[str, Any]], span: Range
) -> list[dict[str, Any]]:
    """The performance sheets of `classes` (rows with id, grade, letter) in a handful of
    queries for all of them: a school's workbook once took a dozen queries a class."""
    pupils_of = await movement.pupils_of_classes([c["id"] for c in classes], span.end)
    class_of = {p: class_id for class_id, ps in pupils_of.items() for p in ps}
    all_pupils = list(class_of)
    names = await _pupil_names(all_pupils)
    subjects = await _subject_names(school_id)
    rows = await Mark.raw(
        'SELECT "student", "subject", "scale", count(*) AS n, '
        'sum("points" * "weight") AS pw, sum(CASE WHEN "points" IS NULL THEN 0 ELSE "weight" END) '
        'AS w, sum("points") AS p, count("points") AS np '
        'FROM "mark" WHERE "school" = {} AND "lesson_date" >= {} AND "lesson_date" <= {} '
        'AND "deleted_at" IS NULL GROUP BY "student", "subject", "scale"',
        school_id,
        span.start,
        span.end,
    )
    finals: dict[tuple[int, int], str] = {}
    if span.period_id is not None and all_pupils:
        for f in await FinalMark.select(
            FinalMark.student, FinalMark.subject, FinalMark.value
        ).where(
            FinalMark.student.is_in(all_pupils)
            & (FinalMark.kind == "period")
            & (FinalMark.study_period == span.period_id)
        ):
            finals[(f["student"], f["subject"])] = f["value"]
    cells_of: dict[int, dict[tuple[int, int], dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        class_id = class_of.get(r["student"])
        if class_id is None or r["student"] not in names:
            continue
        avg = round(r["p"] / r["np"], 2) if r["np"] else None
        wavg = round(r["pw"] / r["w"], 2) if r["w"] else None
        cells_of[class_id][(r["student"], r["subject"])] = {
            "marks": r["n"],
            "average": avg,
            "weighted_average": wavg,
            "final": finals.get((r["student"], r["subject"])),
            "result": _round(wavg, r["scale"]),
        }
    school = await _school_name(school_id)
    return [
        _performance_sheet(
            info, school, span, pupils_of.get(info["id"], []), names, subjects, cells_of[info["id"]]
        )
        for info in classes
    ]


def _performance_sheet(
    info: dict[str, Any],
    school: str,
    span: Range,
    pupils: list[int],
    names: dict[int, str],
    subjects: dict[int, str],
    cells: dict[tuple[int, int], dict[str, Any]],
) -> dict[str, Any]:
    used_subjects = sorted({s for _, s in cells}, key=lambda s: subjects.get(s, ""))
    # Each subject's averages gathered in one pass (not one pass over all cells per subject).
    averages_of: dict[int, list[float | None]] = defaultdict(list)
    for (_, s), c in cells.items():
        averages_of[s].append(c["weighted_average"])
    summary = []
    for subject_id in used_subjects:
        results = []
        for p in pupils:
            cell = cells.get((p, subject_id))
            if cell is None:
                continue
            value = cell["final"] if cell["final"] and cell["final"].isdigit() else cell["result"]
            if value is not None:
                results.append(float(value))
        averages = averages_of[subject_id]
        summary.append(
            {
                "subject_id": subject_id,
                "subject": subjects.get(subject_id, ""),
                "average": weighted_average([(a, 1) for a in averages]),
                "quality": _share(sum(1 for v in results if v >= 4), len(results)),
                "success": _share(sum(1 for v in results if v >= 3), len(results)),
                "pupils": len(results),
            }
        )
    return {
        "class_id": info["id"],
        "class_name": movement.class_label(info["grade"], info["letter"]),
        "school": school,
        "period": span.label,
        "date_from": span.start,
        "date_to": span.end,
        "subjects": [{"id": s, "name": subjects.get(s, "")} for s in used_subjects],
        "pupils": [
            {
                "id": p,
                "name": names[p],
                "cells": [cells.get((p, s)) for s in used_subjects],
            }
            for p in sorted(pupils, key=lambda p: names.get(p, ""))
        ],
        "summary": summary,
    }


async def registered_lessons(school_id: int, start: date, end: date) -> dict[int, int]:
    """For each pupil, the lessons between `start` and `end` whose register was taken while the
    pupil belonged to the lesson's class (by the book of movement) or group. Teachers mark only
    who is missing, so these, not the attendance records, are what a missed share divides by."""
    lessons = await Lesson.raw(
        'SELECT l."date", l."school_class", l."study_group" FROM "lesson" l '
        'JOIN "lesson_record" r ON r."lesson" = l."id" '
        'WHERE l."school" = {} AND l."date" >= {} AND l."date" <= {} '
        'AND l."status" <> \'cancelled\' AND r."attendance_taken_at" IS NOT NULL',
        school_id,
        start,
        end,
    )
    by_class: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    by_group: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for lesson in lessons:
        if lesson["study_group"] is not None:
            by_group[lesson["study_group"]][lesson["date"]] += 1
        elif lesson["school_class"] is not None:
            by_class[lesson["school_class"]][lesson["date"]] += 1
    counts: dict[int, int] = defaultdict(int)
    pupils = [r["id"] for r in await Student.select(Student.id).where(Student.school == school_id)]
    for student, spans in (await movement.class_spans(pupils, start, end)).items():
        for class_id, first, last in spans:
            days = by_class.get(class_id, {})
            counts[student] += sum(n for day, n in days.items() if first <= day <= last)
    if by_group:
        members = await StudyGroupMember.select(
            StudyGroupMember.group,
            StudyGroupMember.student,
            StudyGroupMember.valid_from,
            StudyGroupMember.valid_to,
        ).where(StudyGroupMember.group.is_in(list(by_group)))
        for m in members:
            last = m["valid_to"] or end
            counts[m["student"]] += sum(
                n for day, n in by_group[m["group"]].items() if m["valid_from"] <= day <= last
            )
    return counts


async def _pupil_names(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await Student.select(Student.id, Student.last_name, Student.first_name).where(
        Student.id.is_in(ids)
    )
    return {r["id"]: f"{r['last_name']} {r['first_name']}" for r in rows}


def _class_results(summary: list[dict[str, Any]]) -> dict[str, float | None]:
    """A class's quality and success rate: the mean over its subjects that have results."""
    results = [s for s in summary if s["quality"] is not None]
    if not results:
        return {"quality": None, "success": None}
    return {
        "quality": round(sum(s["quality"] for s in results) / len(results), 1),
        "success": round(sum(s["success"] for s in results) / len(results), 1),
    }


async def school_performance(
    actor: Actor,
    school_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    """Every class's performance sheet (for the whole school's workbook)."""
    target = await school_target(school_id)
    check_reader(actor, target, names_pupils=True)
    with replica_reads():  # decision 1111: the data may be seconds old
        span = await report_range(school_id, period_id, date_from, date_to)
        classes = (
            await SchoolClass.select(SchoolClass.id, SchoolClass.grade, SchoolClass.letter)
            .where(
                (SchoolClass.school == school_id)
                & (SchoolClass.academic_year.starts_on <= span.end)
                & (SchoolClass.academic_year.ends_on >= span.start)
            )
            .order_by(SchoolClass.grade)
            .order_by(SchoolClass.letter)
        )
        sheets = [
            {**sheet, **_class_results(sheet["summary"])}
            for sheet in await _performance_sheets(school_id, classes, span)
        ]
        await _audit_performance(actor, school_id, [c["id"] for c in classes], span)
        return {
            "school_id": school_id,
            "school": await _school_name(school_id),
            "period": span.label,
            "classes": sheets,
        }


# ---- attendance ------------------------------------------------------------------------------


async def attendance(
    actor: Actor,
    school_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    target = await school_target(school_id)
    check_reader(actor, target, names_pupils=True)
    with replica_reads():  # decision 1111: the data may be seconds old
        span = await report_range(school_id, period_id, date_from, date_to)
        rows = await AttendanceRecord.raw(
            'SELECT "student", "status", "reason", count(*) AS n, sum(coalesce("late_minutes", 0)) '
            'AS minutes FROM "attendance_record" WHERE "school" = {} AND "lesson_date" >= {} '
            'AND "lesson_date" <= {} GROUP BY "student", "status", "reason"',
            school_id,
            span.start,
            span.end,
        )
        by_pupil: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        by_reason: dict[tuple[str, str], int] = defaultdict(int)
        for r in rows:
            counts = by_pupil[r["student"]]
            counts[r["status"]] += r["n"]
            counts["lessons"] += r["n"]
            if r["status"] == "late":
                counts["late_minutes"] += r["minutes"] or 0
            if r["status"] != "present":
                by_reason[(r["status"], r["reason"] or "")] += r["n"]
        registered = await registered_lessons(school_id, span.start, span.end)
        for s, n in registered.items():
            # Lessons without a record are lessons the pupil attended (nobody marks "present").
            if n:
                by_pupil[s]["lessons"] = max(n, by_pupil[s]["lessons"])
        names = await _pupil_names(list(by_pupil))
        pupils: list[dict[str, Any]] = [
            {
                "student_id": s,
                "name": names.get(s, ""),
                "lessons": c["lessons"],
                "absent": c["absent"],
                "sick": c["sick"],
                "excused": c["excused"],
                "late": c["late"],
                "late_minutes": c["late_minutes"],
                "missed_share": _share(c["absent"] + c["sick"] + c["excused"], c["lessons"]),
            }
            for s, c in by_pupil.items()
        ]
        pupils.sort(key=lambda p: (-(p["missed_share"] or 0), p["name"]))
        await record(
            actor,
            AuditAction.READ_PERSONAL,
            object_type="report.attendance",
            object_id=school_id,
            school_id=school_id,
        )
        return {
            "school": await _school_name(school_id),
            "period": span.label,
            "pupils": pupils,
            "reasons": [
                {"status": status, "reason": reason, "count": n}
                for (status, reason), n in sorted(by_reason.items(), key=lambda i: -i[1])
            ],
        }


# ---- quality of knowledge and success rate ---------------------------------------------------


async def quality(
    actor: Actor,
    school_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    """Quality (share of pupils at 4 and 5) and success (share without 2) by class, subject and
    teacher, from each pupil's weighted average rounded on the scale. Aggregates only."""
    target = await school_target(school_id)
    check_reader(actor, target, names_pupils=False)
    with replica_reads():  # decision 1111: the data may be seconds old
        span = await report_range(school_id, period_id, date_from, date_to)
        rows = await Mark.raw(
            'SELECT l."school_class" AS class_id, m."subject", l."teacher", m."student", '
            'm."scale", '
            'sum(m."points" * m."weight") AS pw, '
            'sum(CASE WHEN m."points" IS NULL THEN 0 ELSE m."weight" END) AS w '
            'FROM "mark" m JOIN "lesson" l ON l."id" = m."lesson" '
            'WHERE m."school" = {} AND m."lesson_date" >= {} AND m."lesson_date" <= {} '
            'AND m."deleted_at" IS NULL '
            'GROUP BY l."school_class", m."subject", l."teacher", m."student", m."scale"',
            school_id,
            span.start,
            span.end,
        )
        groups: dict[str, dict[Any, list[float]]] = {
            "class": defaultdict(list),
            "subject": defaultdict(list),
            "teacher": defaultdict(list),
        }
        # A group's lesson (a class split for languages, or pupils of several classes) has no
        # class: its marks count for each pupil's own class (by the book of movement).
        in_groups = {r["student"] for r in rows if r["class_id"] is None}
        own_class = await movement.classes_on(in_groups, span.end) if in_groups else {}
        for r in rows:
            if not r["w"]:
                continue
            value = _round(r["pw"] / r["w"], r["scale"])
            if value is None or r["scale"] != "five":
                continue
            class_id = r["class_id"] if r["class_id"] is not None else own_class.get(r["student"])
            if class_id is not None:
                groups["class"][class_id].append(value)
            groups["subject"][r["subject"]].append(value)
            groups["teacher"][r["teacher"]].append(value)
        school_classes = await SchoolClass.select(
            SchoolClass.id, SchoolClass.grade, SchoolClass.letter
        ).where(SchoolClass.school == school_id)
        class_names = {
            c["id"]: movement.class_label(c["grade"], c["letter"]) for c in school_classes
        }
        # Classes by grade then letter; subjects and teachers by name.
        class_places = {c["id"]: class_order(c["grade"], c["letter"]) for c in school_classes}
        subject_names = await _subject_names(school_id)
        teacher_names = {
            s["id"]: short_person_name(s["last_name"], s["first_name"], s["middle_name"])
            for s in await Staff.select(
                Staff.id, Staff.last_name, Staff.first_name, Staff.middle_name
            ).where(Staff.school == school_id)
        }
        names = {"class": class_names, "subject": subject_names, "teacher": teacher_names}

        def table(kind: str) -> list[dict[str, Any]]:
            out = []
            for key, values in groups[kind].items():
                out.append(
                    {
                        "id": key,
                        "name": names[kind].get(key, "") if key is not None else "",
                        "results": len(values),
                        "quality": _share(sum(1 for v in values if v >= 4), len(values)),
                        "success": _share(sum(1 for v in values if v >= 3), len(values)),
                        "average": round(sum(values) / len(values), 2),
                    }
                )
            if kind == "class":
                return sorted(out, key=lambda row: class_places.get(row["id"], (0, "")))
            return sorted(out, key=lambda row: row["name"])

        return {
            "school": await _school_name(school_id),
            "period": span.label,
            "by_class": table("class"),
            "by_subject": table("subject"),
            "by_teacher": table("teacher"),
        }


# ---- journal completeness --------------------------------------------------------------------


async def completeness(
    actor: Actor,
    school_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> dict[str, Any]:
    """Lessons without a topic or without attendance, and who has not taken today's register
    (inspectors check this). Names teachers, not pupils."""
    target = await school_target(school_id)
    check_reader(actor, target, names_pupils=False)
    with replica_reads():  # decision 1111: the data may be seconds old
        school = await School.select(School.time_zone).where(School.id == school_id).first()
        today = today_in((school or {}).get("time_zone"))
        span = await report_range(school_id, period_id, date_from, date_to or today)
        lessons = (
            await Lesson.select(
                Lesson.id,
                Lesson.date,
                Lesson.lesson_number,
                Lesson.topic,
                Lesson.school_class,
                Lesson.study_group.school_class.as_alias("group_class"),
                Lesson.study_group.name.as_alias("group_name"),
                Lesson.subject.name,
                Lesson.teacher,
                Lesson.replacement_teacher,
                Lesson.teacher.last_name,
                Lesson.teacher.first_name,
                Lesson.teacher.middle_name,
            )
            .where(
                (Lesson.school == school_id)
                & (Lesson.date >= span.start)
                # Lessons still to come are not gaps: only those held by today count.
                & (Lesson.date <= min(span.end, today))
                & (Lesson.status == "scheduled")
            )
            .order_by(Lesson.date)
            .order_by(Lesson.lesson_number)
        )
        taken = {
            r["lesson"]
            for r in await LessonRecord.select(LessonRecord.lesson).where(
                (LessonRecord.school == school_id)
                & (LessonRecord.lesson_date >= span.start)
                & (LessonRecord.lesson_date <= span.end)
                & LessonRecord.attendance_taken_at.is_not_null()
            )
        }
        class_names = {
            c["id"]: movement.class_label(c["grade"], c["letter"])
            for c in await SchoolClass.select(
                SchoolClass.id, SchoolClass.grade, SchoolClass.letter
            ).where(SchoolClass.school == school_id)
        }

        def item(lesson: dict[str, Any]) -> dict[str, Any]:
            return {
                "lesson_id": lesson["id"],
                "date": lesson["date"],
                "number": lesson["lesson_number"],
                # A group's lesson: its class (and the group), so the gap can be found.
                "class": class_names.get(lesson["school_class"], "")
                or " ".join(
                    x
                    for x in (class_names.get(lesson["group_class"], ""), lesson["group_name"])
                    if x
                ),
                "subject": lesson["subject.name"],
                "teacher": short_person_name(
                    lesson["teacher.last_name"],
                    lesson["teacher.first_name"],
                    lesson["teacher.middle_name"] or "",
                ),
            }

        no_topic = [item(x) for x in lessons if not (x["topic"] or "").strip()]
        no_register = [item(x) for x in lessons if x["id"] not in taken]
        not_today: dict[str, int] = defaultdict(int)
        for x in no_register:
            if x["date"] == today:
                not_today[x["teacher"]] += 1
        total = len(lessons)
        return {
            "school": await _school_name(school_id),
            "period": span.label,
            "lessons": total,
            "without_topic": no_topic,
            "without_attendance": no_register,
            "topic_share": _share(total - len(no_topic), total),
            "attendance_share": _share(total - len(no_register), total),
            "register_not_taken_today": [
                {"teacher": name, "lessons": n} for name, n in sorted(not_today.items())
            ],
        }


# ---- pupils at risk --------------------------------------------------------------------------


async def at_risk(
    actor: Actor,
    school_id: int,
    period_id: int | None,
    date_from: date | None,
    date_to: date | None,
    *,
    low_average: float = 3.0,
    missed_share: float = 20.0,
    min_registered: int = MIN_REGISTERED_LESSONS,
) -> dict[str, Any]:
    """Pupils with a weighted average below `low_average` in a subject, or who missed more than
    `missed_share` per cent of their registered lessons: missed (absent, sick, excused) divided
    by the lessons where the register was taken for the pupil, counted only from
    `min_registered` such lessons on (one absence out of one lesson says nothing)."""
    target = await school_target(school_id)
    check_reader(actor, target, names_pupils=True)
    with replica_reads():  # decision 1111: the data may be seconds old
        span = await report_range(school_id, period_id, date_from, date_to)
        marks = await Mark.raw(
            'SELECT "student", "subject", sum("points" * "weight") AS pw, '
            'sum(CASE WHEN "points" IS NULL THEN 0 ELSE "weight" END) AS w FROM "mark" '
            'WHERE "school" = {} AND "lesson_date" >= {} AND "lesson_date" <= {} '
            'AND "deleted_at" IS NULL AND "scale" = {} GROUP BY "student", "subject"',
            school_id,
            span.start,
            span.end,
            "five",
        )
        visits = await AttendanceRecord.raw(
            'SELECT "student", count(*) AS n, '
            "sum(CASE WHEN \"status\" IN ('absent', 'sick', 'excused') THEN 1 ELSE 0 END) "
            "AS missed "
            'FROM "attendance_record" WHERE "school" = {} AND "lesson_date" >= {} '
            'AND "lesson_date" <= {} GROUP BY "student"',
            school_id,
            span.start,
            span.end,
        )
        subjects = await _subject_names(school_id)
        risk: dict[int, dict[str, Any]] = defaultdict(
            lambda: {"low": [], "missed_share": None, "missed": None, "registered": None}
        )
        for r in marks:
            if r["w"] and r["pw"] / r["w"] < low_average:
                risk[r["student"]]["low"].append(
                    {
                        "subject": subjects.get(r["subject"], ""),
                        "average": round(r["pw"] / r["w"], 2),
                    }
                )
        registered = await registered_lessons(school_id, span.start, span.end)
        for r in visits:
            # Records exist mostly for the missing: divide by the lessons the register was taken.
            lessons = max(registered.get(r["student"], 0), r["n"])
            if lessons < min_registered:
                continue
            share = _share(r["missed"], lessons) or 0
            if share > missed_share:
                risk[r["student"]].update(
                    missed_share=share, missed=r["missed"], registered=lessons
                )
        names = await _pupil_names(list(risk))
        pupils = [
            {
                "student_id": s,
                "name": names.get(s, ""),
                "low_subjects": v["low"],
                "missed_share": v["missed_share"],
                "missed_lessons": v["missed"],
                "registered_lessons": v["registered"],
            }
            for s, v in risk.items()
        ]
        pupils.sort(key=lambda p: (-len(p["low_subjects"]), -(p["missed_share"] or 0), p["name"]))
        await record(
            actor,
            AuditAction.READ_PERSONAL,
            object_type="report.at_risk",
            object_id=school_id,
            school_id=school_id,
        )
        return {
            "school": await _school_name(school_id),
            "period": span.label,
            "method": t(
                "reports.at_risk_method",
                average=low_average,
                share=missed_share,
                minimum=min_registered,
            ),
            "pupils": pupils,
        }
