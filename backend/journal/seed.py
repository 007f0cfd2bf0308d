"""Demo journal: a term of realistic marks, absences, topics and homework for a school's
lessons that have already taken place (today's only once they have begun on the school's
clock, each mark and homework dated when its lesson ended). `backend.seed` calls `fill_term`
after the timetable has generated lessons; with no lessons it does nothing.

Seed rows are written in bulk as facts that already happened: no outbox events (the demo would
otherwise send a term's worth of notifications), no history rows beyond the rows themselves, and
attendance rows only for pupils who were not present (the lesson record says the register was
taken), which keeps `parta demo` quick.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.core.days import DEFAULT_TIME_ZONE
from backend.core.db import transaction
from backend.core.errors import ValidationFailed
from backend.journal.bulk import insert_rows
from backend.journal.lessons import students_of_class
from backend.journal.scales import scale_for
from backend.journal.tables import AttendanceRecord, Homework, LessonRecord, Mark
from backend.journal.work_kinds import work_kinds_of
from backend.schools.reads import BellSchedule, Lesson, LessonPlan, School, StudyGroupMember
from backend.schools.timetable import services as timetable

TOPICS = (
    "Повторение изученного",
    "Введение в тему",
    "Решение задач",
    "Практическая работа",
    "Самостоятельная работа",
    "Разбор ошибок",
    "Обобщение и систематизация",
    "Контрольная работа",
)
HOMEWORK = ("Параграф {n}, вопросы 1–5", "Упражнения {n}–{m}", "№ {n}, {m}", "Подготовить пересказ")
# A reason that fits the kind of absence: an illness is not «семейные обстоятельства».
REASONS = {
    "sick": ("", "ОРВИ", "простуда", "справка от врача"),
    "excused": ("семейные обстоятельства", "соревнования", "заявление родителей"),
    "absent": ("",),  # unexcused: no reason given
}


@dataclass
class FillResult:
    lessons: int = 0
    marks: int = 0
    absences: int = 0
    homework: int = 0


def _value(rng: random.Random, scale_code: str) -> tuple[str, float | None]:
    if scale_code == "pass_fail":
        return ("зач", None) if rng.random() < 0.93 else ("незач", None)
    r = rng.random()
    five = 5 if r < 0.45 else 4 if r < 0.8 else 3 if r < 0.96 else 2
    if scale_code == "ten":
        ten = min(10, five * 2 - rng.randint(0, 1))
        return str(ten), float(ten)
    if scale_code == "hundred":
        hundred = min(100, five * 20 - rng.randint(0, 15))
        return str(hundred), float(hundred)
    return str(five), float(five)


async def fill_term(
    school_id: int,
    *,
    weeks: int = 9,
    until: date | None = None,
    seed: int = 2026,
    now: datetime | None = None,
) -> FillResult:
    """Fill the journal of every scheduled lesson of the school in the `weeks` before `until`
    (today by default) that has no journal yet and has begun by `now` on the school's clock (a
    lesson of today that starts later is left to its teacher). Class lists are taken once per
    class and group (as at the end of the term): demo data, not a book-of-movement exercise."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    now = now or datetime.now(UTC)
    school = (
        await School.select(School.settings, School.time_zone).where(School.id == school_id).first()
    )
    zone = ZoneInfo((school or {}).get("time_zone") or DEFAULT_TIME_ZONE)
    local_now = now.astimezone(zone)
    end = min(until, local_now.date()) if until else local_now.date()
    start = end - timedelta(weeks=weeks)
    bells = {
        (r["shift"], r["lesson_number"]): (r["starts_at"], r["ends_at"])
        for r in await BellSchedule.select(
            BellSchedule.shift,
            BellSchedule.lesson_number,
            BellSchedule.starts_at,
            BellSchedule.ends_at,
        ).where(BellSchedule.school == school_id)
    }

    def lesson_times(lesson: dict[str, Any]) -> tuple[datetime, datetime]:
        """When the lesson began and ended (UTC), by the bells of its class's shift; without
        a bell, its day (the journal's own rule: marks on the lesson's day), ended by noon."""
        shift = lesson["school_class.shift"] or lesson["study_group.school_class.shift"] or 1
        begins, ends = bells.get((shift, lesson["lesson_number"]), (time(0), time(12)))
        day = lesson["date"]
        return (
            datetime.combine(day, begins, zone).astimezone(UTC),
            datetime.combine(day, ends, zone).astimezone(UTC),
        )

    lessons = (
        await Lesson.select(
            Lesson.id,
            Lesson.date,
            Lesson.lesson_number,
            Lesson.school_class,
            Lesson.study_group,
            Lesson.subject,
            Lesson.school_class.grade,
            Lesson.study_group.school_class.grade,  # type: ignore[union-attr]
            Lesson.school_class.shift,
            Lesson.study_group.school_class.shift,  # type: ignore[union-attr]
        )
        .where(
            (Lesson.school == school_id)
            & (Lesson.date >= start)
            & (Lesson.date <= end)
            & (Lesson.status == "scheduled")
        )
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
    )
    done = {
        r["lesson"]
        for r in await LessonRecord.select(LessonRecord.lesson).where(
            LessonRecord.school == school_id
        )
    }
    settings = school["settings"] if school else {}
    if isinstance(settings, str):
        settings = json.loads(settings or "{}")
    kinds = await work_kinds_of(school_id)
    plans: dict[int, list[str]] = {}
    for plan in await LessonPlan.select(LessonPlan.subject, LessonPlan.topic).order_by(
        LessonPlan.number
    ):
        plans.setdefault(plan["subject"], []).append(plan["topic"])
    rosters: dict[tuple[str, int], list[int]] = {}

    async def roster(lesson: dict[str, Any]) -> list[int]:
        if lesson["study_group"]:
            key = ("group", lesson["study_group"])
            if key not in rosters:
                rows = await StudyGroupMember.select(StudyGroupMember.student).where(
                    StudyGroupMember.group == lesson["study_group"]
                )
                rosters[key] = sorted({r["student"] for r in rows})
            return rosters[key]
        if not lesson["school_class"]:
            return []
        key = ("class", lesson["school_class"])
        if key not in rosters:
            rosters[key] = await students_of_class(lesson["school_class"], end)
        return rosters[key]

    result = FillResult()
    counters: dict[int, int] = {}
    for chunk_start in range(0, len(lessons), 500):
        marks: list[dict[str, Any]] = []
        visits: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        homework: list[dict[str, Any]] = []
        topics: list[tuple[int, str]] = []
        for lesson in lessons[chunk_start : chunk_start + 500]:
            if lesson["id"] in done:
                continue
            began, ended = lesson_times(lesson)
            if began > now:
                continue  # today's later lesson: not taught yet
            taught = min(ended, now)  # when its marks and homework were written
            pupils = await roster(lesson)
            if not pupils:
                continue
            result.lessons += 1
            lesson_date, subject = lesson["date"], lesson["subject"]
            planned = plans.get(subject)
            n = counters[subject] = counters.get(subject, 0) + 1
            topic = planned[n % len(planned)] if planned else rng.choice(TOPICS)
            topics.append((lesson["id"], topic))
            records.append(
                dict(
                    lesson=lesson["id"],
                    school=school_id,
                    lesson_date=lesson_date,
                    attendance_taken_at=taught,
                    topic_source="plan" if planned else "typed",
                    topic_version=1,
                    updated_at=taught,
                )
            )
            for pupil in pupils:
                r = rng.random()
                status = (
                    "absent"
                    if r < 0.03
                    else "sick"
                    if r < 0.06
                    else "excused"
                    if r < 0.07
                    else "late"
                    if r < 0.08
                    else "present"
                )
                if status == "present":
                    continue  # the register is taken (`lesson_record`): no row means present
                result.absences += 1
                visits.append(
                    dict(
                        lesson=lesson["id"],
                        student=pupil,
                        school=school_id,
                        lesson_date=lesson_date,
                        status=status,
                        late_minutes=rng.randint(3, 15) if status == "late" else None,
                        reason=rng.choice(REASONS.get(status, ("",))),
                        source="teacher",
                        version=1,
                        lesson_version=1,
                        updated_at=taught,
                    )
                )
            grade = lesson["school_class.grade"] or lesson["study_group.school_class.grade"]
            try:
                scale = scale_for(settings, grade, subject)
            except ValidationFailed:
                scale = None  # grade 1: no marks
            if scale is not None:
                test_day = rng.random() < 0.08
                kind = kinds["test" if test_day else "answer"]
                for pupil in rng.sample(pupils, k=len(pupils) if test_day else min(4, len(pupils))):
                    value, points = _value(rng, scale.code)
                    marks.append(
                        dict(
                            lesson=lesson["id"],
                            student=pupil,
                            school=school_id,
                            subject=subject,
                            lesson_date=lesson_date,
                            work_kind=kind.id,
                            weight=kind.weight,
                            scale=scale.code,
                            value=value,
                            points=points,
                            comment="",
                            version=1,
                            lesson_version=1,
                            created_at=taught,
                            updated_at=taught,
                        )
                    )
            if rng.random() < 0.75:
                n = rng.randint(1, 40)
                homework.append(
                    dict(
                        lesson=lesson["id"],
                        school=school_id,
                        subject=subject,
                        lesson_date=lesson_date,
                        text=rng.choice(HOMEWORK).format(n=n, m=n + rng.randint(1, 4)),
                        due_date=lesson_date + timedelta(days=rng.choice((1, 2, 7))),
                        attachments=[],
                        version=1,
                        lesson_version=1,
                        created_at=taught,
                        updated_at=taught,
                    )
                )
        async with transaction():
            await insert_rows(LessonRecord, records)
            await insert_rows(AttendanceRecord, visits)
            await insert_rows(Mark, marks)
            await insert_rows(Homework, homework)
            await timetable.set_topics(topics)
        result.marks += len(marks)
        result.homework += len(homework)
    return result
