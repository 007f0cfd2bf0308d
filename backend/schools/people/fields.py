"""Field rules of personal files: cleaning, problems per field, names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.accounts.identifiers import normalize_email, normalize_phone
from backend.core.errors import DomainError, ValidationFailed
from backend.i18n import t
from backend.schools.people.movement import today
from backend.schools.validators import (
    clean_name,
    normalize_document_kind,
    normalize_health_group,
    normalize_pe_group,
    normalize_sex,
    normalize_snils,
)

# ---- field rules ---------------------------------------------------------------------------

Cleaner = Callable[[Any], Any]


def _text(limit: int) -> Cleaner:
    def clean(value: Any) -> str:
        return "" if value is None else str(value).strip()[:limit]

    return clean


def _required_name(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ValidationFailed(key="people.name_required")
    return clean_name(text)[:100]


def _optional_name(value: Any) -> str:
    return clean_name("" if value is None else str(value), required=False)[:100]


def _optional(normalize: Callable[[str], str]) -> Cleaner:
    def clean(value: Any) -> str | None:
        text = "" if value is None else str(value).strip()
        return normalize(text) if text else None

    return clean


def _past_date(key: str) -> Cleaner:
    def clean(value: Any) -> date | None:
        if value in (None, ""):
            return None
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            try:
                value = _parse_date(str(value))
            except ValueError:
                raise ValidationFailed(key="people.date_invalid", value=value) from None
        if value > today():
            raise ValidationFailed(key=key)
        return value

    return clean


def _parse_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _str_or_empty(normalize: Callable[[str], str]) -> Cleaner:
    def clean(value: Any) -> str:
        return normalize("" if value is None else str(value))

    return clean


NAME_RULES: dict[str, Cleaner] = {
    "last_name": _required_name,
    "first_name": _required_name,
    "middle_name": _optional_name,
}

STUDENT_PERSONAL: dict[str, Cleaner] = {
    "birth_date": _past_date("people.birth_date_future"),
    "sex": _str_or_empty(normalize_sex),
    "citizenship": _text(64),
    "snils": _optional(normalize_snils),
    "document_kind": _str_or_empty(normalize_document_kind),
    "document_series": _text(16),
    "document_number": _text(32),
    "document_issued_on": _past_date("people.birth_date_future"),
    "document_issued_by": _text(300),
    "registration_address": _text(500),
    "residence_address": _text(500),
    "phone": _optional(normalize_phone),
    "email": _optional(normalize_email),
}
STUDENT_HEALTH: dict[str, Cleaner] = {
    "health_group": _str_or_empty(normalize_health_group),
    "pe_group": _str_or_empty(normalize_pe_group),
}
STUDENT_RULES: dict[str, Cleaner] = {
    **NAME_RULES,
    "personal_file_number": _text(32),
    **STUDENT_PERSONAL,
    **STUDENT_HEALTH,
}
GUARDIAN_PERSONAL: dict[str, Cleaner] = {
    "phone": _optional(normalize_phone),
    "email": _optional(normalize_email),
    "snils": _optional(normalize_snils),
    "document_kind": _str_or_empty(normalize_document_kind),
    "document_series": _text(16),
    "document_number": _text(32),
    "address": _text(500),
}
GUARDIAN_RULES: dict[str, Cleaner] = {**NAME_RULES, **GUARDIAN_PERSONAL}
STAFF_PERSONAL: dict[str, Cleaner] = {
    "birth_date": _past_date("people.birth_date_future"),
    "sex": _str_or_empty(normalize_sex),
    "snils": _optional(normalize_snils),
    "phone": _optional(normalize_phone),
    "email": _optional(normalize_email),
}
STAFF_RULES: dict[str, Cleaner] = {
    **NAME_RULES,
    **STAFF_PERSONAL,
    "hired_on": _past_date("people.birth_date_future"),
}
PERSONAL_FIELDS = {
    "student": set(STUDENT_PERSONAL) | set(STUDENT_HEALTH),
    "guardian": set(GUARDIAN_PERSONAL),
    "staff": set(STAFF_PERSONAL),
}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


def clean_fields(
    rules: dict[str, Cleaner], data: dict[str, Any]
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """Normalise every field `data` gives that `rules` know; collect every problem, not only the
    first (the import report lists them all)."""
    clean: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, value in data.items():
        rule = rules.get(name)
        if rule is None:
            continue
        try:
            clean[name] = rule(value)
        except DomainError as exc:
            problems.append(FieldProblem(name, exc.message))
    return clean, problems


def raise_problems(problems: list[FieldProblem]) -> None:
    if problems:
        message = problems[0].message if len(problems) == 1 else t("error.validation")
        raise ValidationFailed(
            message, details=[{"field": p.field, "message": p.message} for p in problems]
        )


def personal_given(subject_kind: str, clean: dict[str, Any]) -> list[str]:
    """The personal data fields that carry a value (an empty value stores nothing)."""
    return sorted(f for f in PERSONAL_FIELDS[subject_kind] if clean.get(f) not in (None, ""))


def full_name(row: dict[str, Any]) -> str:
    return " ".join(p for p in (row["last_name"], row["first_name"], row["middle_name"]) if p)


def now_utc() -> datetime:
    return datetime.now(UTC)
