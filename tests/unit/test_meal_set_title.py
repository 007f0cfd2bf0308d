"""A meal set reads with its meal named once, whatever the caterer's name already says
(trial 2026-12-07: «Завтрак «Завтрак «Омлет»» — 105,00 ₽»)."""

from __future__ import annotations

import pytest

from backend.meals.menus import set_title


@pytest.mark.parametrize(
    ("kind", "name", "title"),
    [
        ("Завтрак", "Завтрак «Омлет»", "Завтрак «Омлет»"),
        ("Обед", "Обед «Борщ и рыба»", "Обед «Борщ и рыба»"),
        ("Обед", "обед 1–4", "обед 1–4"),
        ("Завтрак", "Омлет", "Завтрак «Омлет»"),
        ("Обед", " Комплекс № 2 ", "Обед «Комплекс № 2»"),
        ("Полдник", "«Школьный»", "Полдник: «Школьный»"),
    ],
)
def test_the_meal_is_named_once(kind: str, name: str, title: str) -> None:
    assert set_title(kind, name) == title


def test_an_order_carries_the_sets_title() -> None:
    from datetime import date

    from backend.meals.orders import order_out

    row = {
        "id": 1,
        "student": 2,
        "date": date(2026, 12, 8),
        "meal_kind": "breakfast",
        "meal_set": 3,
        "price": 6_000,
        "paid_by": "balance",
        "benefit_amount": 0,
        "status": "cancelled",
        "cancel_reason": "family",
        "hold_id": 4,
    }
    out = order_out(row, "Омлет")
    assert (out.meal_set_name, out.meal_set_title) == ("Омлет", "Завтрак «Омлет»")
    assert order_out(row).meal_set_title == ""  # no name known: no title made up
