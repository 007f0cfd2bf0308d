"""The timetable's published use cases: entries, generation, lessons and holidays (the modules
beside this one hold them by section).
"""

from __future__ import annotations

from backend.schools.timetable.board import (
    OVERLOAD_HOURS,
    RATE_HOURS,
    Board,
    TeacherLoad,
    school_choices,
    teacher_loads,
    timetable_board,
)
from backend.schools.timetable.conflicts import ConflictIndex, load_bells
from backend.schools.timetable.entries import (
    create_entries,
    delete_entry,
    list_entries,
    update_entry,
)
from backend.schools.timetable.generation import HolidayCalendar, generate_lessons, load_holidays
from backend.schools.timetable.holidays import create_holiday, delete_holiday, list_holidays
from backend.schools.timetable.lessons import (
    cancel_for_holiday,
    cancel_lesson,
    change_room,
    get_lesson,
    journal_wrote,
    list_lessons,
    move_lesson,
    my_lessons,
    my_staff,
    restore_lesson,
    set_replacement,
    set_topics,
)

__all__ = [
    "OVERLOAD_HOURS",
    "RATE_HOURS",
    "Board",
    "ConflictIndex",
    "HolidayCalendar",
    "TeacherLoad",
    "cancel_for_holiday",
    "cancel_lesson",
    "change_room",
    "create_entries",
    "create_holiday",
    "delete_entry",
    "delete_holiday",
    "generate_lessons",
    "get_lesson",
    "journal_wrote",
    "list_entries",
    "list_holidays",
    "list_lessons",
    "load_bells",
    "load_holidays",
    "move_lesson",
    "my_lessons",
    "my_staff",
    "restore_lesson",
    "school_choices",
    "set_replacement",
    "set_topics",
    "teacher_loads",
    "timetable_board",
    "update_entry",
]
