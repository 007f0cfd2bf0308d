"""Presence in the journal from the turnstile (a school's choice, off by default): the day's
first entry marks the pupil present or late in the lessons that have begun, source
«турникет», with its history, and never over a teacher's mark; a teacher's later mark
replaces the turnstile's without a conflict."""

from __future__ import annotations

import uuid

from backend.access.absence import journal_presence
from backend.journal.tables import AttendanceRecord, JournalChange
from tests.conftest import Backend
from tests.integration.access.arrange import BASE
from tests.integration.access.test_checks import at, school_day
from tests.integration.journal.arrange import attendance


def op() -> str:
    return uuid.uuid4().hex


async def records(lesson_id: int) -> dict[int, dict[str, object]]:
    rows = await AttendanceRecord.select(
        AttendanceRecord.student,
        AttendanceRecord.status,
        AttendanceRecord.late_minutes,
        AttendanceRecord.source,
        AttendanceRecord.recorded_by,
        AttendanceRecord.version,
    ).where(AttendanceRecord.lesson == lesson_id)
    return {r["student"]: r for r in rows}


async def test_the_first_entry_marks_presence_and_the_teachers_mark_wins(world: Backend) -> None:
    jw, t = await school_day(world)  # lesson 1 today, 08:00-08:45 (Moscow)
    early, late, marked, missing = jw.pupils
    school, lesson = jw.ids["school_a"], jw.lessons["today"]
    posted = await t.post(
        [
            t.event(early, at("07:50")),
            t.event(late, at("08:12")),
            t.event(marked, at("07:55")),
            t.event(early, at("08:30"), "out"),  # a later exit changes nothing: first entry
        ]
    )
    assert posted.status_code == 200, posted.text

    # Off by default.
    assert await journal_presence(school, at("08:20")) == 0
    assert await records(lesson) == {}

    settings = f"{BASE}/schools/{school}/settings"
    on = await world.client.put(
        settings, json={"journal_presence": True}, headers=t.security.headers
    )
    assert on.status_code == 200, on.text
    assert on.json()["journal_presence"] is True
    assert (await world.client.get(settings, headers=t.security.headers)).json()[
        "journal_presence"
    ] is True
    bad = await world.client.put(
        settings, json={"journal_presence": "да"}, headers=t.security.headers
    )
    assert bad.status_code == 400
    assert "турникет" in bad.json()["message"]

    # The teacher marked one pupil absent before the turnstile's mark.
    teacher_first = await world.client.post(
        f"/api/v1/journal/lessons/{lesson}/sync",
        json={"operations": [attendance(op(), marked, "absent")]},
        headers=jw.teacher.headers,
    )
    assert teacher_first.status_code == 200, teacher_first.text

    assert await journal_presence(school, at("07:59")) == 0  # the lesson has not begun
    assert await journal_presence(school, at("08:20")) == 2
    got = await records(lesson)
    assert {s: (r["status"], r["late_minutes"], r["source"]) for s, r in got.items()} == {
        early: ("present", None, "turnstile"),
        late: ("late", 12, "turnstile"),
        marked: ("absent", None, "teacher"),  # never overwritten
    }
    assert got[early]["recorded_by"] is None
    assert await journal_presence(school, at("08:21")) == 0  # once
    history = await JournalChange.select(
        JournalChange.student_id, JournalChange.source, JournalChange.changed_by, JournalChange.old
    ).where((JournalChange.lesson_id == lesson) & (JournalChange.source == "turnstile"))
    assert sorted(h["student_id"] for h in history) == sorted([early, late])
    assert all(h["changed_by"] is None and h["old"] is None for h in history)

    # The teacher corrects the turnstile's mark, from a screen that never saw it (the lesson
    # as it was before): applied, not a conflict; the cell is the teacher's now.
    corrected = await world.client.post(
        f"/api/v1/journal/lessons/{lesson}/sync",
        json={"operations": [attendance(op(), late, "absent", reason="ушёл")], "base_version": 0},
        headers=jw.teacher.headers,
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["results"][0]["status"] == "applied"
    after = await records(lesson)
    assert (after[late]["status"], after[late]["source"], after[late]["version"]) == (
        "absent",
        "teacher",
        2,
    )
    assert after[late]["recorded_by"] == jw.teacher.user_id
    # A teacher's own mark is still protected by its version: the stale screen conflicts.
    stale = await world.client.post(
        f"/api/v1/journal/lessons/{lesson}/sync",
        json={"operations": [attendance(op(), marked, "present")], "base_version": 0},
        headers=jw.teacher.headers,
    )
    assert stale.json()["results"][0]["status"] == "conflict"
    # The turnstile runs again: it writes nothing over the teacher's marks.
    assert await journal_presence(school, at("08:40")) == 0
    assert (await records(lesson))[late]["status"] == "absent"
    assert missing not in await records(lesson)
