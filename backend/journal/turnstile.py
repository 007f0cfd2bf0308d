"""Presence from the turnstile (decision 0905): a school that chose it lets the day's first entry
mark its pupils in the journal, with source «турникет» (`turnstile`).

For each lesson that has begun, a pupil of the lesson whose first granted entry that day came
before the lesson's end is marked present (entered before it began) or late by the minutes
after its start. Only where the lesson has no record for the pupil: the insert skips a row that
exists (`ON CONFLICT (lesson, student) DO NOTHING`), so a mark a teacher or the office entered,
before or at the same moment, is never touched. A person's later mark replaces the turnstile's
without a conflict (journal/sync.py). Each record written has its history row (who: nobody,
source `turnstile`, old: none, new: the values). No family alert: the entry already sent one.

Called by the access context's scheduled check (backend/access/absence.py), which knows the
entries; the journal knows the lessons' pupils and their records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from backend.core.db import transaction
from backend.journal.lessons import pupils_on, week_start
from backend.journal.tables import AttendanceRecord, JournalChange
from backend.journal.weeks import bump_weeks

SOURCE = "turnstile"


@dataclass(frozen=True, slots=True)
class BegunLesson:
    id: int
    class_id: int | None
    group_id: int | None
    starts: datetime  # UTC
    ends: datetime  # UTC


def status_for(entered: datetime, lesson: BegunLesson) -> tuple[str, int | None] | None:
    """present, late (minutes), or nothing when the pupil came after the lesson ended."""
    if entered >= lesson.ends:
        return None
    late = int((entered - lesson.starts).total_seconds() // 60)
    if late <= 0:
        return "present", None
    return "late", late


async def mark_from_entries(
    school_id: int,
    day: date,
    lessons: Sequence[BegunLesson],
    first_entries: Mapping[int, datetime],
    now: datetime,
) -> int:
    """Write the turnstile's marks for `lessons` (begun, of one school and day); returns how
    many records were written."""
    if not lessons or not first_entries:
        return 0
    wanted: list[dict[str, object]] = []
    pupils_by_group: dict[tuple[int | None, int | None], list[int]] = {}
    for lesson in lessons:
        key = (lesson.class_id, lesson.group_id)
        if key not in pupils_by_group:
            pupils_by_group[key] = await pupils_on(lesson.class_id, lesson.group_id, day)
        for student in pupils_by_group[key]:
            entered = first_entries.get(student)
            if entered is None:
                continue
            mark = status_for(entered, lesson)
            if mark is None:
                continue
            wanted.append(
                {
                    "lesson": lesson.id,
                    "student": student,
                    "status": mark[0],
                    "late_minutes": mark[1],
                }
            )
    if not wanted:
        return 0
    lesson_ids = sorted({int(str(w["lesson"])) for w in wanted})
    async with transaction():
        taken = await AttendanceRecord.select(
            AttendanceRecord.lesson, AttendanceRecord.student
        ).where(AttendanceRecord.lesson.is_in(lesson_ids))
        have = {(r["lesson"], r["student"]) for r in taken}
        rows = [
            AttendanceRecord(
                lesson=w["lesson"],
                student=w["student"],
                school=school_id,
                lesson_date=day,
                status=w["status"],
                late_minutes=w["late_minutes"],
                reason="",
                source=SOURCE,
                version=1,
                lesson_version=0,  # below any version a teacher's app has seen
                recorded_by=None,
                updated_at=now,
            )
            for w in wanted
            if (w["lesson"], w["student"]) not in have
        ]
        if not rows:
            return 0
        inserted = await (
            AttendanceRecord.insert(*rows)
            .on_conflict(
                target=(AttendanceRecord.lesson, AttendanceRecord.student), action="DO NOTHING"
            )
            .returning(
                AttendanceRecord.id,
                AttendanceRecord.lesson,
                AttendanceRecord.student,
                AttendanceRecord.status,
                AttendanceRecord.late_minutes,
            )
        )
        if inserted:
            await JournalChange.insert(
                *(
                    JournalChange(
                        entity="attendance",
                        entity_id=row["id"],
                        lesson_id=row["lesson"],
                        student_id=row["student"],
                        school_id=school_id,
                        action="create",
                        old=None,
                        new={
                            "status": row["status"],
                            "late_minutes": row["late_minutes"],
                            "reason": "",
                        },
                        source=SOURCE,
                        changed_by=None,
                        changed_at=now,
                    )
                    for row in inserted
                )
            )
            await bump_weeks((row["student"], week_start(day)) for row in inserted)
    return len(inserted)
