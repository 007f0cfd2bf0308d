"""The one written form of things people read in messages: a class, a person's short name,
a date. Every message builds them here, so «5«А»», «Иванова М. П.» and «07.09.2026» look the
same wherever they appear."""

from __future__ import annotations

from datetime import date


def class_name(grade: int, letter: str) -> str:
    """5«А»: the grade, then the letter in guillemets (never wrapped in further quotes)."""
    return f"{grade}«{letter}»"


def short_person_name(last: str, first: str, middle: str = "") -> str:
    """Иванова М. П.: the surname, then the initials, each followed by a dot and a space."""
    initials = " ".join(f"{p.strip()[0]}." for p in (first, middle) if p and p.strip())
    return f"{last} {initials}".strip()


def ru_date(value: date) -> str:
    """07.09.2026 (DD.MM.YYYY), the form of a date in every message."""
    return value.strftime("%d.%m.%Y")
