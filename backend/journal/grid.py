"""The class-and-subject journal grid for a span of dates (the staff web's journal page): the
lessons across, the pupils down, each cell's attendance and marks with their versions, and
whether each lesson may be written now (marking window, closed period, not the reader's lesson).

Who reads it is who reads the lessons in it (decision 0352): the coordinator (`journal.manage`),
the class teacher of the class, and a teacher of the class in that subject. Anyone else: 404.
Writes do not go through here: the page saves each cell through `sync.sync_lesson`, the same
path as the teacher app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import class_name
from backend.core.rights import Permission, Role, ScopeKind, ScopeTarget
from backend.journal.lessons import DEFAULT_MARKING_WINDOW_DAYS, staff_ids_of, teaches_class
from backend.journal.scales import scale_for
from backend.journal.tables import AttendanceRecord, Homework, LessonRecord, Mark
from backend.journal.work_kinds import Kind, work_kinds_of
from backend.schools.people import movement
from backend.schools.reads import (
    Lesson,
    SchoolClass,
    Staff,
    Student,
    StudyGroup,
    StudyGroupMember,
    StudyPeriod,
    Subject,
    TeachingAssignment,
)
from backend.schools.services import schools_in_scope

READ = (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
LOCK_PERIOD = "period_closed"
LOCK_WINDOW = "window_passed"
LOCK_NOT_YOURS = "not_your_lesson"
LOCK_READ_ONLY = "read_only"
LOCK_NOT_IN_GROUP = "not_in_group"
# A lesson still to come: its register and marks wait for its day (the sync refuses them), its
# topic and homework may be written ahead, so the lesson itself is not locked, only its cells.
LOCK_NOT_STARTED = "not_started"


@dataclass(slots=True)
class GridHomework:
    id: int | None
    text: str
    due_date: date | None
    version: int | None
    files: list[dict[str, Any]] = field(default_factory=list)  # id, file_name, size


@dataclass(slots=True)
class GridLesson:
    id: int
    date: date
    lesson_number: int
    topic: str
    version: int
    lock: str | None  # None: the reader may write it now
    topic_version: int = 0  # the version a topic edit is based on (the sync's conflict check)
    homework: GridHomework | None = None  # the lesson's first homework (the grid edits one)
    group: str = ""  # the study group's name for a group's lesson ("" for the whole class)
    not_started: bool = False  # after the school's today: no register or marks yet

    @property
    def cells_lock(self) -> str | None:
        """Why its cells take no key: the lesson's lock, else that it is still to come."""
        return self.lock or (LOCK_NOT_STARTED if self.not_started else None)


@dataclass(slots=True)
class GridMark:
    id: int
    value: str
    work_kind: str
    version: int


@dataclass(slots=True)
class GridCell:
    attendance: str | None = None  # absent, sick, excused, late; None: present / not taken
    attendance_version: int | None = None
    marks: list[GridMark] = field(default_factory=list)


@dataclass(slots=True)
class GridPupil:
    id: int
    name: str


@dataclass(slots=True)
class JournalGrid:
    school_id: int
    class_id: int
    class_name: str
    subject_id: int
    subject_name: str
    date_from: date
    date_to: date
    marking_window_days: int
    lessons: list[GridLesson]
    pupils: list[GridPupil]
    cells: dict[tuple[int, int], GridCell]  # (pupil, lesson)
    work_kinds: list[Kind]
    # (pupil, lesson) of a group's lesson the pupil is not in: shown empty and locked.
    outside: set[tuple[int, int]] = field(default_factory=set)
    marked: bool = True  # whether the grade is given marks (final marks exist)

    def cell(self, pupil_id: int, lesson_id: int) -> GridCell:
        return self.cells.get((pupil_id, lesson_id)) or GridCell()

    def lock(self, pupil_id: int, lesson: GridLesson) -> str | None:
        if (pupil_id, lesson.id) in self.outside:
            return LOCK_NOT_IN_GROUP
        return lesson.cells_lock


@dataclass(frozen=True, slots=True)
class JournalChoice:
    school_id: int
    class_id: int
    class_name: str
    subject_id: int
    subject_name: str


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _class_place(class_id: int) -> tuple[dict[str, Any], ScopeTarget]:
    row = await (
        SchoolClass.select(
            SchoolClass.id,
            SchoolClass.grade,
            SchoolClass.letter,
            SchoolClass.school,
            SchoolClass.academic_year,
            SchoolClass.school.municipality.as_alias("municipality"),
            SchoolClass.school.municipality.region.as_alias("region"),  # type: ignore[union-attr]
            SchoolClass.school.time_zone.as_alias("time_zone"),
            SchoolClass.school.settings.as_alias("settings"),
        )
        .where(SchoolClass.id == class_id)
        .first()
    )
    if row is None:
        raise NotFound()
    target = ScopeTarget(
        region_id=row["region"],
        municipality_id=row["municipality"],
        school_id=row["school"],
        class_id=class_id,
        class_ids=frozenset({class_id}),
    )
    return row, target


async def _reader(actor: Actor, target: ScopeTarget, subject_id: int) -> tuple[bool, set[int]]:
    """Refuse (404) anyone who may not read this class's journal in this subject. Answers
    whether the reader manages the journal here and the reader's staff ids at the school."""
    principal = actor.principal
    assert target.school_id is not None and target.class_id is not None
    if principal is None:
        return True, set()
    if not any(principal.allows(p, target) for p in READ):
        raise NotFound()
    mine = await staff_ids_of(principal.user_id, target.school_id)
    if principal.allows(Permission.JOURNAL_MANAGE, target):
        return True, mine
    if any(
        g.role is Role.CLASS_TEACHER
        and g.scope_kind is ScopeKind.CLASS
        and g.scope_id == target.class_id
        for g in principal.live_grants()
    ):
        return False, mine
    if await teaches_class(principal.user_id, target.school_id, target.class_id, subject_id):
        return False, mine
    raise NotFound()


async def journal_grid(
    actor: Actor, class_id: int, subject_id: int, date_from: date | None, date_to: date | None
) -> JournalGrid:
    place, target = await _class_place(class_id)
    manager, mine = await _reader(actor, target, subject_id)
    subject = await (
        Subject.select(Subject.id, Subject.name)
        .where((Subject.id == subject_id) & (Subject.school == place["school"]))
        .first()
    )
    if subject is None:
        raise NotFound()
    settings = _json(place["settings"]) or {}
    today = today_in(place["time_zone"])
    periods = await StudyPeriod.select(
        StudyPeriod.starts_on, StudyPeriod.ends_on, StudyPeriod.grades, StudyPeriod.closed_at
    ).where(StudyPeriod.academic_year == place["academic_year"])
    periods = [p for p in periods if not _json(p["grades"]) or place["grade"] in _json(p["grades"])]
    if date_from is None or date_to is None:
        # The study period of today (or the nearest one) by default, else the last four weeks.
        current = next((p for p in periods if p["starts_on"] <= today <= p["ends_on"]), None)
        date_from = date_from or (current["starts_on"] if current else today - timedelta(days=28))
        date_to = date_to or (current["ends_on"] if current else today)
    window = settings.get("marking_window_days", DEFAULT_MARKING_WINDOW_DAYS)
    window = int(window) if isinstance(window, int | float | str) else DEFAULT_MARKING_WINDOW_DAYS
    writer = actor.principal is None or actor.principal.allows(Permission.JOURNAL_WRITE, target)
    pupils: dict[int, str] = {}
    for day in sorted({date_from, min(date_to, max(today, date_from))}):
        for p in await movement.students_of_class(class_id, day):
            pupils.setdefault(p.id, f"{p.last_name} {p.first_name}")
    groups = await _groups_of(class_id, set(pupils))
    rows = (
        await Lesson.select(
            Lesson.id,
            Lesson.date,
            Lesson.lesson_number,
            Lesson.topic,
            Lesson.version,
            Lesson.teacher,
            Lesson.replacement_teacher,
            Lesson.study_group,
            Lesson.school_class,
        )
        .where(
            ((Lesson.school_class == class_id) | Lesson.study_group.is_in(sorted(groups) or [-1]))
            & (Lesson.subject == subject_id)
            & (Lesson.date >= date_from)
            & (Lesson.date <= date_to)
            & (Lesson.status != "cancelled")
        )
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
    )

    def lock_of(row: dict[str, Any]) -> str | None:
        day = row["date"]
        closed = any(
            p["closed_at"] is not None and p["starts_on"] <= day <= p["ends_on"] for p in periods
        )
        if closed:
            return LOCK_PERIOD
        if manager:
            return None
        if not writer:
            return LOCK_READ_ONLY
        if row["teacher"] not in mine and row["replacement_teacher"] not in mine:
            return LOCK_NOT_YOURS
        if day < today - timedelta(days=window):
            return LOCK_WINDOW
        return None

    lessons = [
        GridLesson(
            r["id"],
            r["date"],
            r["lesson_number"],
            r["topic"] or "",
            r["version"],
            lock_of(r),
            group=groups.get(r["study_group"], ""),
            not_started=r["date"] > today,
        )
        for r in rows
    ]
    outside = await _outside_groups(
        [(r["id"], r["study_group"], r["date"]) for r in rows if r["study_group"] in groups],
        set(pupils),
    )
    ids = [lesson.id for lesson in lessons]
    cells: dict[tuple[int, int], GridCell] = {}
    kinds = await work_kinds_of(place["school"])
    code_of = {k.id: k.code for k in kinds.values()}
    if ids:
        topic_versions = {
            r["lesson"]: r["topic_version"]
            for r in await LessonRecord.select(
                LessonRecord.lesson, LessonRecord.topic_version
            ).where(LessonRecord.lesson.is_in(ids))
        }
        homework = await _first_homework(ids)
        for lesson in lessons:
            lesson.topic_version = topic_versions.get(lesson.id) or 0
            lesson.homework = homework.get(lesson.id)
        for a in await AttendanceRecord.select(
            AttendanceRecord.lesson,
            AttendanceRecord.student,
            AttendanceRecord.status,
            AttendanceRecord.version,
        ).where(AttendanceRecord.lesson.is_in(ids)):
            cell = cells.setdefault((a["student"], a["lesson"]), GridCell())
            cell.attendance = None if a["status"] == "present" else a["status"]
            cell.attendance_version = a["version"]
        for m in (
            await Mark.select(
                Mark.id, Mark.lesson, Mark.student, Mark.value, Mark.work_kind, Mark.version
            )
            .where(Mark.lesson.is_in(ids) & Mark.deleted_at.is_null())
            .order_by(Mark.id)
        ):
            cell = cells.setdefault((m["student"], m["lesson"]), GridCell())
            cell.marks.append(
                GridMark(m["id"], m["value"], code_of.get(m["work_kind"], ""), m["version"])
            )
        # A pupil who left or came in the middle still shows where they have entries.
        # Not a pupil of another class in a group of several classes, though.
        others = {r["id"] for r in rows if r["school_class"] != class_id}
        missing = {s for s, lesson_id in cells if lesson_id not in others} - set(pupils)
        if missing:
            for r in await Student.select(Student.id, Student.last_name, Student.first_name).where(
                Student.id.is_in(sorted(missing))
            ):
                pupils[r["id"]] = f"{r['last_name']} {r['first_name']}"
    return JournalGrid(
        school_id=place["school"],
        class_id=class_id,
        class_name=class_name(place["grade"], place["letter"]),
        subject_id=subject_id,
        subject_name=subject["name"],
        date_from=date_from,
        date_to=date_to,
        marking_window_days=window,
        lessons=lessons,
        pupils=[GridPupil(i, n) for i, n in sorted(pupils.items(), key=lambda x: (x[1], x[0]))],
        cells=cells,
        work_kinds=sorted(kinds.values(), key=lambda k: k.id),
        outside=outside,
        marked=_marked(settings, place["grade"], subject_id),
    )


def _marked(settings: dict[str, Any], grade: int, subject_id: int) -> bool:
    try:
        scale_for(settings, grade, subject_id)
    except ValidationFailed:
        return False
    return True


async def _groups_of(class_id: int, pupils: set[int]) -> dict[int, str]:
    """The study groups whose lessons belong in this class's grid: the class's own groups and
    groups of several classes with a pupil of this class."""
    found = {
        r["id"]: r["name"]
        for r in await StudyGroup.select(StudyGroup.id, StudyGroup.name).where(
            StudyGroup.school_class == class_id
        )
    }
    if pupils:
        found.update(
            {
                r["group"]: r["group.name"]
                for r in await StudyGroupMember.select(
                    StudyGroupMember.group, StudyGroupMember.group.name
                )
                .where(StudyGroupMember.student.is_in(sorted(pupils)))
                .distinct()
            }
        )
    return found


async def _outside_groups(
    lessons: list[tuple[int, int, date]], pupils: set[int]
) -> set[tuple[int, int]]:
    """(pupil, lesson) pairs of the group lessons a pupil of the grid is not a member of."""
    if not lessons or not pupils:
        return set()
    rows = await StudyGroupMember.select(
        StudyGroupMember.group,
        StudyGroupMember.student,
        StudyGroupMember.valid_from,
        StudyGroupMember.valid_to,
    ).where(StudyGroupMember.group.is_in(sorted({g for _, g, _ in lessons})))
    outside: set[tuple[int, int]] = set()
    for lesson_id, group_id, day in lessons:
        members = {
            r["student"]
            for r in rows
            if r["group"] == group_id
            and r["valid_from"] <= day
            and (r["valid_to"] is None or r["valid_to"] >= day)
        }
        outside |= {(p, lesson_id) for p in pupils - members}
    return outside


async def journal_cell(actor: Actor, lesson_id: int, student_id: int) -> GridCell:
    """One cell as the grid shows it (after a save). The caller has read the lesson's rights
    through the sync (a write) or the grid."""
    cell = GridCell()
    row = await (
        AttendanceRecord.select(AttendanceRecord.status, AttendanceRecord.version)
        .where((AttendanceRecord.lesson == lesson_id) & (AttendanceRecord.student == student_id))
        .first()
    )
    if row is not None:
        cell.attendance = None if row["status"] == "present" else row["status"]
        cell.attendance_version = row["version"]
    marks = (
        await Mark.select(Mark.id, Mark.value, Mark.work_kind, Mark.version)
        .where(
            (Mark.lesson == lesson_id) & (Mark.student == student_id) & Mark.deleted_at.is_null()
        )
        .order_by(Mark.id)
    )
    cell.marks = [GridMark(m["id"], m["value"], "", m["version"]) for m in marks]
    return cell


async def _first_homework(lesson_ids: list[int]) -> dict[int, GridHomework]:
    rows = (
        await Homework.select(
            Homework.id,
            Homework.lesson,
            Homework.text,
            Homework.due_date,
            Homework.version,
            Homework.attachments,
        )
        .where(Homework.lesson.is_in(lesson_ids) & Homework.deleted_at.is_null())
        .order_by(Homework.id)
    )
    found: dict[int, GridHomework] = {}
    for r in rows:
        files = list(_json(r["attachments"]) or [])
        found.setdefault(
            r["lesson"], GridHomework(r["id"], r["text"], r["due_date"], r["version"], files)
        )
    return found


async def journal_homework(lesson_id: int) -> GridHomework | None:
    """A lesson's first homework as the grid shows it (after a save through the sync)."""
    return (await _first_homework([lesson_id])).get(lesson_id)


async def journal_topic(lesson_id: int) -> tuple[str, int]:
    """A lesson's topic and its version, as the grid shows them (after a save: the caller has
    been through the sync's rights)."""
    lesson = await Lesson.select(Lesson.topic).where(Lesson.id == lesson_id).first()
    record_ = (
        await LessonRecord.select(LessonRecord.topic_version)
        .where(LessonRecord.lesson == lesson_id)
        .first()
    )
    topic = (lesson or {}).get("topic") or ""
    return topic, int((record_ or {}).get("topic_version") or 0)


async def journal_choices(actor: Actor, school_id: int | None = None) -> list[JournalChoice]:
    """The class-and-subject journals the person may open: every class and subject with
    lessons at a school they manage the journal of; their classes as a class teacher; the
    classes and subjects they teach. A system-wide manager's list is of `school_id` (none
    without it: too many to list)."""
    principal = actor.principal
    if principal is None:
        return []
    managed: set[int] = set()
    everywhere = False
    for permission in READ:
        found = await schools_in_scope(principal, permission)
        if found is None:
            everywhere = True
        elif permission is Permission.JOURNAL_MANAGE:
            managed |= found
    if everywhere and principal.is_system(Permission.JOURNAL_MANAGE):
        if school_id is None:
            return []  # a system-wide manager picks the school first (too many to list)
        managed = {school_id}
    own_classes = {
        g.scope_id
        for g in principal.live_grants()
        if g.role is Role.CLASS_TEACHER and g.scope_kind is ScopeKind.CLASS and g.scope_id
    }
    staff_ids = [
        r["id"] for r in await Staff.select(Staff.id).where(Staff.user_id == principal.user_id)
    ]
    pairs: set[tuple[int, int]] = set()
    ta = TeachingAssignment
    if staff_ids:
        for r in await ta.select(ta.school_class, ta.subject).where(
            ta.teacher.is_in(staff_ids) & ta.school_class.is_not_null()
        ):
            pairs.add((r["school_class"], r["subject"]))
        for r in (
            await Lesson.select(Lesson.school_class, Lesson.subject)
            .where(
                (Lesson.teacher.is_in(staff_ids) | Lesson.replacement_teacher.is_in(staff_ids))
                & Lesson.school_class.is_not_null()
            )
            .distinct()
        ):
            pairs.add((r["school_class"], r["subject"]))
    where: Any = None
    if managed:
        where = Lesson.school.is_in(sorted(managed))
    if own_classes:
        own = Lesson.school_class.is_in(sorted(own_classes))
        where = own if where is None else where | own
    if where is not None:
        for r in (
            await Lesson.select(Lesson.school_class, Lesson.subject)
            .where(where & Lesson.school_class.is_not_null())
            .distinct()
        ):
            pairs.add((r["school_class"], r["subject"]))
    if not pairs:
        return []
    classes = {
        r["id"]: r
        for r in await SchoolClass.select(
            SchoolClass.id, SchoolClass.grade, SchoolClass.letter, SchoolClass.school
        ).where(SchoolClass.id.is_in(sorted({c for c, _ in pairs})))
    }
    subjects = {
        r["id"]: r["name"]
        for r in await Subject.select(Subject.id, Subject.name).where(
            Subject.id.is_in(sorted({s for _, s in pairs}))
        )
    }
    choices = [
        JournalChoice(
            classes[c]["school"],
            c,
            class_name(classes[c]["grade"], classes[c]["letter"]),
            s,
            subjects.get(s, ""),
        )
        for c, s in pairs
        if c in classes
    ]
    return sorted(
        choices,
        key=lambda x: (x.school_id, classes[x.class_id]["grade"], x.class_name, x.subject_name),
    )
