"""`parta seed`'s data: realistic, consistent with every rule, with a login for every role.
Runs on SQLite and on PostgreSQL (a small school: one class per grade)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from backend.accounts.passwords import Passwords
from backend.accounts.tables import RoleGrant
from backend.core.rights import Role
from backend.schools.tables import (
    AcademicYear,
    Consent,
    CurriculumItem,
    Delegate,
    Enrollment,
    Guardian,
    Holiday,
    Lesson,
    SchoolClass,
    Staff,
    Student,
    StudentGuardian,
    StudyGroupMember,
    TimetableEntry,
)
from backend.schools.timetable import conflicts
from backend.schools.timetable import services as timetable
from backend.schools.validators import snils_check_number
from backend.seed import DEMO_PASSWORD, seed_demo
from tests.conftest import Backend

TODAY = date(2026, 11, 21)


def valid_snils(value: str) -> bool:
    return len(value) == 11 and snils_check_number(value[:9]) == int(value[9:])


async def test_seed_builds_a_consistent_school_with_every_login(world: Backend) -> None:
    result = await seed_demo(
        Passwords(fast=True), classes_per_grade=1, pupils_per_class=4, today=TODAY
    )
    school_id = result.school_ids[0]
    assert result.counts["unplaced_hours"] == 0
    assert result.counts["journal_lessons"] > 0 and result.counts["marks"] > 0
    assert {d.role for d in result.logins} == set(Role)

    # Every printed login signs in.
    tokens = {}
    for login in result.logins:
        r = await world.client.post(
            "/api/v1/auth/login", json={"identifier": login.login, "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200, (login.login, r.text)
        tokens[login.login] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    year = await AcademicYear.select().where(AcademicYear.school == school_id).first()
    assert year["name"] == "2026/2027"
    classes = await SchoolClass.select().where(SchoolClass.school == school_id)
    assert sorted(c["grade"] for c in classes) == list(range(1, 12))
    assert all(c["class_teacher"] for c in classes)
    # Every demo account whose staff record leads a class holds the class-teacher role there
    # (decision 0206), the demo's subject teacher included when she leads one.
    linked = {
        r["id"]: r["user_id"]
        for r in await Staff.select(Staff.id, Staff.user_id).where(Staff.user_id.is_not_null())
    }
    led = [(c["id"], linked[c["class_teacher"]]) for c in classes if c["class_teacher"] in linked]
    assert led, "no demo account leads a class"
    for class_id, user_id in led:
        held = await RoleGrant.select(RoleGrant.id).where(
            (RoleGrant.user == user_id)
            & (RoleGrant.role == Role.CLASS_TEACHER.value)
            & (RoleGrant.scope_id == class_id)
        )
        assert held, (class_id, user_id)

    # The weekly timetable has no conflict, checked by the timetable service's own rules.
    entries = await conflicts.entries_overlapping(school_id, year["starts_on"], year["ends_on"])
    occupants = [conflicts.entry_occupant(e) for e in entries]
    index = timetable.ConflictIndex(await timetable.load_bells(school_id), occupants)
    names = await conflicts.names_for_messages(school_id)
    for occupant in occupants:
        index.check(occupant, names, ignore={occupant.id})
    # Each class gets its curriculum's hours (a split subject: once per group).
    hours = {
        (c["grade"], c["subject"]): float(c["hours_per_week"])
        for c in await CurriculumItem.select().where(CurriculumItem.academic_year == year["id"])
    }
    per_class: Counter[tuple[int, int]] = Counter()
    grade_of = {c["id"]: c["grade"] for c in classes}
    for e in entries:
        if e["school_class"] is not None:
            per_class[(grade_of[e["school_class"]], e["subject"])] += 1
        else:
            per_class[(e["group_grade"], e["subject"])] += 1
    for (grade, subject), h in hours.items():
        expected = h * (2 if per_class[(grade, subject)] > h else 1)
        assert per_class[(grade, subject)] == expected, (grade, subject)

    # Lessons: the whole year, none on a holiday of their grade.
    lessons = await Lesson.select(Lesson.date, Lesson.school_class, Lesson.study_group).where(
        Lesson.school == school_id
    )
    assert len(lessons) == result.counts["lessons"] > 1000
    holidays = timetable.HolidayCalendar(
        await Holiday.select().where(Holiday.academic_year == year["id"]).output(load_json=True)
    )
    first_grade = next(c["id"] for c in classes if c["grade"] == 1)
    for lesson in lessons:
        assert lesson["date"].isoweekday() <= 5
        grade = grade_of.get(lesson["school_class"]) if lesson["school_class"] else None
        assert not holidays.is_off(lesson["date"], grade), lesson
    february_break = date(2027, 2, 16)
    assert not [
        x for x in lessons if x["school_class"] == first_grade and x["date"] == february_break
    ]
    assert [x for x in lessons if x["date"] == february_break]  # other grades study

    # People: realistic and consistent, consent on file for everyone with personal data.
    pupils = await Student.select().where(Student.school == school_id)
    assert len(pupils) == 11 * 4
    enrolled = {e["student"] for e in await Enrollment.select(Enrollment.student)}
    assert enrolled == {p["id"] for p in pupils}
    for pupil in pupils:
        assert valid_snils(pupil["snils"]) and pupil["birth_date"] < TODAY
        assert 6 <= (date(2026, 9, 1) - pupil["birth_date"]).days // 365 <= 18
    guardians = await Guardian.select()
    assert all(g["phone"].startswith("+79") and len(g["phone"]) == 12 for g in guardians)
    assert all(valid_snils(g["snils"]) for g in guardians)
    consents = defaultdict(set)
    for c in await Consent.select(Consent.subject_kind, Consent.subject_id):
        consents[c["subject_kind"]].add(c["subject_id"])
    assert consents["student"] >= {p["id"] for p in pupils}
    assert consents["guardian"] >= {g["id"] for g in guardians}
    assert consents["staff"] >= {s["id"] for s in await Staff.select(Staff.id)}
    assert await StudentGuardian.count() == len(guardians)
    assert await StudyGroupMember.count() == 10 * 4  # English groups in grades 2-11

    # The class teacher reads their class's lessons; the parent, pupil and delegate are linked.
    ct = next(d for d in result.logins if d.role is Role.CLASS_TEACHER)
    me = (await world.client.get("/api/v1/accounts/me", headers=tokens[ct.login])).json()
    class_grant = next(g for g in me["grants"] if g["role"] == "class_teacher")
    monday = date(2026, 9, 7)
    r = await world.client.get(
        f"/api/v1/schools/{school_id}/lessons",
        params={
            "date_from": monday.isoformat(),
            "date_to": (monday + timedelta(days=4)).isoformat(),
            "class_id": class_grant["scope_id"],
        },
        headers=tokens[ct.login],
    )
    assert r.status_code == 200 and r.json()["total"] >= 20
    assert all(x["starts_at"] for x in r.json()["items"])
    # The teacher and class teacher logins are linked to their staff records.
    assert await Staff.count().where(Staff.user_id.is_not_null()) == 2
    parent = (await world.client.get("/api/v1/accounts/me", headers=tokens["parent"])).json()
    child = next(g for g in parent["grants"] if g["role"] == "guardian")["scope_id"]
    assert await Guardian.exists().where(Guardian.user_id.is_not_null())
    assert await StudentGuardian.exists().where(StudentGuardian.student == child)
    pupil = await Student.select(Student.user_id).where(Student.id == child).first()
    assert pupil["user_id"] is not None
    delegate = await Delegate.select().where(Delegate.student == child).first()
    assert delegate["delegate_user_id"] and delegate["role_grant_id"]
    assert delegate["valid_until"].date() == date(2027, 8, 31)
    assert (
        await TimetableEntry.count().where(TimetableEntry.school == school_id)
        == (result.counts["timetable_entries"])
    )

    # The demo family has meals (a menu, money on the child's account) and entries.
    menu = await world.client.get(
        f"/api/v1/meals/pupils/{child}/menu",
        params={"date": "2026-11-23"},
        headers=tokens["parent"],
    )
    assert menu.status_code == 200, menu.text
    sets = menu.json()["sets"]
    assert sorted(x["meal_set"]["kind"] for x in sets) == ["breakfast", "lunch"]
    assert all(x["meal_set"]["dishes"] and x["meal_set"]["price"] > 0 for x in sets)
    assert any(d["allergens"] for x in sets for d in x["meal_set"]["dishes"])
    account = await world.client.get(
        f"/api/v1/meals/pupils/{child}/account", headers=tokens["parent"]
    )
    assert account.json()["available"] == account.json()["posted"] == 150_000
    passes = await world.client.get(
        f"/api/v1/access/students/{child}/entries",
        params={"date_from": "2026-11-07", "date_to": "2026-11-20"},
        headers=tokens["parent"],
    )
    assert passes.status_code == 200, passes.text
    days = passes.json()["days"]
    assert [d["date"] for d in days] == [
        (date(2026, 11, 9) + timedelta(days=n)).isoformat() for n in range(12) if n % 7 < 5
    ]
    assert all(d["first_entry_at"] and d["last_exit_at"] and not d["inside"] for d in days)
