"""The one written form of things people read in messages: a class, a person's short name,
a date. Every message builds them here, so «5«А»», «Иванова М. П.» and «07.09.2026» look the
same wherever they appear."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

from backend.core.errors import ValidationFailed
from backend.i18n import t

LINE_BREAKS = frozenset("\n\r\t")
# The multipart part an upload's file travels in (homework files, imports).
FILE_PART = "data"


def class_name(grade: int, letter: str) -> str:
    """5«А»: the grade, then the letter in guillemets (never wrapped in further quotes)."""
    return f"{grade}«{letter}»"


def class_order(grade: int, letter: str) -> tuple[int, str]:
    """Where a class stands in a list: by grade, then letter (2«А» before 10«А», which a sort
    of the names as text would not give)."""
    return (grade, letter.casefold())


def ru_number(value: Any, empty: str = "—") -> str:
    """A number as Russian text writes it: a decimal comma (4,27; 88,0), `empty` for none."""
    if value is None:
        return empty
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    return str(value).replace(".", ",")


def short_person_name(last: str, first: str, middle: str = "") -> str:
    """Иванова М. П.: the surname, then the initials, each followed by a dot and a space."""
    initials = " ".join(f"{p.strip()[0]}." for p in (first, middle) if p and p.strip())
    return f"{last} {initials}".strip()


def ru_date(value: date) -> str:
    """07.09.2026 (DD.MM.YYYY), the form of a date in every message."""
    return value.strftime("%d.%m.%Y")


def clean_text(raw: str, *, field: str, required: bool = True, multiline: bool = False) -> str:
    """A text as stored: surrounding spaces stripped; blank (when required) or with a control
    character (NUL, a zero-width mark...; a line break or tab too unless `multiline`) refused
    with a Russian message naming the field."""
    text = raw.strip()
    if not text and required:
        raise ValidationFailed(
            key="name.blank", details=[{"field": field, "message": t("name.blank")}]
        )
    allowed = LINE_BREAKS if multiline else frozenset()
    if any(unicodedata.category(ch).startswith("C") and ch not in allowed for ch in text):
        message = t("name.control_chars", value=text.encode("unicode_escape").decode()[:60])
        raise ValidationFailed(message, details=[{"field": field, "message": message}])
    return text
