"""A small school to test people on: a year, classes, pupils and signed-in staff."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from backend.core.context import Actor
from backend.schools.people import movement
from backend.schools.tables import AcademicYear, SchoolClass, Student
from tests.conftest import Backend
from tests.support import make_tenancy

YEAR_START = date(2026, 9, 1)
YEAR_END = date(2027, 8, 31)


@dataclass
class School:
    ids: dict[str, int]
    classes: dict[str, int] = field(default_factory=dict)
    other_classes: dict[str, int] = field(default_factory=dict)

    @property
    def school_id(self) -> int:
        return self.ids["school_a"]


async def make_school(world: Backend) -> School:
    """School A with classes 5А, 5Б, 9А, 11А in 2026/2027; school C (other region) with 5А."""
    ids = await make_tenancy(world)
    school = School(ids)
    for key, target in (("school_a", school.classes), ("school_c", school.other_classes)):
        year = AcademicYear(
            school=ids[key], name="2026/2027", starts_on=YEAR_START, ends_on=YEAR_END
        )
        await year.save()
        labels = ("5А", "5Б", "9А", "11А") if key == "school_a" else ("5А",)
        for label in labels:
            row = SchoolClass(
                school=ids[key], academic_year=year.id, grade=int(label[:-1]), letter=label[-1]
            )
            await row.save()
            target[label] = row.id
    return school


async def add_pupil(
    school_id: int, last_name: str, first_name: str, class_id: int | None = None
) -> int:
    """A pupil with names only, admitted to `class_id` on 1 September when given."""
    row = Student(school=school_id, last_name=last_name, first_name=first_name)
    await row.save()
    if class_id is not None:
        await movement.record_movement(
            Actor.system(), row.id, "admitted", YEAR_START, "1-у", class_id=class_id
        )
    return int(row.id)
