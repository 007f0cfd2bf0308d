"""Grading scales: symbols, points, rounding of averages, grade 1, averages."""

from __future__ import annotations

import pytest

from backend.core.errors import ValidationFailed
from backend.journal.scales import SCALES, plain_average, scale_for, weighted_average


def test_five_point_scale_is_the_default_and_grade_one_has_no_marks() -> None:
    assert scale_for({}, 5, 1).code == "five"
    with pytest.raises(ValidationFailed) as refused:
        scale_for({}, 1, 1)
    assert refused.value.message == "В 1 классе отметки не выставляются."
    settings = {"grading": {"subjects": {"7": "pass_fail"}, "unmarked_grades": []}}
    assert scale_for(settings, 1, 7).code == "pass_fail"
    assert scale_for(settings, 1, 8).code == "five"


def test_symbols_and_points() -> None:
    assert SCALES["five"].points("4") == 4.0
    assert SCALES["pass_fail"].points("зач") is None
    assert SCALES["hundred"].points("87") == 87.0
    with pytest.raises(ValidationFailed):
        SCALES["five"].points("6")


@pytest.mark.parametrize(
    ("average", "symbol"), [(4.5, "5"), (4.49, "4"), (2.6, "3"), (1.2, "1"), (3.0, "3")]
)
def test_proposed_symbol_rounds_half_up(average: float, symbol: str) -> None:
    assert SCALES["five"].symbol_for(average) == symbol


def test_averages_skip_marks_without_points() -> None:
    assert weighted_average([(5, 1), (3, 2), (None, 3)]) == round(11 / 3, 2)
    assert weighted_average([(None, 1)]) is None
    assert plain_average([5, 4, None]) == 4.5
