"""What the diary and the marking catalogue really answer decodes into the schemas the OpenAPI
document declares (the week is served as stored bytes, so nothing else checks it)."""

from __future__ import annotations

import msgspec

from backend.journal import schemas
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world, today
from tests.integration.journal.test_sync import op, sync, whole_lesson


async def test_the_diary_answers_what_its_schemas_say(world: Backend) -> None:
    jw = await make_journal_world(world)
    saved = await sync(world, jw.teacher, jw.lessons["today"], whole_lesson(jw), base_version=1)
    assert saved.status_code == 200, saved.text
    remark = {"op_id": op(), "kind": "remark", "student_id": jw.pupils[0], "text": "Молодец"}
    again = await sync(world, jw.teacher, jw.lessons["today"], [remark], base_version=2)
    assert again.status_code == 200, again.text
    pupil = jw.pupils[0]
    mother = await guardian_of(world, pupil)
    base = f"/api/v1/diary/students/{pupil}"

    week = await world.client.get(f"{base}/week?date={today().isoformat()}", headers=mother.headers)
    assert week.status_code == 200, week.text
    decoded = msgspec.json.decode(week.content, type=schemas.DiaryWeek)
    lessons = [x for d in decoded.days for x in d.lessons if x.lesson_id == jw.lessons["today"]]
    assert [m.value for m in lessons[0].marks] == ["5", "4"]
    assert lessons[0].topic == "Дроби" and len(lessons[0].remarks) == 1

    marks = await world.client.get(f"{base}/marks", headers=mother.headers)
    assert marks.status_code == 200, marks.text
    by_subject = msgspec.json.decode(marks.content, type=schemas.DiaryMarks)
    assert [m.value for m in by_subject.subjects[0].marks] == ["5", "4"]

    news = await world.client.get(f"{base}/news", headers=mother.headers)
    assert news.status_code == 200, news.text
    new = msgspec.json.decode(news.content, type=schemas.DiaryNews)
    assert len(new.marks) == 2 and len(new.homework) == 1 and len(new.remarks) == 1

    school = jw.ids["school_a"]
    marking = await world.client.get(
        f"/api/v1/journal/schools/{school}/marking", headers=jw.teacher.headers
    )
    assert marking.status_code == 200, marking.text
    catalog = msgspec.json.decode(marking.content, type=schemas.MarkingCatalog)
    assert catalog.school_id == school and catalog.scales
