"""School structure through the API: tenancy, settings, the year, classes, groups, subjects,
rooms, curriculum, assignments and bells. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date

from backend.audit.tables import AuditEntry
from backend.core.rights import Role, ScopeKind
from backend.schools.structure import services as structure
from backend.schools.tables import School, SchoolClass, Student, StudyPeriod
from tests.conftest import Backend
from tests.integration.schools.structure_world import school_world
from tests.support import grant, sign_in


async def test_tenancy_is_created_by_the_system_administrator(world: Backend) -> None:
    admin = await sign_in(world, grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    h = admin.headers
    r = await world.client.post(
        "/api/v1/regions",
        json={"name": "Республика Марий Эл", "code": "12", "time_zone": "Europe/Moscow"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    region = r.json()["id"]
    again = await world.client.post(
        "/api/v1/regions", json={"name": "Республика Марий Эл", "code": "99"}, headers=h
    )
    assert again.status_code == 409 and "уже есть" in again.json()["message"]
    bad = await world.client.post(
        "/api/v1/regions", json={"name": "Х", "code": "98", "time_zone": "Mars/Base"}, headers=h
    )
    assert bad.status_code == 400 and "Mars/Base" in bad.json()["message"]
    m = await world.client.post(
        f"/api/v1/regions/{region}/municipalities", json={"name": "г. Йошкар-Ола"}, headers=h
    )
    assert m.status_code == 201
    school = await world.client.post(
        f"/api/v1/municipalities/{m.json()['id']}/schools",
        json={
            "full_name": "МБОУ «Гимназия № 4»",
            "short_name": "Гимназия № 4",
            "inn": "1215000001",
        },
        headers=h,
    )
    assert school.status_code == 201, school.text
    assert school.json()["time_zone"] == "Europe/Moscow"
    bad_inn = await world.client.post(
        f"/api/v1/municipalities/{m.json()['id']}/schools",
        json={"full_name": "Школа", "short_name": "Школа", "inn": "12"},
        headers=h,
    )
    assert bad_inn.status_code == 400
    # A school coordinator cannot create schools, and sees only their own in the list.
    sw = await school_world(world)
    r = await world.client.post(
        f"/api/v1/municipalities/{sw.ids['m1']}/schools",
        json={"full_name": "Школа", "short_name": "Школа"},
        headers=sw.coordinator.headers,
    )
    assert r.status_code == 404
    listed = await world.client.get("/api/v1/schools", headers=sw.coordinator.headers)
    assert [s["id"] for s in listed.json()["items"]] == [sw.school_id]


async def test_settings_are_validated_kept_and_audited(world: Backend) -> None:
    sw = await school_world(world)
    r = await sw.get("/settings")
    assert r.status_code == 200
    assert r.json()["settings"]["marking_window_days"] == 14
    # A key another context stored is kept.
    await School.update({School.settings: {"meals_provider": "x"}}).where(School.id == sw.school_id)
    r = await sw.patch(
        "/settings",
        {"marking_window_days": 3, "meal_cutoff_time": "09:30", "time_zone": "Asia/Yekaterinburg"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["time_zone"] == "Asia/Yekaterinburg"
    assert body["settings"]["marking_window_days"] == 3
    assert body["settings"]["meal_cutoff_time"] == "09:30"
    assert (await structure.school_settings(sw.school_id)).marking_window_days == 3
    row = await School.select(School.settings).where(School.id == sw.school_id).first()
    stored = row["settings"]
    assert "meals_provider" in (stored if isinstance(stored, dict) else str(stored))
    for bad in (
        {"meal_cutoff_time": "25:00"},
        {"marking_window_days": -1},
        {"time_zone": "Europe/Atlantis"},
        {"colour": "red"},
    ):
        r = await sw.patch("/settings", bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["message"]
    audited = await AuditEntry.count().where(
        (AuditEntry.object_type == "school_settings") & (AuditEntry.school_id == sw.school_id)
    )
    assert audited == 1
    # Another school's coordinator: 404, not 403.
    other = await sign_in(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.ids["school_b"])
    )
    assert (await sw.patch("/settings", {"marking_window_days": 1}, who=other)).status_code == 404
    assert (await sw.get("/settings", who=other)).status_code == 404


async def test_years_periods_and_holidays(world: Backend) -> None:
    sw = await school_world(world)
    # Years may not overlap, must match their name, and cannot be longer than a year.
    r = await sw.post(
        "/years", {"name": "2027/2028", "starts_on": "2027-08-01", "ends_on": "2028-07-31"}
    )
    assert r.status_code == 409 and "2026/2027" in r.json()["message"]
    r = await sw.post(
        "/years", {"name": "2027/2028", "starts_on": "2028-09-01", "ends_on": "2029-08-31"}
    )
    assert r.status_code == 400 and "не совпадает" in r.json()["message"]
    r = await sw.post(
        "/years", {"name": "2027/2028", "starts_on": "2027-09-01", "ends_on": "2028-08-31"}
    )
    assert r.status_code == 201
    # Quarters for grades 2..9, half-years for 10..11.
    quarters = [
        ("2026-09-01", "2026-10-24"),
        ("2026-11-05", "2026-12-28"),
        ("2027-01-11", "2027-03-20"),
        ("2027-03-30", "2027-05-31"),
    ]
    ids = []
    for number, (starts, ends) in enumerate(quarters, 1):
        r = await sw.post(
            f"/years/{sw.year_id}/periods",
            {
                "kind": "quarter",
                "number": number,
                "starts_on": starts,
                "ends_on": ends,
                "grades": list(range(2, 10)),
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert r.json()["name"] == "4 четверть"
    r = await sw.post(
        f"/years/{sw.year_id}/periods",
        {
            "kind": "half_year",
            "number": 1,
            "starts_on": "2026-09-01",
            "ends_on": "2026-12-28",
            "grades": [10, 11],
        },
    )
    assert r.status_code == 201
    # Overlapping for the same grades: refused, naming the other period.
    r = await sw.post(
        f"/years/{sw.year_id}/periods",
        {
            "kind": "trimester",
            "number": 1,
            "starts_on": "2026-10-01",
            "ends_on": "2026-11-30",
            "grades": [5],
        },
    )
    assert r.status_code == 409
    assert "1 четверть" in r.json()["message"]
    # Outside the year.
    r = await sw.post(
        f"/years/{sw.year_id}/periods",
        {
            "kind": "half_year",
            "number": 2,
            "starts_on": "2027-01-11",
            "ends_on": "2027-09-30",
            "grades": [10, 11],
        },
    )
    assert r.status_code == 400 and "2026/2027" in r.json()["message"]
    # Dates the wrong way round.
    r = await sw.post(
        f"/years/{sw.year_id}/holidays",
        {"name": "Осенние каникулы", "starts_on": "2026-11-03", "ends_on": "2026-10-26"},
    )
    assert r.status_code == 400
    r = await sw.post(
        f"/years/{sw.year_id}/holidays",
        {"name": "Осенние каникулы", "starts_on": "2026-10-26", "ends_on": "2026-11-03"},
    )
    assert r.status_code == 201
    holiday = r.json()["id"]
    listed = (await sw.get(f"/years/{sw.year_id}/holidays")).json()
    assert [h["name"] for h in listed] == ["Осенние каникулы"]
    # The year cannot shrink past its periods.
    r = await sw.patch(f"/years/{sw.year_id}", {"ends_on": "2027-05-01"})
    assert r.status_code == 409 and "4 четверть" in r.json()["message"]

    # Closing a period locks it; the journal asks `is_period_closed`.
    class_row = SchoolClass(school=sw.school_id, academic_year=sw.year_id, grade=5, letter="А")
    await class_row.save()
    assert not await structure.is_period_closed(class_row.id, date(2026, 9, 10))
    r = await sw.post(f"/periods/{ids[0]}/close", None)
    assert r.status_code == 200 and r.json()["closed_by"] == sw.coordinator.user_id
    assert await structure.is_period_closed(class_row.id, date(2026, 9, 10))
    assert not await structure.is_period_closed(class_row.id, date(2026, 11, 10))
    r = await sw.post(f"/periods/{ids[0]}/close", None)
    assert r.status_code == 409
    r = await sw.patch(f"/periods/{ids[0]}", {"ends_on": "2026-10-25"})
    assert r.status_code == 409 and "закрыт" in r.json()["message"]
    r = await sw.post(f"/periods/{ids[0]}/reopen", None)
    assert r.status_code == 200 and r.json()["closed_at"] is None
    row = await StudyPeriod.select(StudyPeriod.closed_at).where(StudyPeriod.id == ids[0]).first()
    assert row["closed_at"] is None
    # Holidays can be removed; deleting twice is a 404.
    assert (
        await world.client.delete(sw.url(f"/holidays/{holiday}"), headers=sw.coordinator.headers)
    ).status_code == 204
    assert (
        await world.client.delete(sw.url(f"/holidays/{holiday}"), headers=sw.coordinator.headers)
    ).status_code == 404
    actions = {
        r["action"]
        for r in await AuditEntry.select(AuditEntry.action).where(
            AuditEntry.school_id == sw.school_id
        )
    }
    assert {"create", "delete", "study_period.close", "study_period.reopen"} <= actions


async def test_classes_subjects_rooms_and_groups(world: Backend) -> None:
    sw = await school_world(world)
    r = await sw.post(
        "/classes",
        {
            "academic_year_id": sw.year_id,
            "grade": 5,
            "letter": "б",
            "class_teacher_id": sw.staff["ivanova"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "5«Б»"
    class_id = r.json()["id"]
    r = await sw.post("/classes", {"academic_year_id": sw.year_id, "grade": 5, "letter": "Б"})
    assert r.status_code == 409 and "5«Б»" in r.json()["message"]
    r = await sw.post("/classes", {"academic_year_id": sw.year_id, "grade": 12, "letter": "А"})
    assert r.status_code == 400
    r = await sw.post("/classes", {"academic_year_id": sw.year_id, "grade": 5, "letter": "!"})
    assert r.status_code == 400 and "Литера" in r.json()["message"]
    r = await sw.post(
        "/classes",
        {
            "academic_year_id": sw.year_id,
            "grade": 6,
            "letter": "А",
            "class_teacher_id": sw.staff["other_school"],
        },
    )
    assert r.status_code == 400 and "не найден" in r.json()["message"]
    r = await sw.patch(f"/classes/{class_id}", {"shift": 2, "class_teacher_id": None})
    assert r.status_code == 200 and r.json()["shift"] == 2 and r.json()["class_teacher"] is None

    # Subject names are unique per school, compared case-insensitively (also on SQLite).
    r = await sw.post("/subjects", {"name": "Русский язык", "short_name": "Рус. яз."})
    assert r.status_code == 201
    subject = r.json()["id"]
    r = await sw.post("/subjects", {"name": "русский ЯЗЫК"})
    assert r.status_code == 409 and "русский ЯЗЫК" in r.json()["message"]
    r = await sw.post("/rooms", {"name": "204", "capacity": 30})
    assert r.status_code == 201
    assert (await sw.post("/rooms", {"name": "204"})).status_code == 409
    assert (await sw.patch(f"/rooms/{r.json()['id']}", {"capacity": 0})).status_code == 400

    # A group of the class, with members from this school only.
    r = await sw.post(
        "/groups",
        {
            "academic_year_id": sw.year_id,
            "name": "5Б англ. 1",
            "subject_id": subject,
            "school_class_id": class_id,
        },
    )
    assert r.status_code == 201, r.text
    group = r.json()["id"]
    pupil = Student(school=sw.school_id, last_name="Алексеев", first_name="Артём")
    await pupil.save()
    stranger = Student(school=sw.ids["school_b"], last_name="Чужой", first_name="Ученик")
    await stranger.save()
    r = await sw.post(f"/groups/{group}/members", {"student_ids": [pupil.id], "on": "2026-09-01"})
    assert r.status_code == 200 and [m["last_name"] for m in r.json()] == ["Алексеев"]
    r = await sw.post(
        f"/groups/{group}/members", {"student_ids": [stranger.id], "on": "2026-09-01"}
    )
    assert r.status_code == 400 and str(stranger.id) in r.json()["message"]
    r = await sw.post(
        f"/groups/{group}/members/remove", {"student_ids": [pupil.id], "on": "2027-01-01"}
    )
    assert r.status_code == 200 and r.json()[0]["valid_to"] == "2027-01-01"
    assert (await sw.get(f"/groups/{group}/members", on="2027-02-01")).json() == []
    assert len((await sw.get(f"/groups/{group}/members", on="2026-10-01")).json()) == 1
    # Another school's coordinator sees none of it.
    other = await sign_in(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.ids["school_b"])
    )
    assert (await sw.get("/classes", who=other)).status_code == 404
    assert (await sw.get(f"/groups/{group}/members", who=other)).status_code == 404


async def test_curriculum_assignments_and_bells(world: Backend) -> None:
    sw = await school_world(world)
    klass = await sw.ok(
        "POST", "/classes", {"academic_year_id": sw.year_id, "grade": 7, "letter": "А"}
    )
    subject = await sw.ok("POST", "/subjects", {"name": "Алгебра"})
    r = await sw.post(
        "/curriculum",
        {
            "academic_year_id": sw.year_id,
            "subject_id": subject["id"],
            "hours_per_week": 3,
            "grade": 7,
            "school_class_id": klass["id"],
        },
    )
    assert r.status_code == 400 and "либо класс, либо параллель" in r.json()["message"]
    r = await sw.post(
        "/curriculum",
        {
            "academic_year_id": sw.year_id,
            "subject_id": subject["id"],
            "hours_per_week": 3.5,
            "grade": 7,
        },
    )
    assert r.status_code == 201 and r.json()["hours_per_week"] == 3.5
    r = await sw.post(
        "/curriculum",
        {
            "academic_year_id": sw.year_id,
            "subject_id": subject["id"],
            "hours_per_week": 3,
            "grade": 7,
        },
    )
    assert r.status_code == 409
    listed = (await sw.get("/curriculum", year_id=sw.year_id)).json()
    assert len(listed) == 1

    r = await sw.post(
        "/assignments",
        {
            "academic_year_id": sw.year_id,
            "teacher_id": sw.staff["petrov"],
            "subject_id": subject["id"],
            "school_class_id": klass["id"],
        },
    )
    assert r.status_code == 201
    assert await structure.teaches(
        sw.staff["petrov"],
        subject["id"],
        school_class_id=klass["id"],
        study_group_id=None,
        on=date(2026, 10, 1),
    )
    assert not await structure.teaches(
        sw.staff["ivanova"],
        subject["id"],
        school_class_id=klass["id"],
        study_group_id=None,
        on=date(2026, 10, 1),
    )
    r = await sw.post(
        "/assignments",
        {
            "academic_year_id": sw.year_id,
            "teacher_id": sw.staff["other_school"],
            "subject_id": subject["id"],
            "school_class_id": klass["id"],
        },
    )
    assert r.status_code == 400
    assignment = (await sw.get("/assignments", year_id=sw.year_id)).json()[0]["id"]
    r = await world.client.delete(
        sw.url(f"/assignments/{assignment}"), headers=sw.coordinator.headers
    )
    assert r.status_code == 204

    bells = [
        {"lesson_number": 1, "starts_at": "08:30", "ends_at": "09:15"},
        {"lesson_number": 2, "starts_at": "09:25", "ends_at": "10:10"},
    ]
    r = await world.client.put(
        sw.url("/bells/1"), json={"bells": bells}, headers=sw.coordinator.headers
    )
    assert r.status_code == 200 and len(r.json()[0]["bells"]) == 2
    overlapping = [*bells, {"lesson_number": 3, "starts_at": "10:00", "ends_at": "10:45"}]
    r = await world.client.put(
        sw.url("/bells/1"), json={"bells": overlapping}, headers=sw.coordinator.headers
    )
    assert r.status_code == 400 and "раньше" in r.json()["message"]
    # The refused change left the stored schedule as it was.
    assert len((await sw.get("/bells")).json()[0]["bells"]) == 2


async def test_out_of_range_ids_and_garbage_are_refused_not_500(world: Backend) -> None:
    sw = await school_world(world)
    huge = 99_999_999_999
    h = sw.coordinator.headers
    for method, url, body in (
        ("GET", f"/api/v1/schools/{huge}", None),
        ("GET", f"/api/v1/schools/{huge}/classes", None),
        ("GET", sw.url(f"/classes?year_id={huge}"), None),
        ("GET", sw.url(f"/curriculum?year_id={huge}"), None),
        ("GET", sw.url("/curriculum?year_id=abc"), None),
        ("GET", sw.url(f"/lessons?date_from=2026-09-01&date_to=2026-09-02&class_id={huge}"), None),
        ("GET", sw.url("/lessons?date_from=2026-13-01&date_to=2026-09-02"), None),
        ("PATCH", sw.url(f"/classes/{huge}"), {"shift": 1}),
        ("POST", sw.url("/classes"), {"academic_year_id": huge, "grade": 5, "letter": "А"}),
        ("POST", sw.url("/timetable"), {"weekday": 9}),
        ("POST", sw.url(f"/lessons/{huge}/cancel"), {}),
        ("POST", sw.url("/lessons/generate"), {"date_from": "x", "date_to": "2026-09-01"}),
        ("PUT", sw.url("/bells/7"), {"bells": []}),
    ):
        r = await world.client.request(method, url, json=body, headers=h)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text)
        assert r.json()["message"], (method, url)


async def test_names_are_stripped_and_blank_or_control_characters_refused(world: Backend) -> None:
    sw = await school_world(world)
    for path, body in (
        ("/subjects", {"name": "   "}),
        ("/subjects", {"name": "Химия\x00"}),
        ("/subjects", {"name": "Хи\nмия"}),
        ("/rooms", {"name": " \t "}),
        ("/rooms", {"name": "2\x0704"}),
        ("/groups", {"academic_year_id": sw.year_id, "name": "  "}),
        ("/groups", {"academic_year_id": sw.year_id, "name": "англ.\u200b1"}),
        (
            f"/years/{sw.year_id}/holidays",
            {"name": " ", "starts_on": "2026-11-02", "ends_on": "2026-11-03"},
        ),
    ):
        r = await sw.post(path, body)
        assert r.status_code == 400, (path, body, r.text)
        message = r.json()["message"]
        assert "пуст" in message or "управляющие" in message, message
    r = await sw.post("/subjects", {"name": "  Химия  ", "short_name": " Хим. "})
    assert r.status_code == 201 and r.json()["name"] == "Химия", r.text
    assert r.json()["short_name"] == "Хим."
    r = await sw.patch(f"/subjects/{r.json()['id']}", {"name": "\x00"})
    assert r.status_code == 400
    # Class letters are Cyrillic capitals: not a digit, not a Latin letter.
    for letter in ("1", "A", "Б1", "   "):
        r = await sw.post(
            "/classes", {"academic_year_id": sw.year_id, "grade": 5, "letter": letter}
        )
        assert r.status_code == 400 and "Литера" in r.json()["message"], (letter, r.text)
    r = await sw.post("/classes", {"academic_year_id": sw.year_id, "grade": 5, "letter": "ё"})
    assert r.status_code == 201 and r.json()["letter"] == "Ё"

    # People: names are stripped, blank or control characters refused.
    secretary = await sign_in(world, grant(Role.SECRETARY, ScopeKind.SCHOOL, sw.school_id))
    c = world.client
    for names in (
        {"last_name": "   ", "first_name": "Мария"},
        {"last_name": "Иванова\x00", "first_name": "Мария"},
        {"last_name": "Иванова", "first_name": "Мария", "middle_name": "Пет\x1bровна"},
    ):
        r = await c.post(
            "/api/v1/students",
            json={"school_id": sw.school_id, **names},
            headers=secretary.headers,
        )
        assert r.status_code == 400, (names, r.text)
    r = await c.post(
        "/api/v1/students",
        json={"school_id": sw.school_id, "last_name": " Иванова ", "first_name": "Мария "},
        headers=secretary.headers,
    )
    assert r.status_code == 201 and r.json()["last_name"] == "Иванова", r.text
    assert await Student.count() == 1
