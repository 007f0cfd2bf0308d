"""Quick marking: a whole lesson in one call, repeats applied once, stale versions reported
as conflicts, and the rules (teacher scope, marking window, closed period, grade 1)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.audit.tables import AuditEntry
from backend.events.tables import OutboxEvent
from backend.journal.tables import AttendanceRecord, Homework, JournalChange, Mark
from backend.schools.tables import Lesson
from tests.conftest import Backend
from tests.integration.journal.arrange import (
    JournalWorld,
    attendance,
    close_period,
    make_journal_world,
    mark,
    today,
)
from tests.support import SignedIn


def op() -> str:
    return uuid.uuid4().hex


async def sync(
    world: Backend, who: SignedIn, lesson_id: int, ops: list[dict[str, Any]], **body: Any
) -> Any:
    return await world.client.post(
        f"/api/v1/journal/lessons/{lesson_id}/sync",
        json={"operations": ops, **body},
        headers=who.headers,
    )


def whole_lesson(jw: JournalWorld) -> list[dict[str, Any]]:
    p = jw.pupils
    return [
        attendance(op(), p[0]),
        attendance(op(), p[1], "absent", reason="болеет"),
        attendance(op(), p[2], "late", late_minutes=10),
        attendance(op(), p[3]),
        mark(op(), p[0], "5", work_kind="answer"),
        mark(op(), p[0], "4", work_kind="test", comment="устно"),
        mark(op(), p[3], "3"),
        {"op_id": op(), "kind": "topic", "topic": "Дроби"},
        {
            "op_id": op(),
            "kind": "homework",
            "text": "№ 12, 13",
            "due_date": (today() + timedelta(days=2)).isoformat(),
        },
        {"op_id": op(), "kind": "remark", "student_id": p[1], "text": "Не принёс тетрадь"},
    ]


async def test_one_call_saves_a_whole_lesson(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    response = await sync(world, jw.teacher, lesson_id, whole_lesson(jw), base_version=1)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lesson_version"] == 2
    assert body["applied"] == 10 and body["conflicts"] == 0
    sheet = (
        await world.client.get(f"/api/v1/journal/lessons/{lesson_id}", headers=jw.teacher.headers)
    ).json()
    assert sheet["topic"] == "Дроби" and sheet["version"] == 2 and sheet["attendance_taken"]
    assert {a["status"] for a in sheet["attendance"]} == {"present", "absent", "late"}
    assert sorted(m["value"] for m in sheet["marks"]) == ["3", "4", "5"]
    weights = {m["value"]: m["weight"] for m in sheet["marks"]}
    assert weights["4"] == 2 and weights["5"] == 1  # test weighs 2, an answer 1
    assert sheet["homework"][0]["text"] == "№ 12, 13"
    kinds = [e["kind"] for e in await OutboxEvent.select(OutboxEvent.kind)]
    assert kinds.count("mark.created") == 3
    assert "attendance.absent" in kinds and "attendance.late" in kinds
    assert "homework.created" in kinds and "remark.created" in kinds
    # Homework is each pupil's news: one event per pupil of the lesson, naming the pupil.
    homework = await OutboxEvent.select().where(OutboxEvent.kind == "homework.created")
    assert sorted(e["student_id"] for e in homework) == sorted(jw.pupils)
    payloads = [json.loads(e["payload"]) if isinstance(e["payload"], str) else e["payload"]
                for e in homework]  # fmt: skip
    assert [p["student_id"] for p in payloads] == [e["student_id"] for e in homework]
    audit = await AuditEntry.select().where(AuditEntry.object_type == "lesson_journal")
    assert len(audit) == 1 and audit[0]["actor_user_id"] == jw.teacher.user_id


async def test_a_repeated_sync_is_applied_once(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    ops = whole_lesson(jw)
    first = await sync(world, jw.teacher, lesson_id, ops, base_version=1)
    assert first.status_code == 200
    again = await sync(world, jw.teacher, lesson_id, ops, base_version=1)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["applied"] == 0 and body["lesson_version"] == 2
    assert {r["status"] for r in body["results"]} == {"repeat"}
    # The same ids as the first answer: the client can match its offline rows.
    assert [r["id"] for r in body["results"]] == [r["id"] for r in first.json()["results"]]
    assert await Mark.count() == 3
    assert await AttendanceRecord.count() == 4
    assert await OutboxEvent.count().where(OutboxEvent.kind == "mark.created") == 3
    row = await Lesson.select(Lesson.version).where(Lesson.id == lesson_id).first()
    assert row["version"] == 2


async def test_a_stale_version_is_reported_as_a_conflict_with_both_values(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    pupil = jw.pupils[1]
    first = await sync(
        world, jw.teacher, lesson_id, [attendance(op(), pupil, "absent")], base_version=1
    )
    record_version = first.json()["results"][0]["version"]
    # The office corrects the absence to illness (lesson version 2 -> 3).
    office = await sync(
        world,
        jw.coordinator,
        lesson_id,
        [attendance(op(), pupil, "sick", base_version=record_version)],
    )
    assert office.json()["results"][0]["status"] == "applied"
    # The teacher's tablet, still on lesson version 2, sends "late" and a new mark.
    stale_ops = [attendance(op(), pupil, "late", late_minutes=5), mark(op(), pupil, "4")]
    stale = await sync(world, jw.teacher, lesson_id, stale_ops, base_version=2)
    assert stale.status_code == 200, stale.text
    conflict, applied = stale.json()["results"]
    assert conflict["status"] == "conflict"
    assert conflict["server"]["status"] == "sick"
    assert conflict["client"] == {"status": "late", "late_minutes": 5, "reason": ""}
    # Who changed the server's value, and when: the coordinator's correction.
    assert conflict["changed_by"] == {
        "name": "Тестовый Пользователь",
        "role": "Школьный координатор",
    }
    corrected = datetime.fromisoformat(conflict["changed_at"])
    assert abs((datetime.now(UTC) - corrected).total_seconds()) < 60
    assert applied["status"] == "applied"  # the rest of the batch still applies
    # The same batch again (no answer reached the tablet): the conflict, named the same way.
    again = await sync(world, jw.teacher, lesson_id, [stale_ops[0]], base_version=2)
    repeated = again.json()["results"][0]
    assert repeated["status"] == "conflict"
    assert repeated["changed_by"] == conflict["changed_by"]
    assert datetime.fromisoformat(repeated["changed_at"]) == corrected
    row = await AttendanceRecord.select().where(AttendanceRecord.student == pupil).first()
    assert row["status"] == "sick" and row["source"] == "office"
    # The office correction kept the teacher's original in the history.
    history = (
        await JournalChange.select()
        .where((JournalChange.entity == "attendance") & (JournalChange.entity_id == row["id"]))
        .order_by(JournalChange.id)
    )
    assert [(h["action"], h["source"]) for h in history] == [
        ("create", "teacher"),
        ("update", "office"),
    ]
    old, new = (
        json.loads(v) if isinstance(v, str) else v for v in (history[1]["old"], history[1]["new"])
    )
    assert old["status"] == "absent" and new["status"] == "sick"


async def test_an_existing_cell_written_without_a_base_version_is_a_conflict(
    world: Backend,
) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    pupil = jw.pupils[0]
    await sync(world, jw.teacher, lesson_id, [attendance(op(), pupil, "absent")])
    blind = await sync(world, jw.teacher, lesson_id, [attendance(op(), pupil, "present")])
    assert blind.json()["results"][0]["status"] == "conflict"


async def test_a_teacher_writes_only_their_own_lessons(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    ops = [attendance(op(), jw.pupils[0], "absent")]
    refused = await sync(world, jw.other_teacher, lesson_id, ops)
    assert refused.status_code == 403
    assert refused.json()["error"] == "not_your_lesson"
    assert await AttendanceRecord.count() == 0
    # ... unless they replace the teacher of that lesson.
    from backend.schools.tables import Staff

    other_staff = await Staff.select(Staff.id).where(Staff.user_id == jw.other_teacher.user_id)
    await Lesson.update({Lesson.replacement_teacher: other_staff[0]["id"]}).where(
        Lesson.id == lesson_id
    )
    allowed = await sync(world, jw.other_teacher, lesson_id, ops)
    assert allowed.status_code == 200, allowed.text


async def test_a_teacher_of_another_school_does_not_see_the_lesson(world: Backend) -> None:
    from backend.core.rights import Grant, Role, ScopeKind
    from tests.support import sign_in

    jw = await make_journal_world(world)
    stranger = await sign_in(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, jw.ids["school_c"]))
    lesson_id = jw.lessons["today"]
    response = await sync(world, stranger, lesson_id, [attendance(op(), jw.pupils[0])])
    assert response.status_code == 404
    sheet = await world.client.get(f"/api/v1/journal/lessons/{lesson_id}", headers=stranger.headers)
    assert sheet.status_code == 404


async def test_past_the_marking_window_only_the_coordinator_may_write(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["old"]  # 30 days ago; the default window is 14 days
    ops = [mark(op(), jw.pupils[0], "5")]
    refused = await sync(world, jw.teacher, lesson_id, ops)
    assert refused.status_code == 403
    assert refused.json()["error"] == "marking_window_passed"
    assert "14" in refused.json()["message"]
    allowed = await sync(world, jw.coordinator, lesson_id, [mark(op(), jw.pupils[0], "5")])
    assert allowed.status_code == 200, allowed.text
    assert await Mark.count() == 1


async def test_the_window_is_a_school_setting(world: Backend) -> None:
    from backend.schools.tables import School

    jw = await make_journal_world(world)
    await School.update({School.settings: {"marking_window_days": 45}}).where(
        School.id == jw.ids["school_a"]
    )
    allowed = await sync(world, jw.teacher, jw.lessons["old"], [mark(op(), jw.pupils[0], "5")])
    assert allowed.status_code == 200, allowed.text


async def test_a_closed_period_is_locked_even_for_the_coordinator(world: Backend) -> None:
    jw = await make_journal_world(world)
    await close_period(jw, today())
    for who in (jw.teacher, jw.coordinator):
        response = await sync(world, who, jw.lessons["today"], [mark(op(), jw.pupils[0], "5")])
        assert response.status_code == 409
        assert response.json()["error"] == "period_closed"
    assert await Mark.count() == 0


async def test_grade_one_refuses_marks_but_takes_the_register(world: Backend) -> None:
    jw = await make_journal_world(world, grade=1)
    lesson_id = jw.lessons["today"]
    refused = await sync(world, jw.teacher, lesson_id, [mark(op(), jw.pupils[0], "5")])
    assert refused.status_code == 400
    assert refused.json()["message"] == "В 1 классе отметки не выставляются."
    assert await Mark.count() == 0
    ok = await sync(world, jw.teacher, lesson_id, [attendance(op(), jw.pupils[0], "absent")])
    assert ok.status_code == 200


async def test_bad_input_refuses_the_whole_call_and_writes_nothing(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    ops = [attendance(op(), jw.pupils[0], "absent"), mark(op(), jw.pupils[0], "6")]
    response = await sync(world, jw.teacher, lesson_id, ops)
    assert response.status_code == 400
    assert "«6»" in response.json()["message"]
    assert await AttendanceRecord.count() == 0
    late = await sync(world, jw.teacher, lesson_id, [attendance(op(), jw.pupils[0], "late")])
    assert late.status_code == 400
    stranger = await sync(world, jw.teacher, lesson_id, [attendance(op(), 999_999, "absent")])
    assert stranger.status_code == 400
    unknown = await sync(world, jw.teacher, lesson_id, [{"op_id": "x", "kind": "dance"}])
    assert unknown.status_code == 400
    assert await Lesson.select(Lesson.version).where(Lesson.id == lesson_id).first() == {
        "version": 1
    }


async def test_homework_with_a_control_character_or_a_far_due_date_is_refused(
    world: Backend,
) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    nul = await sync(
        world, jw.teacher, lesson_id, [{"op_id": op(), "kind": "homework", "text": "\u0000ab"}]
    )
    assert nul.status_code == 400, nul.text  # PostgreSQL could not even store it
    assert "«" in nul.json()["message"]  # names the field, in Russian
    far = await sync(
        world,
        jw.teacher,
        lesson_id,
        [{"op_id": op(), "kind": "homework", "text": "x", "due_date": "9999-12-31"}],
    )
    assert far.status_code == 400, far.text
    assert "не позже" in far.json()["message"]
    fine = await sync(
        world,
        jw.teacher,
        lesson_id,
        [{"op_id": op(), "kind": "homework", "text": "строка 1\nстрока 2", "due_date": None}],
    )
    assert fine.status_code == 200, fine.text
    assert await Homework.count() == 1


async def test_mark_history_is_kept_and_families_see_it(world: Backend) -> None:
    from tests.integration.journal.arrange import guardian_of

    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    pupil = jw.pupils[0]
    created = await sync(world, jw.teacher, lesson_id, [mark(op(), pupil, "3")], base_version=1)
    result = created.json()["results"][0]
    changed = await sync(
        world,
        jw.teacher,
        lesson_id,
        [
            {
                "op_id": op(),
                "kind": "mark",
                "student_id": pupil,
                "mark_id": result["id"],
                "value": "4",
                "base_version": result["version"],
            }
        ],
    )
    assert changed.json()["results"][0]["status"] == "applied"
    deleted = await sync(
        world,
        jw.teacher,
        lesson_id,
        [{"op_id": op(), "kind": "mark_delete", "mark_id": result["id"], "base_version": 2}],
    )
    assert deleted.json()["results"][0]["status"] == "applied"
    parent = await guardian_of(world, pupil)
    history = await world.client.get(
        f"/api/v1/journal/marks/{result['id']}/history", headers=parent.headers
    )
    assert history.status_code == 200, history.text
    changes = history.json()["changes"]
    assert [c["action"] for c in changes] == ["create", "update", "delete"]
    assert changes[1]["old"]["value"] == "3" and changes[1]["new"]["value"] == "4"
    assert all(c["by"] == {"name": "Тестовый Пользователь", "role": "Учитель"} for c in changes)
    # The mark row stays (soft delete).
    assert await Mark.count() == 1
    other_parent = await guardian_of(world, jw.pupils[1])
    refused = await world.client.get(
        f"/api/v1/journal/marks/{result['id']}/history", headers=other_parent.headers
    )
    assert refused.status_code == 404


async def test_a_homework_file_may_be_larger_than_an_ordinary_request(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    url = f"/api/v1/journal/lessons/{lesson_id}/attachments"
    pdf = b"%PDF-1.4\n" + b"0" * (3 * 2**20)  # 3 MB: more than the API's 1 MB for a request
    files = {"data": ("задание.pdf", pdf, "application/pdf")}
    stored = await world.client.post(url, files=files, headers=jw.teacher.headers)
    assert stored.status_code == 201, stored.text[:300]
    too_big = {"data": ("x.pdf", b"0" * (21 * 2**20), "application/pdf")}
    refused = await world.client.post(url, files=too_big, headers=jw.teacher.headers)
    assert refused.status_code == 413, refused.text[:300]
    assert "20 МБ" in refused.json()["message"]


async def test_a_version_beyond_any_real_one_is_refused(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    huge = await sync(
        world, jw.teacher, lesson_id, [attendance(op(), jw.pupils[0], "absent")], base_version=2**70
    )
    assert huge.status_code == 400, huge.text
    assert huge.json()["details"][0]["field"] == "base_version"
    assert huge.json()["message"] == (
        "Значение поля «версия, с которой начата правка» должно быть не больше 2147483647."
    )
    per_cell = await sync(
        world,
        jw.teacher,
        lesson_id,
        [{**attendance(op(), jw.pupils[0], "absent"), "base_version": -1}],
    )
    assert per_cell.status_code == 400, per_cell.text
    assert per_cell.json()["details"][0]["field"] == "operations[0].base_version"
    assert await AttendanceRecord.count() == 0
    row = await Lesson.select(Lesson.version).where(Lesson.id == lesson_id).first()
    assert row == {"version": 1}
