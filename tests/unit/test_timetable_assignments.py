"""Whether teaching assignments cover a timetable entry's whole validity (pure logic)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.core.errors import ValidationFailed
from backend.schools.timetable.conflicts import Occupant
from backend.schools.timetable.entries import _Refs

YEAR = {"id": 1, "name": "2026/2027", "starts_on": date(2026, 9, 1), "ends_on": date(2027, 8, 31)}


def refs(*spans: tuple[date, date]) -> _Refs:
    return _Refs(
        classes={10: {"id": 10, "grade": 5, "letter": "А", "shift": 1, "academic_year": 1}},
        groups={},
        subjects={3: "Математика"},
        staff={7},
        rooms=set(),
        years={1: YEAR},
        teacher_names={7: "Иванова М. П."},
        assignments={(7, 3, 10, None): list(spans)} if spans else {},
    )


def entry(starts: date, ends: date) -> Occupant:
    return Occupant(
        id=-1,
        day=1,
        lesson_number=1,
        shift=1,
        class_id=10,
        group_id=None,
        teacher_id=7,
        room_id=None,
        subject_id=3,
        valid_from=starts,
        valid_to=ends,
        who="5«А»",
        subject="Математика",
    )


def test_pieces_that_meet_cover_the_entry() -> None:
    pieces = refs((date(2027, 1, 1), date(2027, 8, 31)), (date(2026, 9, 1), date(2026, 12, 31)))
    pieces.check_assigned(entry(date(2026, 9, 1), date(2027, 5, 31)), None, 1)


@pytest.mark.parametrize(
    ("spans", "gap"),
    [
        ((), "01.09.2026"),
        (((date(2026, 9, 1), date(2026, 12, 31)),), "01.01.2027"),
        (
            ((date(2026, 9, 1), date(2026, 12, 30)), (date(2027, 1, 2), date(2027, 8, 31))),
            "31.12.2026",
        ),
        (((date(2026, 10, 1), date(2027, 8, 31)),), "01.09.2026"),
    ],
)
def test_a_gap_is_refused_and_named(spans: tuple[tuple[date, date], ...], gap: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        refs(*spans).check_assigned(entry(date(2026, 9, 1), date(2027, 5, 31)), None, 1)
    assert f"на {gap}–31.05.2027" in refused.value.message
    assert "Иванова М. П." in refused.value.message and "в 5«А»" in refused.value.message
