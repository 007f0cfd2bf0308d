"""The written forms shared by every page and message: a class's place in a list, a number."""

from __future__ import annotations

from decimal import Decimal

from backend.core.forms import class_name, class_order, ru_number


def test_classes_go_by_grade_then_letter() -> None:
    classes = [(10, "А"), (2, "Б"), (11, "А"), (2, "А"), (10, "Б"), (9, "В")]
    ordered = [class_name(*c) for c in sorted(classes, key=lambda c: class_order(*c))]
    assert ordered == ["2«А»", "2«Б»", "9«В»", "10«А»", "10«Б»", "11«А»"]


def test_numbers_take_a_decimal_comma() -> None:
    assert ru_number(88.0) == "88,0"
    assert ru_number(4.27) == "4,27"
    assert ru_number(Decimal("105.50")) == "105,50"
    assert ru_number(316) == "316"
    assert ru_number(None) == "—" and ru_number(None, "") == ""
    assert ru_number("5«А»") == "5«А»"
