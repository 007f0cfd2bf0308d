"""Journal rules at their edges: op ids, final marks, periods, marking days, history, readers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from backend.core.rights import Grant, Role, ScopeKind
from backend.journal.tables import FinalMark, Mark
from backend.schools.tables import SchoolClass, Staff, StudyPeriod, Subject, TeachingAssignment
from tests.conftest import Backend
from tests.integration.journal.arrange import JournalWorld, lesson, make_journal_world, mark, today
from tests.support import SignedIn, sign_in


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


async def staff_of(user_id: int | None) -> int:
    rows = await Staff.select(Staff.id).where(Staff.user_id == user_id)
    return int(rows[0]["id"])


async def other_teachers_lesson(jw: JournalWorld) -> int:
    """A lesson of the same class taught by the other teacher, today (lesson number 2)."""
    return await lesson(
        jw.ids["school_a"],
        jw.class_id,
        jw.subject_id,
        await staff_of(jw.other_teacher.user_id),
        today(),
        number=2,
    )


# ---- 1. op ids are unique per lesson -----------------------------------------------------------


async def test_the_same_op_id_on_another_lesson_is_saved_not_a_repeat(world: Backend) -> None:
    jw = await make_journal_world(world)
    mine, theirs = jw.lessons["today"], await other_teachers_lesson(jw)
    pupil = jw.pupils[0]
    first = await sync(world, jw.teacher, mine, [mark("1", pupil, "5")])
    assert first.status_code == 200, first.text
    second = await sync(world, jw.other_teacher, theirs, [mark("1", pupil, "3")])
    assert second.status_code == 200, second.text
    result = second.json()["results"][0]
    assert result["status"] == "applied"
    assert result["id"] != first.json()["results"][0]["id"]
    values = {
        m["lesson"]: m["value"]
        for m in await Mark.select(Mark.lesson, Mark.value).order_by(Mark.id)
    }
    assert values == {mine: "5", theirs: "3"}
    # The first teacher repeating its own call still gets the stored answer.
    again = await sync(world, jw.teacher, mine, [mark("1", pupil, "5")])
    assert again.json()["results"][0]["status"] == "repeat"
    assert await Mark.count() == 2


async def test_an_op_id_another_user_took_on_this_lesson_is_refused(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id, pupil = jw.lessons["today"], jw.pupils[0]
    await sync(world, jw.teacher, lesson_id, [mark("1", pupil, "5")])
    taken = await sync(world, jw.coordinator, lesson_id, [mark("1", pupil, "2")])
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"] == "op_id_taken"
    assert [m["value"] for m in await Mark.select(Mark.value)] == ["5"]


# ---- 2. final marks only by a teacher of the class and subject, for a period of the grade -------


async def _period(jw: JournalWorld, grades: list[int]) -> int:
    row = StudyPeriod(
        academic_year=jw.year_id,
        kind="half_year" if grades else "quarter",
        number=1,
        name="1 полугодие" if grades else "2 четверть",
        starts_on=today() - timedelta(days=40),
        ends_on=today() + timedelta(days=5),
        grades=grades,
    )
    await row.save()
    return int(row.id)


async def test_final_marks_only_by_who_teaches_the_subject_to_the_class(world: Backend) -> None:
    jw = await make_journal_world(world)
    period = await _period(jw, [])
    url = f"/api/v1/journal/classes/{jw.class_id}/final-marks"
    body = {
        "student_id": jw.pupils[0],
        "subject_id": jw.subject_id,
        "kind": "period",
        "study_period_id": period,
        "value": "5",
    }
    refused = await world.client.post(url, json=body, headers=jw.other_teacher.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "not_your_class"
    assert await FinalMark.count() == 0
    # The lesson teacher of the class may; a teaching assignment in the subject also does.
    ok = await world.client.post(url, json=body, headers=jw.teacher.headers)
    assert ok.status_code == 200, ok.text
    other_subject = Subject(school=jw.ids["school_a"], name="Физика")
    await other_subject.save()
    await TeachingAssignment(
        academic_year=jw.year_id,
        teacher=await staff_of(jw.other_teacher.user_id),
        subject=other_subject.id,
        school_class=jw.class_id,
    ).save()
    physics = {**body, "subject_id": other_subject.id, "value": "4"}
    assigned = await world.client.post(url, json=physics, headers=jw.other_teacher.headers)
    assert assigned.status_code == 200, assigned.text
    # ... but not in the subject they do not teach, even to a class they teach.
    again = await world.client.post(url, json=body, headers=jw.other_teacher.headers)
    assert again.status_code == 403
    # The coordinator may set any.
    office = await world.client.post(
        url, json={**body, "value": "4", "base_version": 1}, headers=jw.coordinator.headers
    )
    assert office.status_code == 200, office.text


async def test_a_period_of_other_grades_or_another_year_is_refused(world: Backend) -> None:
    jw = await make_journal_world(world)  # grade 5
    senior_half = await _period(jw, [10, 11])
    url = f"/api/v1/journal/classes/{jw.class_id}/final-marks"
    body = {
        "student_id": jw.pupils[0],
        "subject_id": jw.subject_id,
        "kind": "period",
        "study_period_id": senior_half,
        "value": "5",
    }
    refused = await world.client.post(url, json=body, headers=jw.coordinator.headers)
    assert refused.status_code == 400, refused.text
    assert "не относится к 5 классу" in refused.json()["message"]
    sheet = await world.client.get(
        f"{url}?subject_id={jw.subject_id}&kind=period&study_period_id={senior_half}",
        headers=jw.coordinator.headers,
    )
    assert sheet.status_code == 400
    from backend.schools.tables import AcademicYear

    other_year = AcademicYear(
        school=jw.ids["school_b"], name="Год", starts_on=today(), ends_on=today()
    )
    await other_year.save()
    foreign = StudyPeriod(
        academic_year=other_year.id,
        kind="quarter",
        number=1,
        name="1 четверть",
        starts_on=today(),
        ends_on=today(),
        grades=[],
    )
    await foreign.save()
    elsewhere = await world.client.post(
        url, json={**body, "study_period_id": foreign.id}, headers=jw.coordinator.headers
    )
    assert elsewhere.status_code == 400
    assert await FinalMark.count() == 0


# ---- 3. nothing but plans before the lesson; nothing on a cancelled lesson ----------------------


async def test_marks_and_attendance_wait_for_the_lesson_but_plans_do_not(world: Backend) -> None:
    from backend.journal.tables import AttendanceRecord
    from backend.schools.tables import Lesson

    jw = await make_journal_world(world)
    next_week = await lesson(
        jw.ids["school_a"], jw.class_id, jw.subject_id, jw.teacher_staff, today() + timedelta(7)
    )
    pupil = jw.pupils[0]
    for ops in (
        [mark(op(), pupil, "5")],
        [{"op_id": op(), "kind": "attendance", "student_id": pupil, "status": "absent"}],
        [{"op_id": op(), "kind": "remark", "student_id": pupil, "text": "Шумел"}],
    ):
        for who in (jw.teacher, jw.coordinator):
            refused = await sync(world, who, next_week, ops)
            assert refused.status_code == 400, refused.text
            assert "ещё не прошёл" in refused.json()["message"]
    assert await Mark.count() == 0 and await AttendanceRecord.count() == 0
    planned = await sync(
        world,
        jw.teacher,
        next_week,
        [
            {"op_id": op(), "kind": "topic", "topic": "Дроби"},
            {"op_id": op(), "kind": "homework", "text": "№ 1"},
        ],
    )
    assert planned.status_code == 200, planned.text
    assert planned.json()["applied"] == 2
    # A cancelled lesson takes neither a topic nor marks.
    await Lesson.update({Lesson.status: "cancelled"}).where(Lesson.id == jw.lessons["today"])
    for ops in (
        [{"op_id": op(), "kind": "topic", "topic": "Дроби"}],
        [mark(op(), pupil, "5")],
    ):
        refused = await sync(world, jw.teacher, jw.lessons["today"], ops)
        assert refused.status_code == 400, refused.text
        assert "Урок отменён" in refused.json()["message"]
    row = await Lesson.select(Lesson.topic).where(Lesson.id == jw.lessons["today"]).first()
    assert row["topic"] == ""


# ---- 4. an update changes only the fields it gives ---------------------------------------------


async def test_changing_a_marks_value_keeps_its_kind_and_comment(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id, pupil = jw.lessons["today"], jw.pupils[0]
    first = await sync(
        world, jw.teacher, lesson_id, [mark(op(), pupil, "5", work_kind="test", comment="устно")]
    )
    created = first.json()["results"][0]
    # The docs' example: no student_id, only the value and the mark's version.
    update = {"op_id": op(), "kind": "mark", "mark_id": created["id"], "value": "4"}
    changed = await sync(world, jw.teacher, lesson_id, [{**update, "base_version": 1}])
    assert changed.status_code == 200, changed.text
    assert changed.json()["results"][0]["status"] == "applied"
    row = await Mark.select(Mark.value, Mark.comment, Mark.weight, Mark.work_kind.code).first()
    assert row == {"value": "4", "comment": "устно", "weight": 2, "work_kind.code": "test"}
    # Only the comment: the value stays; a wrong pupil for the mark is refused.
    comment = {"op_id": op(), "kind": "mark", "mark_id": created["id"], "comment": "письменно"}
    again = await sync(world, jw.teacher, lesson_id, [{**comment, "base_version": 2}])
    assert again.status_code == 200, again.text
    row = await Mark.select(Mark.value, Mark.comment).first()
    assert row == {"value": "4", "comment": "письменно"}
    wrong = {**comment, "op_id": op(), "student_id": jw.pupils[1], "base_version": 3}
    refused = await sync(world, jw.teacher, lesson_id, [wrong])
    assert refused.status_code == 400, refused.text


# ---- 9. a staff read of the diary is "дневник", not "личное дело" -------------------------------


async def test_the_family_sees_a_class_teachers_diary_read_as_a_diary_read(world: Backend) -> None:
    from backend.core.rights import Grant, Role, ScopeKind
    from tests.integration.journal.arrange import guardian_of
    from tests.support import sign_in

    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    mother = await guardian_of(world, pupil)
    class_teacher = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id))
    base = f"/api/v1/diary/students/{pupil}"
    for path in (f"/week?date={today().isoformat()}", "/marks"):
        response = await world.client.get(base + path, headers=class_teacher.headers)
        assert response.status_code == 200, response.text
    reads = await world.client.get(
        f"/api/v1/audit/students/{pupil}/personal-data-reads", headers=mother.headers
    )
    assert reads.status_code == 200, reads.text
    items = reads.json()["items"]
    assert [(i["action"], i["what"]) for i in items] == [("read.diary", "дневник")] * 2


# ---- 7. homework with only a due date shows on the day it is due --------------------------------


async def test_homework_with_only_a_due_date_shows_on_that_day(world: Backend) -> None:
    from tests.integration.journal.arrange import guardian_of

    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    mother = await guardian_of(world, pupil)
    # Given a week ago, due today: today's lesson of the subject shows it as due.
    week_ago = await lesson(
        jw.ids["school_a"], jw.class_id, jw.subject_id, jw.teacher_staff, today() - timedelta(7)
    )
    given = await sync(
        world,
        jw.coordinator,
        week_ago,
        [{"op_id": op(), "kind": "homework", "text": "№ 7", "due_date": today().isoformat()}],
    )
    assert given.status_code == 200, given.text
    week = await world.client.get(
        f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}", headers=mother.headers
    )
    assert week.status_code == 200, week.text
    lessons = {item["lesson_id"]: item for day in week.json()["days"] for item in day["lessons"]}
    assert [h["text"] for h in lessons[jw.lessons["today"]]["homework_due"]] == ["№ 7"]


# ---- 11. the families' mark history names who and the kind of work ------------------------------


async def test_mark_history_names_the_writer_their_role_and_the_kind_of_work(
    world: Backend,
) -> None:
    from tests.integration.journal.arrange import guardian_of

    jw = await make_journal_world(world)
    lesson_id, pupil = jw.lessons["today"], jw.pupils[0]
    created = await sync(world, jw.teacher, lesson_id, [mark(op(), pupil, "3", work_kind="test")])
    mark_id = created.json()["results"][0]["id"]
    office = {"op_id": op(), "kind": "mark", "mark_id": mark_id, "value": "4", "base_version": 1}
    assert (await sync(world, jw.coordinator, lesson_id, [office])).status_code == 200
    parent = await guardian_of(world, pupil)
    history = await world.client.get(
        f"/api/v1/journal/marks/{mark_id}/history", headers=parent.headers
    )
    assert history.status_code == 200, history.text
    first, second = history.json()["changes"]
    assert first["by"] == {"name": "Тестовый Пользователь", "role": "Учитель"}
    assert second["by"]["role"] == "Школьный координатор"
    assert first["new"]["work_kind"] == "Контрольная работа"
    assert second["old"]["work_kind"] == second["new"]["work_kind"] == "Контрольная работа"


# ---- 8. a teacher reads the journal of the classes they teach, not the whole school -------------


async def test_a_teacher_reads_only_lessons_of_classes_they_teach(world: Backend) -> None:
    from backend.core.rights import Grant, Role, ScopeKind
    from backend.schools.tables import SchoolClass
    from tests.support import sign_in

    jw = await make_journal_world(world)
    sheet = f"/api/v1/journal/lessons/{jw.lessons['today']}"
    created = await sync(world, jw.teacher, jw.lessons["today"], [mark(op(), jw.pupils[0], "5")])
    history = f"/api/v1/journal/marks/{created.json()['results'][0]['id']}/history"
    for url in (sheet, history):
        assert (await world.client.get(url, headers=jw.teacher.headers)).status_code == 200
        assert (await world.client.get(url, headers=jw.coordinator.headers)).status_code == 200
        refused = await world.client.get(url, headers=jw.other_teacher.headers)
        assert refused.status_code == 404, refused.text
    # A teaching assignment to the class (any subject) opens the class's lessons.
    physics = Subject(school=jw.ids["school_a"], name="Физика")
    await physics.save()
    await TeachingAssignment(
        academic_year=jw.year_id,
        teacher=await staff_of(jw.other_teacher.user_id),
        subject=physics.id,
        school_class=jw.class_id,
    ).save()
    assert (await world.client.get(sheet, headers=jw.other_teacher.headers)).status_code == 200
    # The class teacher of the class reads it; of another class, not.
    other_class = SchoolClass(
        school=jw.ids["school_a"], academic_year=jw.year_id, grade=6, letter="Б"
    )
    await other_class.save()
    mine = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id))
    theirs = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, int(other_class.id)))
    assert (await world.client.get(sheet, headers=mine.headers)).status_code == 200
    assert (await world.client.get(sheet, headers=theirs.headers)).status_code == 404


# ---- 5. reports honour period_id; the at-risk share needs enough registered lessons -------------


async def test_attendance_completeness_and_at_risk_honour_the_period(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil, school = jw.pupils[0], jw.ids["school_a"]
    absent = {"op_id": op(), "kind": "attendance", "student_id": pupil, "status": "absent"}
    assert (await sync(world, jw.teacher, jw.lessons["today"], [absent])).status_code == 200
    low = mark(op(), pupil, "2")
    assert (await sync(world, jw.coordinator, jw.lessons["old"], [low])).status_code == 200
    old_day = today() - timedelta(days=30)
    period = StudyPeriod(
        academic_year=jw.year_id,
        kind="quarter",
        number=1,
        name="1 четверть",
        starts_on=old_day - timedelta(days=3),
        ends_on=old_day + timedelta(days=3),
        grades=[],
    )
    await period.save()
    base = f"/api/v1/reports/schools/{school}"
    headers = jw.coordinator.headers
    whole = await world.client.get(f"{base}/attendance", headers=headers)
    assert whole.json()["reasons"] != []
    in_period = await world.client.get(f"{base}/attendance?period_id={period.id}", headers=headers)
    assert in_period.status_code == 200, in_period.text
    assert in_period.json()["reasons"] == [] and in_period.json()["period"] == "1 четверть"
    done = await world.client.get(f"{base}/completeness?period_id={period.id}", headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["lessons"] == 1  # the old lesson only, not today's
    risk = await world.client.get(f"{base}/at-risk?period_id={period.id}", headers=headers)
    assert risk.status_code == 200, risk.text
    assert risk.json()["period"] == "1 четверть"
    assert [p["student_id"] for p in risk.json()["pupils"]] == [pupil]
    today_only = f"{base}/at-risk?date_from={today().isoformat()}&date_to={today().isoformat()}"
    assert (await world.client.get(today_only, headers=headers)).json()["pupils"] == []


async def test_at_risk_counts_the_missed_share_only_from_enough_registered_lessons(
    world: Backend,
) -> None:
    jw = await make_journal_world(world)
    pupil, school = jw.pupils[0], jw.ids["school_a"]
    url = f"/api/v1/reports/schools/{school}/at-risk"
    for n in range(10):
        lesson_id = await lesson(
            school, jw.class_id, jw.subject_id, jw.teacher_staff, today(), number=n + 2
        )
        status = "absent" if n < 3 else "present"
        visit = {"op_id": op(), "kind": "attendance", "student_id": pupil, "status": status}
        assert (await sync(world, jw.teacher, lesson_id, [visit])).status_code == 200
        pupils = (await world.client.get(url, headers=jw.coordinator.headers)).json()["pupils"]
        if n < 9:  # 1 of 1, 2 of 2, ... 3 of 9 registered: too few lessons to count
            assert pupils == [], (n, pupils)
    body = (await world.client.get(url, headers=jw.coordinator.headers)).json()
    assert body["pupils"][0]["missed_share"] == 30.0
    assert body["pupils"][0]["missed_lessons"] == 3
    assert body["pupils"][0]["registered_lessons"] == 10
    assert "не меньше 10" in body["method"]


async def test_missed_shares_divide_by_the_lessons_whose_register_was_taken(
    world: Backend,
) -> None:
    """Teachers mark only who is missing: a pupil with no record attended."""
    jw = await make_journal_world(world)
    quiet, absentee, late = jw.pupils[0], jw.pupils[1], jw.pupils[2]
    school = jw.ids["school_a"]
    for n in range(10):
        lesson_id = await lesson(
            school, jw.class_id, jw.subject_id, jw.teacher_staff, today(), number=n + 2
        )
        if n < 2:
            visit = {"op_id": op(), "kind": "attendance", "student_id": absentee, "status": "sick"}
        else:
            visit = {
                "op_id": op(),
                "kind": "attendance",
                "student_id": late,
                "status": "late",
                "late_minutes": 5,
            }
        assert (await sync(world, jw.teacher, lesson_id, [visit])).status_code == 200
    # An eleventh lesson whose register nobody took counts for nobody.
    await lesson(school, jw.class_id, jw.subject_id, jw.teacher_staff, today(), number=1)
    url = f"/api/v1/reports/schools/{school}/attendance"
    body = (await world.client.get(url, headers=jw.coordinator.headers)).json()
    rows = {p["student_id"]: p for p in body["pupils"]}
    assert (rows[absentee]["lessons"], rows[absentee]["missed_share"]) == (10, 20.0)
    assert (rows[late]["lessons"], rows[late]["missed_share"]) == (10, 0.0)
    assert (rows[quiet]["lessons"], rows[quiet]["missed_share"]) == (10, 0.0)
    risk = await world.client.get(
        f"/api/v1/reports/schools/{school}/at-risk", headers=jw.coordinator.headers
    )
    assert risk.json()["pupils"] == []  # 20 % is not over the 20 % line


# ---- 6. report files are rendered off the event loop ---------------------------------------------


async def test_a_long_pdf_report_does_not_hold_up_other_requests(world: Backend) -> None:
    import asyncio
    import time

    from backend.schools.tables import Lesson

    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    start = today() - timedelta(days=20)
    lessons = [
        Lesson(
            school=school,
            date=start + timedelta(days=n // 200),
            lesson_number=n % 8 + 1,
            school_class=jw.class_id,
            subject=jw.subject_id,
            teacher=jw.teacher_staff,
        )
        for n in range(4000)  # enough pages to take well over a second to draw
    ]
    for chunk in range(0, len(lessons), 1000):  # under PostgreSQL's 32,767 parameters
        await Lesson.insert(*lessons[chunk : chunk + 1000])
    url = f"/api/v1/reports/schools/{school}/completeness?format=pdf&date_from={start}"
    done: dict[str, float] = {}

    async def pdf() -> None:
        response = await world.client.get(url, headers=jw.coordinator.headers)
        assert response.status_code == 200, response.text
        assert response.content.startswith(b"%PDF")
        done["pdf"] = time.perf_counter()

    async def health() -> None:
        await asyncio.sleep(0.3)  # the report is being rendered by now
        response = await world.client.get("/health")
        assert response.status_code == 200
        done["health"] = time.perf_counter()

    began = time.perf_counter()
    await asyncio.gather(pdf(), health())
    assert done["pdf"] - began > 0.5, "the report was too small to tell"
    assert done["health"] < done["pdf"]


# ---- 10. the diary shows timetable changes at once -----------------------------------------------


async def test_the_diary_shows_a_cancelled_lesson_and_a_new_room_at_once(world: Backend) -> None:
    from backend.schools.tables import Room
    from tests.integration.journal.arrange import guardian_of

    jw = await make_journal_world(world)
    pupil, school, lesson_id = jw.pupils[0], jw.ids["school_a"], jw.lessons["today"]
    mother = await guardian_of(world, pupil)
    week = f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}"

    async def diary_lesson() -> tuple[str, dict[str, Any]]:
        response = await world.client.get(week, headers=mother.headers)
        assert response.status_code == 200, response.text
        items = [i for d in response.json()["days"] for i in d["lessons"]]
        return response.headers["etag"], next(i for i in items if i["lesson_id"] == lesson_id)

    etag, before = await diary_lesson()
    assert before["status"] == "scheduled" and before["room"] is None
    cached = await world.client.get(week, headers={**mother.headers, "If-None-Match": etag})
    assert cached.status_code == 304  # the week is cached now
    room = Room(school=school, name="Каб. 12")
    await room.save()
    base = f"/api/v1/schools/{school}/lessons/{lesson_id}"
    moved = await world.client.post(
        f"{base}/room", json={"room_id": room.id}, headers=jw.coordinator.headers
    )
    assert moved.status_code == 200, moved.text
    again = await world.client.get(week, headers={**mother.headers, "If-None-Match": etag})
    assert again.status_code == 200
    etag, after = await diary_lesson()
    assert after["room"] == "Каб. 12"
    cancelled = await world.client.post(
        f"{base}/cancel", json={"reason": "болезнь учителя"}, headers=jw.coordinator.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    _, last = await diary_lesson()
    assert last["status"] == "cancelled"


# ---- the work kinds and scales a school marks with -----------------------------------------------


async def test_the_marking_catalogue_lists_work_kinds_and_scales_in_russian(
    world: Backend,
) -> None:
    from backend.core.rights import Grant, Role, ScopeKind
    from tests.support import sign_in

    jw = await make_journal_world(world)
    url = f"/api/v1/journal/schools/{jw.ids['school_a']}/marking"
    response = await world.client.get(url, headers=jw.teacher.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    kinds = {k["code"]: k for k in body["work_kinds"]}
    assert kinds["test"] == {"code": "test", "name": "Контрольная работа", "weight": 2}
    assert kinds["answer"]["name"] == "Ответ на уроке"
    scales = {s["code"]: s for s in body["scales"]}
    assert scales["five"]["symbols"] == ["1", "2", "3", "4", "5"]
    assert scales["pass_fail"]["name"] == "Зачёт / незачёт"
    assert scales["pass_fail"]["in_averages"] is False
    assert body["default_scale"] == "five" and body["unmarked_grades"] == [1]
    # A code from the list is what the sync takes.
    ok = await sync(
        world, jw.teacher, jw.lessons["today"], [mark(op(), jw.pupils[0], "5", work_kind="test")]
    )
    assert ok.json()["results"][0]["status"] == "applied"
    stranger = await sign_in(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, jw.ids["school_c"]))
    assert (await world.client.get(url, headers=stranger.headers)).status_code == 404


async def test_final_mark_sheet_is_read_by_who_reads_the_class_journal(world: Backend) -> None:
    """The sheet follows decisions 0351/0352: the subject's teachers of the class, the class
    teacher and the coordinator read it; another teacher of the school (or of another subject
    in this class), the school admin and the secretary get 403 in Russian with no names or
    details; a teacher of another school gets 404."""
    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    url = f"/api/v1/journal/classes/{jw.class_id}/final-marks?subject_id={jw.subject_id}&kind=year"
    class_teacher = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id))
    for who in (jw.teacher, jw.coordinator, class_teacher):
        allowed = await world.client.get(url, headers=who.headers)
        assert allowed.status_code == 200, allowed.text
        assert len(allowed.json()["rows"]) == len(jw.pupils)

    def refused_plainly(response: Any) -> None:
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["error"] == "not_your_class"
        assert body["message"] == (
            "Итоговые отметки класса видят учителя этого предмета в классе, "
            "классный руководитель и завуч."
        )
        assert not body.get("details")
        assert "Ученик" not in response.text

    refused_plainly(await world.client.get(url, headers=jw.other_teacher.headers))
    # Teaching the class another subject does not open this subject's sheet.
    physics = Subject(school=school, name="Физика")
    await physics.save()
    await TeachingAssignment(
        academic_year=jw.year_id,
        teacher=await staff_of(jw.other_teacher.user_id),
        subject=physics.id,
        school_class=jw.class_id,
    ).save()
    refused_plainly(await world.client.get(url, headers=jw.other_teacher.headers))
    own = url.replace(f"subject_id={jw.subject_id}", f"subject_id={physics.id}")
    assert (await world.client.get(own, headers=jw.other_teacher.headers)).status_code == 200
    # The school admin and the secretary do not read it (as lesson sheets, decision 0352).
    for grant in (
        Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school),
        Grant(Role.SECRETARY, ScopeKind.SCHOOL, school),
    ):
        who = await sign_in(world, grant)
        refused_plainly(await world.client.get(url, headers=who.headers))
    # The class teacher of another class and a teacher of another school: the class is outside
    # their scope, so it does not exist for them (404).
    class_b = SchoolClass(school=school, academic_year=jw.year_id, grade=5, letter="Б")
    await class_b.save()
    for grant in (
        Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, class_b.id),
        Grant(Role.TEACHER, ScopeKind.SCHOOL, jw.ids["school_b"]),
    ):
        who = await sign_in(world, grant)
        hidden = await world.client.get(url, headers=who.headers)
        assert hidden.status_code == 404 and "Ученик" not in hidden.text
        assert not hidden.json().get("details")
