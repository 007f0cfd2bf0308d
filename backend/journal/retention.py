"""The journal's retention (`backend.ops.retention` applies the rules): what a lesson held
(marks, attendance, topics and records, homework with its files and ticks, remarks, the
history of those changes, applied sync operations, diary projections, illness reports) goes
once its date is before `content_before`; final marks and their history go once they were
last set before `final_marks_before`. Lessons themselves are the timetable's and stay."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from backend.core.db import transaction
from backend.core.purge import CHUNK, purge_rows
from backend.core.storage import Storage
from backend.journal.tables import (
    Attachment,
    AttendanceRecord,
    DiaryWeek,
    FinalMark,
    Homework,
    HomeworkDone,
    IllnessReport,
    JournalChange,
    LessonRecord,
    Mark,
    Remark,
    SyncOperation,
)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def _purge_homework(before: date, storage: Storage, *, dry_run: bool) -> dict[str, int]:
    old = Homework.lesson_date < before
    if dry_run:
        old_ids = Homework.select(Homework.id).where(old)
        return {
            "homework": await Homework.count().where(old),
            "homework_done": await HomeworkDone.count().where(HomeworkDone.homework.is_in(old_ids)),
            "attachment": await Attachment.count().where(Attachment.homework.is_in(old_ids)),
        }
    counts = {"homework": 0, "homework_done": 0, "attachment": 0}
    while True:
        async with transaction():
            rows = await Homework.select(Homework.id).where(old).limit(CHUNK)
            ids = [row["id"] for row in rows]
            if not ids:
                return counts
            files = await Attachment.select(Attachment.id, Attachment.storage_key).where(
                Attachment.homework.is_in(ids)
            )
            done = await HomeworkDone.count().where(HomeworkDone.homework.is_in(ids))
            await HomeworkDone.delete().where(HomeworkDone.homework.is_in(ids))
            if files:
                await Attachment.delete().where(Attachment.id.is_in([f["id"] for f in files]))
            await Homework.delete().where(Homework.id.is_in(ids))
        for one in files:  # after the commit: a file is never gone while its row stays
            await storage.delete(one["storage_key"])
        counts["homework"] += len(ids)
        counts["homework_done"] += int(done)
        counts["attachment"] += len(files)


async def purge(
    content_before: date, final_marks_before: date, storage: Storage, *, dry_run: bool
) -> dict[str, int]:
    """Rows deleted (or, `dry_run`, that would be) per table."""
    since = _midnight(content_before)
    counts = {
        "mark": await purge_rows(Mark, Mark.lesson_date < content_before, dry_run=dry_run),
        "attendance_record": await purge_rows(
            AttendanceRecord, AttendanceRecord.lesson_date < content_before, dry_run=dry_run
        ),
        "lesson_record": await purge_rows(
            LessonRecord, LessonRecord.lesson_date < content_before, dry_run=dry_run
        ),
        "remark": await purge_rows(Remark, Remark.lesson_date < content_before, dry_run=dry_run),
    }
    counts.update(await _purge_homework(content_before, storage, dry_run=dry_run))
    counts["journal_change"] = await purge_rows(
        JournalChange,
        (JournalChange.entity != "final_mark") & (JournalChange.changed_at < since),
        dry_run=dry_run,
    )
    counts["journal_change"] += await purge_rows(
        JournalChange,
        (JournalChange.entity == "final_mark")
        & (JournalChange.changed_at < _midnight(final_marks_before)),
        dry_run=dry_run,
    )
    counts["sync_operation"] = await purge_rows(
        SyncOperation, SyncOperation.created_at < since, dry_run=dry_run
    )
    counts["diary_week"] = await purge_rows(
        DiaryWeek, DiaryWeek.week_start < content_before, dry_run=dry_run
    )
    counts["illness_report"] = await purge_rows(
        IllnessReport, IllnessReport.date_to < content_before, dry_run=dry_run
    )
    counts["final_mark"] = await purge_rows(
        FinalMark, FinalMark.updated_at < _midnight(final_marks_before), dry_run=dry_run
    )
    return counts
