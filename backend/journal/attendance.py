"""The day's attendance as other contexts read it (access control's checks): who was excused,
who was marked absent in which lesson. Reads only; the journal's own services write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from backend.journal.tables import AttendanceRecord

EXCUSED_STATUSES = ("sick", "excused")


async def excused_on(student_ids: Iterable[int], day: date) -> set[int]:
    """Pupils with a reason for missing lessons that day (sick or excused in any lesson)."""
    wanted = sorted(set(student_ids))
    if not wanted:
        return set()
    rows = await AttendanceRecord.select(AttendanceRecord.student).where(
        AttendanceRecord.student.is_in(wanted)
        & (AttendanceRecord.lesson_date == day)
        & AttendanceRecord.status.is_in(list(EXCUSED_STATUSES))
    )
    return {r["student"] for r in rows}


async def absences_on(school_id: int, day: date) -> list[dict[str, Any]]:
    """Pupils marked absent («н») in a lesson of the school that day: student and lesson ids."""
    rows = await AttendanceRecord.select(
        AttendanceRecord.student.as_alias("student_id"),
        AttendanceRecord.lesson.as_alias("lesson_id"),
    ).where(
        (AttendanceRecord.school == school_id)
        & (AttendanceRecord.lesson_date == day)
        & (AttendanceRecord.status == "absent")
    )
    return list(rows)
