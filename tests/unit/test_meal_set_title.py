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
