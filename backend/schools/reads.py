"""The schools tables other contexts may join against, for reading only.

The journal's and the reports' queries are set-based joins over lessons, pupils, classes and
periods (the diary week is one query; a class sheet a handful): going through service calls
row by row would cost them their speed, so a join is the honest design. They name what they
read through this module, never `backend.schools.tables`, and never write through it: a write
goes through a service (`backend.schools.timetable.services.journal_wrote` for a lesson's
version and topic). `tests/unit/test_boundaries.py` holds the "never write" rule; import-linter
holds the rest (docs/developing.md, "Boundaries").
"""

from __future__ import annotations

from backend.schools.tables import (
    BellSchedule,
    Lesson,
    LessonPlan,
    School,
    SchoolClass,
    Staff,
    Student,
    StudyGroup,
    StudyGroupMember,
    StudyPeriod,
    Subject,
    TeachingAssignment,
)

__all__ = [
    "BellSchedule",
    "Lesson",
    "LessonPlan",
    "School",
    "SchoolClass",
    "Staff",
    "Student",
    "StudyGroup",
    "StudyGroupMember",
    "StudyPeriod",
    "Subject",
    "TeachingAssignment",
]
