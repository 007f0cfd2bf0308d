"""The journal tables other contexts (the reports) may join against, for reading only; see
`backend.schools.reads` for why and the rules."""

from __future__ import annotations

from backend.journal.tables import AttendanceRecord, FinalMark, LessonRecord, Mark

__all__ = ["AttendanceRecord", "FinalMark", "LessonRecord", "Mark"]
