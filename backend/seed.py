# Over 600 lines: demo data (a school's year, timetable, people, logins), not logic.
"""Demo data: a region, a municipality and realistic schools, with a login for every role.

Each school gets the current academic year (quarters for grades 1-9, half-years for 10-11,
holidays), bells, subjects, rooms, `classes_per_grade` classes in each of grades 1-11 with
`pupils_per_class` pupils and their guardians (consent on file, Russian names, birth dates,
SNILS with valid checksums, +7 phones), teachers with their load, English split into two groups,
a full weekly timetable without conflicts, and the lessons of the whole year.

School objects are made through the same services the API uses (`Actor.system()`), so the demo
data passes every rule a coordinator's data passes. `parta seed` and `parta demo` call
`seed_demo`; the journal issue adds marks on top.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from math import ceil
from typing import Any

from backend.accounts.passwords import Passwords
from backend.accounts.tables import RoleGrant, User
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import transaction
from backend.core.rights import Grant, Permission, Role, ScopeKind
from backend.i18n import t
from backend.messaging.tables import DeviceToken, MessengerChat, NotificationPreference
from backend.schools.people import personal_files
from backend.schools.people.class_teachers import follow_class_teacher
from backend.schools.structure import schemas as s
from backend.schools.structure import services as structure
from backend.schools.tables import (
    Consent,
    CurriculumItem,
    Delegate,
    Enrollment,
    Guardian,
    Municipality,
    Region,
    School,
    SchoolClass,
    Staff,
    Student,
    StudentGuardian,
    StudyGroupMember,
    TeachingAssignment,
)
from backend.schools.timetable import services as timetable
from backend.schools.validators import snils_check_number
from backend.seed_names import (
    FEMALE_FIRST,
    HOURS,
    LETTERS,
    MALE_FIRST,
    MAX_LESSONS_PER_DAY,
    PATRONYMICS,
    PRIMARY_SUBJECTS,
    SPLIT_SUBJECTS,
    STREETS,
    SUBJECTS,
    SURNAMES,
)

# Printed to the person running the demo, on purpose: the demo is for trying things out.
DEMO_PASSWORD = "parta-demo"
DEMO_DEVICE_TOKEN = "demo-phone-of-the-parent"
DEMO_TELEGRAM_CHAT = 100_001
TEACHER_LOAD = 21  # lessons a week a subject teacher takes before another one is hired
DAYS = (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: Role
    login: str
    display_name: str


@dataclass
class SeedResult:
    region_id: int
    municipality_id: int
    school_ids: list[int]
    logins: list[DemoLogin]
    counts: dict[str, int] = field(default_factory=dict)


Progress = Callable[[str, int], None]


def _no_progress(_: str, __: int) -> None:
    return None


# ---- people ----------------------------------------------------------------------------------


class People:
    """Makes up fictional people, reproducibly."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()

    def name(self, female: bool) -> tuple[str, str, str]:
        surname = self.rng.choice(SURNAMES)[1 if female else 0]
        first = self.rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        middle = self.rng.choice(PATRONYMICS)[1 if female else 0]
        return surname, first, middle

    def snils(self) -> str:
        body = f"{self.rng.randint(2_000_000, 999_999_999):09d}"
        return f"{body}{snils_check_number(body):02d}"

    def phone(self) -> str:
        while True:
            number = f"+79{self.rng.randint(0, 999_999_999):09d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def address(self) -> str:
        street = self.rng.choice(STREETS)
        return (
            f"4201{self.rng.randint(0, 99):02d}, Республика Татарстан, г. Казань, {street}, "
            f"д. {self.rng.randint(1, 120)}, кв. {self.rng.randint(1, 300)}"
        )

    def birth_date(self, year: int) -> date:
        return date(year, 1, 1) + timedelta(days=self.rng.randint(0, 364))


def _full(last: str, first: str, middle: str) -> str:
    return f"{last} {first} {middle}".strip()


# ---- the weekly timetable --------------------------------------------------------------------


@dataclass
class Teacher:
    staff_id: int
    subject: str
    load: int = 0
    room_id: int | None = None


@dataclass
class ClassPlan:
    class_id: int
    grade: int
    letter: str
    room_id: int
    primary_teacher: Teacher | None = None
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)  # subject -> two groups
    teachers: dict[str, list[Teacher]] = field(default_factory=dict)  # subject -> 1 or 2


def build_week(plans: list[ClassPlan], rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    """Place every class's weekly hours into days and lesson numbers so that no teacher, room or
    class is in two places at once. Each teacher teaches in their own room (a primary teacher in
    their class's room), so a free teacher means a free room. Returns the entries (as the API's
    `TimetableEntryCreate` fields, minus dates) and how many hours found no place."""
    busy: set[tuple[int, int, int]] = set()  # (day, lesson number, staff id)
    entries: list[dict[str, Any]] = []
    unplaced = 0
    for plan in sorted(plans, key=lambda p: (-p.grade, p.letter)):
        taken: dict[int, set[int]] = defaultdict(set)
        per_day: dict[tuple[int, str], int] = defaultdict(int)
        most = MAX_LESSONS_PER_DAY[plan.grade - 1]
        # The hardest first: split lessons need two free teachers at once.
        units = [
            subject
            for subject, hours in sorted(
                HOURS.items(),
                key=lambda kv: (kv[0] not in plan.groups, -kv[1][plan.grade - 1]),
            )
            for _ in range(hours[plan.grade - 1])
        ]
        for subject in units:
            teachers = plan.teachers[subject]
            days = sorted(DAYS, key=lambda d: (per_day[(d, subject)], len(taken[d]), rng.random()))
            placed = False
            # A day runs to `most` lessons; past that, one more (as real timetables do).
            for day, number in [
                (d, n) for limit in (most, most + 1) for d in days for n in range(1, limit + 1)
            ]:
                if placed:
                    break
                if number in taken[day]:
                    continue
                if any((day, number, tt.staff_id) in busy for tt in teachers):
                    continue
                taken[day].add(number)
                per_day[(day, subject)] += 1
                for n, teacher in enumerate(teachers):
                    busy.add((day, number, teacher.staff_id))
                    entry: dict[str, Any] = {
                        "weekday": day,
                        "lesson_number": number,
                        "subject": subject,
                        "teacher_id": teacher.staff_id,
                        "room_id": teacher.room_id or plan.room_id,
                    }
                    if subject in plan.groups:
                        entry["study_group_id"] = plan.groups[subject][n]
                    else:
                        entry["school_class_id"] = plan.class_id
                    entries.append(entry)
                placed = True
            if not placed:
                unplaced += 1
    return entries, unplaced


# ---- the year --------------------------------------------------------------------------------


def year_calendar(first: int) -> dict[str, Any]:
    """Periods and holidays of the academic year starting 1 September `first`."""
    nxt = first + 1
    quarters = [
        (date(first, 9, 1), date(first, 10, 24)),
        (date(first, 11, 5), date(first, 12, 27)),
        (date(nxt, 1, 12), date(nxt, 3, 21)),
        (date(nxt, 3, 30), date(nxt, 5, 26)),
    ]
    halves = [(date(first, 9, 1), date(first, 12, 27)), (date(nxt, 1, 12), date(nxt, 5, 26))]
    holidays = [
        ("Осенние каникулы", date(first, 10, 25), date(first, 11, 4), []),
        ("Зимние каникулы", date(first, 12, 28), date(nxt, 1, 11), []),
        ("Дополнительные каникулы для первоклассников", date(nxt, 2, 15), date(nxt, 2, 22), [1]),
        ("День защитника Отечества", date(nxt, 2, 23), date(nxt, 2, 23), []),
        ("Международный женский день", date(nxt, 3, 8), date(nxt, 3, 8), []),
        ("Весенние каникулы", date(nxt, 3, 22), date(nxt, 3, 29), []),
        ("Праздник Весны и Труда", date(nxt, 5, 1), date(nxt, 5, 1), []),
        ("День Победы", date(nxt, 5, 9), date(nxt, 5, 9), []),
        ("Летние каникулы", date(nxt, 5, 27), date(nxt, 8, 31), []),
    ]
    return {
        "quarters": quarters,
        "halves": halves,
        "holidays": holidays,
        "last_lesson": quarters[3][1],
    }


BELLS = [
    (1, time(8, 0), time(8, 40)),
    (2, time(8, 50), time(9, 30)),
    (3, time(9, 50), time(10, 30)),
    (4, time(10, 50), time(11, 30)),
    (5, time(11, 40), time(12, 20)),
    (6, time(12, 30), time(13, 10)),
    (7, time(13, 20), time(14, 0)),
    (8, time(14, 10), time(14, 50)),
]


# ---- one school ------------------------------------------------------------------------------


@dataclass
class SchoolSeed:
    school_id: int
    year_id: int
    first_class_id: int = 0
    first_class_teacher: int = 0
    math_teacher: int = 0
    first_pupil: int = 0
    first_pupil_guardian: int = 0
    counts: dict[str, int] = field(default_factory=dict)


async def seed_school(
    school_id: int,
    *,
    rng: random.Random,
    people: People,
    classes_per_grade: int,
    pupils_per_class: int,
    today: date,
    progress: Progress,
    lessons: bool = True,
    journal_weeks: int = 1,
) -> SchoolSeed:
    system = Actor.system()
    name, starts, ends = structure.default_year_dates(today)
    year = await structure.create_year(
        system, school_id, s.AcademicYearCreate(name=name, starts_on=starts, ends_on=ends)
    )
    calendar = year_calendar(starts.year)
    for number, (p_start, p_end) in enumerate(calendar["quarters"], 1):
        await structure.create_period(
            system,
            school_id,
            year["id"],
            s.StudyPeriodCreate(
                kind="quarter",
                number=number,
                starts_on=p_start,
                ends_on=p_end,
                grades=list(range(1, 10)),
            ),
        )
    for number, (p_start, p_end) in enumerate(calendar["halves"], 1):
        await structure.create_period(
            system,
            school_id,
            year["id"],
            s.StudyPeriodCreate(
                kind="half_year", number=number, starts_on=p_start, ends_on=p_end, grades=[10, 11]
            ),
        )
    for h_name, h_start, h_end, grades in calendar["holidays"]:
        await timetable.create_holiday(
            system,
            school_id,
            year["id"],
            s.HolidayCreate(name=h_name, starts_on=h_start, ends_on=h_end, grades=grades),
        )
    await structure.set_bell_schedule(
        system,
        school_id,
        1,
        s.BellScheduleSet(
            bells=[s.Bell(n, structure.clock(a), structure.clock(b)) for n, a, b in BELLS]
        ),
    )
    subjects: dict[str, int] = {}
    for subject_name, short in SUBJECTS:
        row = await structure.create_subject(
            system, school_id, s.SubjectCreate(name=subject_name, short_name=short)
        )
        subjects[subject_name] = row["id"]
    progress("structure", 1)

    consent_on = starts - timedelta(days=10)
    seeded = SchoolSeed(school_id, year["id"])

    async def hire(subject: str, female: bool | None = None) -> Teacher:
        female = rng.random() < 0.82 if female is None else female
        last, first, middle = people.name(female)
        staff_id = await personal_files.create_staff(
            system,
            school_id,
            {
                "last_name": last,
                "first_name": first,
                "middle_name": middle,
                "birth_date": people.birth_date(rng.randint(1962, 1998)).isoformat(),
                "sex": "ж" if female else "м",
                "snils": people.snils(),
                "phone": people.phone(),
                "hired_on": date(rng.randint(1990, starts.year - 1), 8, 25).isoformat(),
            },
            ["teacher"],
            consent_data={"given_on": consent_on, "document_ref": "Согласие работника"},
        )
        progress("staff", 1)
        return Teacher(staff_id, subject)

    # Classes, each with a home room; primary classes with their own teacher.
    plans: list[ClassPlan] = []
    room_number = 100
    for grade in range(1, 12):
        for k in range(classes_per_grade):
            room_number += 1
            room = await structure.create_room(
                system,
                school_id,
                s.RoomCreate(name=str(room_number + (grade > 4) * 100), capacity=30),
            )
            klass = await structure.create_class(
                system,
                school_id,
                s.SchoolClassCreate(academic_year_id=year["id"], grade=grade, letter=LETTERS[k]),
            )
            plan = ClassPlan(klass["id"], grade, LETTERS[k], room["id"])
            if grade <= 4:
                plan.primary_teacher = await hire("primary", female=True)
                plan.primary_teacher.room_id = room["id"]
            plans.append(plan)

    # Subject teachers: as many as the hours need, each with a room of their own.
    demand: dict[str, int] = defaultdict(int)
    for plan in plans:
        for subject, hours in HOURS.items():
            h = hours[plan.grade - 1]
            if not h or (plan.primary_teacher and subject in PRIMARY_SUBJECTS):
                continue
            demand[subject] += h * (2 if subject in SPLIT_SUBJECTS and plan.grade >= 2 else 1)
    pools: dict[str, list[Teacher]] = {}
    special_room = 400
    for subject, weekly in sorted(demand.items()):
        pool: list[Teacher] = []
        for _ in range(max(2 if subject in SPLIT_SUBJECTS else 1, ceil(weekly / TEACHER_LOAD))):
            teacher = await hire(subject)
            special_room += 1
            room_name = (
                f"Спортзал {len([t for t in pool]) + 1}"
                if subject == "Физическая культура"
                else str(special_room)
            )
            room = await structure.create_room(
                system, school_id, s.RoomCreate(name=room_name, capacity=30)
            )
            teacher.room_id = room["id"]
            pool.append(teacher)
        pools[subject] = pool

    def least_loaded(subject: str, exclude: set[int] = frozenset()) -> Teacher:  # type: ignore[assignment]
        pool = [t for t in pools[subject] if t.staff_id not in exclude]
        return min(pool, key=lambda t: t.load)

    assignments: list[TeachingAssignment] = []
    for plan in plans:
        for subject, hours in HOURS.items():
            h = hours[plan.grade - 1]
            if not h:
                continue
            if plan.primary_teacher and subject in PRIMARY_SUBJECTS:
                assignments.append(
                    TeachingAssignment(
                        academic_year=year["id"],
                        teacher=plan.primary_teacher.staff_id,
                        subject=subjects[subject],
                        school_class=plan.class_id,
                    )
                )
                plan.teachers[subject] = [plan.primary_teacher]
                continue
            first = least_loaded(subject)
            first.load += h
            chosen = [first]
            if subject in SPLIT_SUBJECTS:
                second = least_loaded(subject, {first.staff_id})
                second.load += h
                chosen.append(second)
                groups = []
                for n in (1, 2):
                    group = await structure.create_group(
                        system,
                        school_id,
                        s.StudyGroupCreate(
                            academic_year_id=year["id"],
                            name=f"{plan.grade}{plan.letter} англ. {n} гр.",
                            subject_id=subjects[subject],
                            school_class_id=plan.class_id,
                        ),
                    )
                    groups.append(group["id"])
                plan.groups[subject] = (groups[0], groups[1])
            plan.teachers[subject] = chosen
            for n, teacher in enumerate(chosen):
                assignments.append(
                    TeachingAssignment(
                        academic_year=year["id"],
                        teacher=teacher.staff_id,
                        subject=subjects[subject],
                        school_class=None if subject in plan.groups else plan.class_id,
                        study_group=plan.groups[subject][n] if subject in plan.groups else None,
                    )
                )
    # The curriculum per grade and the teaching load, written in bulk (built consistent above).
    curriculum = [
        CurriculumItem(
            academic_year=year["id"],
            grade=grade,
            subject=subjects[subject],
            hours_per_week=hours[grade - 1],
        )
        for grade in range(1, 12)
        for subject, hours in HOURS.items()
        if hours[grade - 1]
    ]
    await CurriculumItem.insert(*curriculum)
    await TeachingAssignment.insert(*assignments)
    await structure.audit_write(
        system,
        "seed",
        "teaching_assignment",
        year["id"],
        school_id,
        assignments=len(assignments),
        curriculum_items=len(curriculum),
    )
    # Class teachers: the primary teacher, or a subject teacher (one class each).
    free = [t for pool in pools.values() for t in pool]
    rng.shuffle(free)
    for plan in plans:
        teacher = plan.primary_teacher or free.pop()
        await structure.update_class(
            system,
            school_id,
            plan.class_id,
            s.SchoolClassUpdate(class_teacher_id=teacher.staff_id),
        )
        await Staff.update({Staff.positions: ["teacher", "class_teacher"]}).where(
            Staff.id == teacher.staff_id
        )
    first_plan = (
        next(p for p in plans if p.grade == 5) if any(p.grade == 5 for p in plans) else plans[0]
    )
    seeded.first_class_id = first_plan.class_id
    seeded.first_class_teacher = (await structure.class_in_school(school_id, first_plan.class_id))[
        "class_teacher"
    ]
    seeded.math_teacher = pools["Математика"][0].staff_id
    progress("structure", 1)

    # The weekly timetable, checked by the timetable service like any coordinator's.
    week, unplaced = build_week(plans, rng)
    await timetable.create_entries(
        system,
        school_id,
        [
            s.TimetableEntryCreate(
                weekday=e["weekday"],
                lesson_number=e["lesson_number"],
                subject_id=subjects[e["subject"]],
                teacher_id=e["teacher_id"],
                room_id=e["room_id"],
                school_class_id=e.get("school_class_id"),
                study_group_id=e.get("study_group_id"),
                valid_from=starts,
                valid_to=calendar["last_lesson"],
            )
            for e in week
        ],
    )
    seeded.counts.update(timetable_entries=len(week), unplaced_hours=unplaced)
    progress("timetable", len(week))

    # Pupils and guardians. Written in bulk, one class at a time, in the shape the people
    # services give them (consent on file before any personal data, the book of movement's
    # admission); the services themselves take a dozen queries a pupil, too slow for a demo.
    pupils = 0
    for plan in plans:
        class_pupils = await _pupils_of_class(
            school_id, plan, people, rng, starts, consent_on, pupils_per_class
        )
        if class_pupils and plan.class_id == seeded.first_class_id:
            seeded.first_pupil, seeded.first_pupil_guardian = class_pupils[0]
        ids = [pupil for pupil, _ in class_pupils]
        for g1, g2 in plan.groups.values():
            half = len(ids) // 2
            members = [(g1, i) for i in ids[:half]] + [(g2, i) for i in ids[half:]]
            if members:
                await StudyGroupMember.insert(
                    *[StudyGroupMember(group=g, student=i, valid_from=starts) for g, i in members]
                )
        pupils += len(ids)
        progress("pupils", len(ids))
    await structure.audit_write(system, "seed", "student", school_id, school_id, pupils=pupils)
    seeded.counts["pupils"] = pupils

    if lessons:
        result = await timetable.generate_lessons(system, school_id, starts, ends)
        seeded.counts["lessons"] = result.created
        progress("lessons", result.created)
    if lessons and journal_weeks:
        # The journal of the weeks already taught: marks, absences, topics, homework.
        from backend.journal.seed import fill_term

        filled = await fill_term(school_id, weeks=journal_weeks, until=min(today, ends))
        seeded.counts["journal_lessons"] = filled.lessons
        seeded.counts["marks"] = filled.marks
        progress("journal", filled.lessons)
    return seeded


async def _pupils_of_class(
    school_id: int,
    plan: ClassPlan,
    people: People,
    rng: random.Random,
    year_starts: date,
    consent_on: date,
    count: int,
) -> list[tuple[int, int]]:
    """`count` pupils of one class, each with a mother and often a father: (pupil, mother)."""
    now = datetime.now(UTC)
    rows, families = [], []
    for _ in range(count):
        female = rng.random() < 0.5
        last, first, middle = people.name(female)
        address = people.address()
        grown = plan.grade >= 9
        rows.append(
            Student(
                school=school_id,
                personal_file_number=f"{plan.grade}{plan.letter}-{rng.randint(100, 999)}",
                last_name=last,
                first_name=first,
                middle_name=middle,
                birth_date=people.birth_date(year_starts.year - 6 - plan.grade),
                sex="ж" if female else "м",
                snils=people.snils(),
                document_kind="passport" if grown else "birth_certificate",
                document_series=f"92{rng.randint(10, 25)}" if grown else "IV-КБ",
                document_number=f"{rng.randint(100000, 999999)}",
                registration_address=address,
                residence_address=address,
                health_group=rng.choice(("I", "II", "II", "II", "III")),
                pe_group=rng.choice(("basic", "basic", "basic", "preparatory")),
                created_at=now,
                updated_at=now,
            )
        )
        parents = [("mother", True)] + ([("father", False)] if rng.random() < 0.6 else [])
        families.append((last, address, parents))
    student_ids = [r["id"] for r in await Student.insert(*rows).returning(Student.id)]
    guardians, links = [], []
    for student_id, (last, address, parents) in zip(student_ids, families, strict=True):
        for relation, female in parents:
            _, first, middle = people.name(female)
            guardians.append(
                Guardian(
                    last_name=_surname_form(last, female),
                    first_name=first,
                    middle_name=middle,
                    phone=people.phone(),
                    snils=people.snils(),
                    address=address,
                    created_at=now,
                )
            )
            links.append((student_id, relation))
    guardian_ids = [r["id"] for r in await Guardian.insert(*guardians).returning(Guardian.id)]
    await StudentGuardian.insert(
        *[
            StudentGuardian(student=st, guardian=g, relation=rel, is_legal_representative=True)
            for (st, rel), g in zip(links, guardian_ids, strict=True)
        ]
    )
    mothers = {}
    for (st, rel), g in zip(links, guardian_ids, strict=True):
        if rel == "mother":
            mothers[st] = g
    consents = [
        Consent(
            subject_kind="student",
            subject_id=st,
            kind="personal_data",
            given_by_guardian=mothers[st],
            given_on=consent_on,
            document_ref="Согласие законного представителя",
            created_at=now,
        )
        for st in student_ids
    ] + [
        Consent(
            subject_kind="guardian",
            subject_id=g,
            kind="personal_data",
            given_on=consent_on,
            document_ref="Согласие на обработку ПДн",
            created_at=now,
        )
        for g in guardian_ids
    ]
    await Consent.insert(*consents)
    await Enrollment.insert(
        *[
            Enrollment(
                student=st,
                school=school_id,
                school_class=plan.class_id,
                kind="admitted",
                date=year_starts,
                order_number=f"{rng.randint(10, 199)}-у",
                created_at=now,
            )
            for st in student_ids
        ]
    )
    return [(st, mothers[st]) for st in student_ids]


def _surname_form(surname: str, female: bool) -> str:
    for male_form, female_form in SURNAMES:
        if surname in (male_form, female_form):
            return female_form if female else male_form
    return surname


async def _guardian(
    system: Actor,
    student_id: int,
    people: People,
    child_surname: str,
    *,
    female_surname: bool,
    relation: str,
    consent_on: date,
) -> int:
    _, first, middle = people.name(female_surname)
    return await personal_files.create_guardian(
        system,
        {
            "last_name": _surname_form(child_surname, female_surname),
            "first_name": first,
            "middle_name": middle,
            "phone": people.phone(),
            "snils": people.snils(),
            "address": people.address(),
        },
        [{"student_id": student_id, "relation": relation, "is_legal_representative": True}],
        consent_data={"given_on": consent_on, "document_ref": "Согласие на обработку ПДн"},
    )


# ---- accounts --------------------------------------------------------------------------------


async def _account(passwords_hash: str, login: str, name: str, *grants: Grant) -> int:
    user = User(login=login, password_hash=passwords_hash, display_name=name)
    await user.save()
    for grant in grants:
        await RoleGrant.insert(
            RoleGrant(
                user=user.id,
                role=grant.role.value,
                scope_kind=grant.scope_kind.value,
                scope_id=grant.scope_id,
                parts=sorted(p.value for p in grant.parts) if grant.parts is not None else None,
                valid_until=grant.valid_until,
            )
        )
    return int(user.id)


async def _staff_name(staff_id: int) -> str:
    row = await structure.one(
        Staff.select(Staff.last_name, Staff.first_name, Staff.middle_name).where(
            Staff.id == staff_id
        )
    )
    return _full(row["last_name"], row["first_name"], row["middle_name"])


async def seed_demo(
    passwords: Passwords,
    *,
    schools: int = 1,
    classes_per_grade: int = 3,
    pupils_per_class: int = 25,
    lessons: bool = True,
    journal_weeks: int = 1,
    today: date | None = None,
    random_seed: int = 2026,
    progress: Progress = _no_progress,
) -> SeedResult:
    """Create the demo region and schools. Meant for an empty database."""
    rng = random.Random(random_seed)  # noqa: S311 - demo data, not secrets
    people = People(rng)
    today = today or today_in()
    async with transaction():
        region = Region(name="Республика Татарстан", code="16", time_zone="Europe/Moscow")
        await region.save()
        municipality = Municipality(region=region.id, name="г. Казань")
        await municipality.save()
        school_ids = []
        for n in range(1, schools + 1):
            school = School(
                municipality=municipality.id,
                full_name=f"Муниципальное бюджетное общеобразовательное учреждение «Средняя "
                f"общеобразовательная школа № {n}» Вахитовского района г. Казани",
                short_name=f"МБОУ «СОШ № {n}»",
                inn=f"16550{n:05d}",
                address=f"420111, Республика Татарстан, г. Казань, ул. Баумана, д. {n}",
                time_zone="Europe/Moscow",
                settings={},
            )
            await school.save()
            school_ids.append(school.id)
    seeds = []
    for school_id in school_ids:
        async with transaction():
            seeds.append(
                await seed_school(
                    school_id,
                    rng=rng,
                    people=people,
                    classes_per_grade=classes_per_grade,
                    pupils_per_class=pupils_per_class,
                    today=today,
                    progress=progress,
                    lessons=lessons,
                    journal_weeks=journal_weeks,
                )
            )
        progress("school", 1)
    first = seeds[0]
    school_id = first.school_id
    h = await passwords.hash(DEMO_PASSWORD)
    logins: list[DemoLogin] = []

    def school_grant(role: Role) -> Grant:
        return Grant(role, ScopeKind.SCHOOL, school_id)

    async with transaction():
        staff_people = [
            (
                Role.SYSTEM_ADMIN,
                "admin",
                "Администратор системы",
                [Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM)],
            ),
            (
                Role.REGIONAL_OFFICIAL,
                "region",
                "Гарипова Алсу Ринатовна",
                [Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, region.id)],
            ),
            (
                Role.MUNICIPAL_OFFICIAL,
                "municipality",
                "Сафин Марат Ильдарович",
                [Grant(Role.MUNICIPAL_OFFICIAL, ScopeKind.MUNICIPALITY, municipality.id)],
            ),
            (
                Role.SCHOOL_COORDINATOR,
                "coordinator",
                "Петрова Елена Викторовна",
                [school_grant(Role.SCHOOL_COORDINATOR)],
            ),
            (
                Role.SCHOOL_ADMIN,
                "schooladmin",
                "Захаров Игорь Олегович",
                [school_grant(Role.SCHOOL_ADMIN)],
            ),
            (
                Role.SECRETARY,
                "secretary",
                "Миннуллина Гульнара Ришатовна",
                [school_grant(Role.SECRETARY)],
            ),
            (Role.NURSE, "nurse", "Кузнецова Татьяна Петровна", [school_grant(Role.NURSE)]),
            (Role.CATERER, "caterer", "ООО «Школьное питание»", [school_grant(Role.CATERER)]),
            (
                Role.SECURITY,
                "security",
                "Хабибуллин Рустем Айдарович",
                [school_grant(Role.SECURITY)],
            ),
        ]
        for role, login, name, grants in staff_people:
            await _account(h, login, name, *grants)
            logins.append(DemoLogin(role, login, name))
            progress("accounts", 1)
        # A subject teacher and a class teacher, each linked to their staff record.
        for role, login, staff_id, grants in (
            (Role.TEACHER, "teacher", first.math_teacher, [school_grant(Role.TEACHER)]),
            (
                Role.CLASS_TEACHER,
                "classteacher",
                first.first_class_teacher,
                [
                    school_grant(Role.TEACHER),
                    Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, first.first_class_id),
                ],
            ),
        ):
            name = await _staff_name(staff_id)
            user_id = await _account(h, login, name, *grants)
            await Staff.update({Staff.user_id: user_id}).where(Staff.id == staff_id)
            logins.append(DemoLogin(role, login, name))
            # Classes this person already leads: the role follows the class (decision 0206)
            # once the staff record has an account, as it would for a class named now.
            for led in await SchoolClass.select(SchoolClass.id).where(
                SchoolClass.class_teacher == staff_id
            ):
                await follow_class_teacher(Actor.system(), led["id"], None, staff_id, accounts=None)
        # A parent, their child, and a grandmother the parent trusts with the diary.
        pupil = await structure.one(
            Student.select(Student.last_name, Student.first_name, Student.middle_name).where(
                Student.id == first.first_pupil
            )
        )
        guardian = await structure.one(
            Guardian.select(Guardian.last_name, Guardian.first_name, Guardian.middle_name).where(
                Guardian.id == first.first_pupil_guardian
            )
        )
        parent_name = _full(guardian["last_name"], guardian["first_name"], guardian["middle_name"])
        parent_id = await _account(
            h, "parent", parent_name, Grant(Role.GUARDIAN, ScopeKind.STUDENT, first.first_pupil)
        )
        await Guardian.update({Guardian.user_id: parent_id}).where(
            Guardian.id == first.first_pupil_guardian
        )
        logins.append(DemoLogin(Role.GUARDIAN, "parent", parent_name))
        # The parent has the app on a phone and linked the Telegram bot, so the demo's
        # notifications reach the push and Telegram stand-ins (see /demo/deliveries).
        now = datetime.now(UTC)
        await DeviceToken.insert(
            DeviceToken(
                user_id=parent_id, token=DEMO_DEVICE_TOKEN, created_at=now, last_seen_at=now
            )
        )
        await MessengerChat.insert(
            MessengerChat(
                user_id=parent_id, messenger="telegram", chat_id=DEMO_TELEGRAM_CHAT, linked_at=now
            )
        )
        # Telegram is a service abroad: the parent, the child's legal representative, gave the
        # cross-border consent in the bot (decision 0620), so the demo's Telegram chat shows the
        # child's diary as README's steps do, and alerts there carry their full text.
        await Consent.insert(
            Consent(
                subject_kind="student",
                subject_id=first.first_pupil,
                kind="cross_border",
                given_by_guardian=first.first_pupil_guardian,
                given_on=min(today, today_in()),
                document_ref="Telegram-бот",
                recorded_by=parent_id,
                created_at=now,
            )
        )
        # ... and has switched quiet hours off, so that a newcomer sees the deliveries arrive
        # at whatever hour they try the demo (the school's default holds them 21:00-07:00).
        await NotificationPreference.insert(
            NotificationPreference(
                user_id=parent_id, kind="*", quiet_from="00:00", quiet_to="00:00", updated_at=now
            )
        )
        pupil_name = _full(pupil["last_name"], pupil["first_name"], pupil["middle_name"])
        pupil_user = await _account(
            h, "pupil", pupil_name, Grant(Role.PUPIL, ScopeKind.STUDENT, first.first_pupil)
        )
        await Student.update({Student.user_id: pupil_user}).where(Student.id == first.first_pupil)
        logins.append(DemoLogin(Role.PUPIL, "pupil", pupil_name))
        grandma = f"{_surname_form(pupil['last_name'], True)} Валентина Ивановна"
        until = datetime.combine(structure.default_year_dates(today)[2], time(23, 59), tzinfo=UTC)
        parts = frozenset({Permission.DIARY_READ, Permission.MEALS_ORDER})
        delegate_grant = Grant(Role.DELEGATE, ScopeKind.STUDENT, first.first_pupil, until, parts)
        delegate_user = await _account(h, "delegate", grandma, delegate_grant)
        grant_row = await structure.one(
            RoleGrant.select(RoleGrant.id).where(RoleGrant.user == delegate_user)
        )
        await Delegate.insert(
            Delegate(
                student=first.first_pupil,
                granted_by=first.first_pupil_guardian,
                delegate_user_id=delegate_user,
                full_name=grandma,
                phone=people.phone(),
                parts=sorted(p.value for p in parts),
                valid_from=datetime.now(UTC),
                valid_until=until,
                role_grant_id=grant_row["id"],
            )
        )
        logins.append(DemoLogin(Role.DELEGATE, "delegate", grandma))
        progress("accounts", 5)
    # The demo family's meals (a menu, money on the child's account) and entries (a turnstile,
    # the child's card and passes of the last two weeks), through those contexts' services.
    from backend.access.seed import seed_demo_entries
    from backend.meals.seed import seed_demo_meals

    extra = await seed_demo_meals(school_id, first.first_pupil, today)
    extra.update(await seed_demo_entries(school_id, first.first_pupil, today, rng))
    first.counts.update(extra)
    counts: dict[str, int] = defaultdict(int)
    for seed in seeds:
        for key, value in seed.counts.items():
            counts[key] += value
    return SeedResult(region.id, municipality.id, school_ids, logins, dict(counts))


def describe_logins(result: SeedResult) -> list[tuple[str, str, str]]:
    return [(t(f"role.{d.role.value}"), d.login, d.display_name) for d in result.logins]
