"""Notification texts filled from the payloads the journal really emits: nothing left blank."""

from __future__ import annotations

import re
from typing import Any

import pytest

from notifications.templates import render

LESSON = {"lesson_id": 7, "date": "2026-11-20", "subject_id": 3, "subject": "Математика"}

# (kind, payload) in the shapes of backend/journal/sync.py and backend/journal/services.py.
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("mark.created", {**LESSON, "mark_id": 1, "value": "5", "work_kind": "Контрольная"}, "«5»"),
    ("mark.changed", {**LESSON, "mark_id": 1, "value": "4", "old": "5"}, "с «5» на «4»"),
    ("attendance.absent", {**LESSON, "status": "absent", "reason": ""}, "Математика"),
    ("attendance.late", {**LESSON, "late_minutes": 7}, "на 7 мин"),
    ("homework.created", {**LESSON, "homework_id": 2, "text": "№ 15, 16"}, "№ 15, 16"),
    ("remark.created", {**LESSON, "remark_id": 3, "text": "Не принёс тетрадь"}, "тетрадь"),
    (
        "final_mark.set",
        {
            "subject_id": 3,
            "subject": "Математика",
            "kind": "period",
            "period": "2 четверть",
            "value": "5",
        },
        "(2 четверть)",
    ),
]


@pytest.mark.parametrize(("kind", "payload", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_journal_event_reads_in_full(kind: str, payload: dict[str, Any], expected: str) -> None:
    rendered = render(kind, payload, student="Камила")
    assert expected in rendered.text, rendered.text
    # No placeholder came out empty: «», (), a double space, "на  мин".
    assert not re.search(r"«»|\(\)|  ", rendered.text), rendered.text
    assert "{" not in rendered.text and "{" not in rendered.title


@pytest.mark.parametrize(
    ("sex", "verb"), [("м", "Пётр опоздал на"), ("ж", "Анна опоздала на"), ("", "опоздал(а) на")]
)
def test_the_verb_agrees_with_the_pupil(sex: str, verb: str) -> None:
    name = "Анна" if sex == "ж" else "Пётр"
    text = render("attendance.late", {**LESSON, "late_minutes": 7}, student=name, sex=sex).text
    assert verb in text, text
