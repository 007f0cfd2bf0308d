"""The retention rules (backend/ops/retention.py): a dry run counts exactly what a purge then
deletes; nothing a rule still keeps goes, to the day; the files of purged homework go with
their rows; the purge is written to the audit log; `parta purge --dry-run` prints the report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.audit.tables import AuditEntry
from backend.core.storage import LocalStorage
from backend.events.tables import OutboxEvent
from backend.journal.tables import (
    Attachment,
    AttendanceRecord,
    FinalMark,
    Homework,
    JournalChange,
    LessonRecord,
    Mark,
    Remark,
    SyncOperation,
)
from backend.messaging.tables import Delivery, Notification
from backend.ops.retention import cutoffs, purge
from tests.conftest import Backend
from tests.integration.journal.arrange import attendance, make_journal_world, mark
from tests.support import parta

NOW = datetime.now(UTC)


async def _lesson_content(world: Backend) -> tuple[int, int, LocalStorage, str]:
    """Two lessons with marks, attendance, topics, homework with a file, remarks; returns
    the lesson to be aged, the one kept, the storage and the file's key."""
    jw = await make_journal_world(world, pupils=3)
    storage = LocalStorage(world.settings.media_root)
    key = ""
    for name in ("old", "today"):
        lesson = jw.lessons[name]
        p = jw.pupils
        ops = [
            attendance(f"{name}-a0", p[0], "absent"),
            attendance(f"{name}-a1", p[1]),
            mark(f"{name}-m0", p[1], "5"),
            mark(f"{name}-m1", p[2], "4"),
            {"op_id": f"{name}-t", "kind": "topic", "topic": "Дроби"},
            {"op_id": f"{name}-h", "kind": "homework", "text": "№ 1"},
            {"op_id": f"{name}-r", "kind": "remark", "student_id": p[0], "text": "Опоздал"},
        ]
        saved = await world.client.post(
            f"/api/v1/journal/lessons/{lesson}/sync",
            json={"operations": ops, "base_version": 1},
            # the older lesson is past the teacher's marking window: the coordinator writes it
            headers=(jw.coordinator if name == "old" else jw.teacher).headers,
        )
        assert saved.status_code == 200, saved.text
        homework = await Homework.select(Homework.id).where(Homework.lesson == lesson).first()
        assert homework is not None
        key = await storage.save(b"%PDF-1.4 task", suffix="pdf")
        await Attachment(
            school=jw.ids["school_a"],
            homework=homework["id"],
            storage_key=key,
            file_name=f"{name}.pdf",
            content_type="application/pdf",
            size=13,
            created_at=NOW,
        ).save()
        if name == "old":
            old_key = key
    await world.app.state.diary_weeks.settled()
    return jw.lessons["old"], jw.lessons["today"], storage, old_key


async def test_a_dry_run_counts_what_the_purge_deletes_and_keeps_the_rest(world: Backend) -> None:
    old_lesson, kept_lesson, storage, old_file = await _lesson_content(world)
    limits = cutoffs(world.settings, NOW)
    gone_day = limits.journal - timedelta(days=1)  # the last day the rule no longer keeps
    gone_at = datetime.combine(gone_day, datetime.min.time(), tzinfo=UTC)
    # Age the first lesson's content to the day before the journal's limit ...
    for table in (Mark, AttendanceRecord, LessonRecord, Remark, Homework):
        await table.update({table.lesson_date: gone_day}).where(table.lesson == old_lesson)
    await JournalChange.update({JournalChange.changed_at: gone_at}).where(
        JournalChange.lesson_id == old_lesson
    )
    await SyncOperation.update({SyncOperation.created_at: gone_at}).where(
        SyncOperation.lesson_id == old_lesson
    )
    # ... the second lesson's to the limit itself, which the rule still keeps.
    for table in (Mark, AttendanceRecord, LessonRecord, Remark, Homework):
        await table.update({table.lesson_date: limits.journal}).where(table.lesson == kept_lesson)
    # Deliveries and the audit log: one row a second past each limit, one a second before.
    first_delivery = await Delivery.count()
    first_audit = await AuditEntry.count()
    around = [limits.deliveries - timedelta(seconds=1), limits.deliveries + timedelta(seconds=1)]
    for number, (at, tag) in enumerate(zip(around, ("old", "new"), strict=True), start=900):
        notification = Notification(
            event_id=number, user_id=1, kind="mark.created", title=tag, body="", created_at=at
        )
        await notification.save()
        await Delivery(
            notification_id=notification.id, event_id=number, user_id=1, channel="push",
            created_at=at, updated_at=at,
        ).save()  # fmt: skip
        await OutboxEvent(kind="mark.created", occurred_at=at, published_at=at).save()
    await OutboxEvent(kind="mark.created", occurred_at=gone_at, published_at=None).save()
    for at in (limits.audit - timedelta(seconds=1), limits.audit + timedelta(seconds=1)):
        await AuditEntry(at=at, action="read.personal_file").save()
    # Final marks: one last set before their limit, one after.
    final_gone = datetime.combine(limits.final_marks, datetime.min.time(), tzinfo=UTC)
    marks = await Mark.select(Mark.student, Mark.subject).limit(1)
    for year, at in enumerate(
        (final_gone - timedelta(seconds=1), final_gone + timedelta(seconds=1))
    ):
        await FinalMark(
            student=marks[0]["student"], subject=marks[0]["subject"], school=1,
            academic_year=year, kind="year", scale="five", value="5", updated_at=at,
        ).save()  # fmt: skip

    counted = await Mark.count(), await Homework.count(), await AuditEntry.count()
    _, report = await purge(world.settings, storage, now=NOW, dry_run=True)
    assert (await Mark.count(), await Homework.count(), await AuditEntry.count()) == counted
    old_changes = await JournalChange.count().where(JournalChange.lesson_id == old_lesson)
    assert old_changes > 0
    expected = {
        "mark": 2,
        "attendance_record": 2,
        "lesson_record": 1,
        "remark": 1,
        "homework": 1,
        "homework_done": 0,
        "attachment": 1,
        "journal_change": old_changes,
        "sync_operation": 7,
        "diary_week": 0,
        "illness_report": 0,
        "final_mark": 1,
        "delivery": 1,
        "notification": 1,
        "outbox_event": 1,
        "audit_entry": 1,
    }
    assert report == expected

    _, done = await purge(world.settings, storage, now=NOW)
    assert done == expected
    assert await Mark.count().where(Mark.lesson == old_lesson) == 0
    assert await Mark.count().where(Mark.lesson == kept_lesson) == 2
    assert await Homework.count().where(Homework.lesson == kept_lesson) == 1
    assert await Attachment.count() == 1
    assert not (world.settings.media_root / old_file).exists()
    assert await Notification.select(Notification.title) == [{"title": "new"}]
    assert await Delivery.count() == first_delivery + 1
    assert (
        await OutboxEvent.count().where(OutboxEvent.published_at.is_null()) >= 1
    )  # never relayed: kept
    assert await FinalMark.count() == 1
    logged = await AuditEntry.select(AuditEntry.details).where(
        AuditEntry.action == "retention.purged"
    )
    assert len(logged) == 1
    assert await AuditEntry.count() == first_audit + 1 + 1  # the newer entry and the purge's own

    _, again = await purge(world.settings, storage, now=NOW)
    assert sum(again.values()) == 0  # nothing left to purge, and no second audit entry
    assert await AuditEntry.count().where(AuditEntry.action == "retention.purged") == 1


async def test_the_command_prints_the_dry_run_report(world: Backend) -> None:
    await make_journal_world(world, pupils=2)
    done = await asyncio.to_thread(parta, world, "purge", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "пробный запуск" in done.stdout
    assert "Отметки" in done.stdout and "Записи журнала аудита" in done.stdout
