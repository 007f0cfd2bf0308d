"""Checks and normal forms of personal data fields: SNILS, sex, health and PE groups, positions.

Each function returns the normal form or raises `ValidationFailed` with a Russian message that
names the bad value, so an import report can quote it line by line.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from backend.core.errors import ValidationFailed
from backend.core.forms import clean_text

S = TypeVar("S", bound=msgspec.Struct)

# A class letter: one or two Cyrillic capitals («А», «Б», «АБ»).
CLASS_LETTER = re.compile(r"[А-ЯЁ]{1,2}")

_NON_DIGITS = re.compile(r"[\s\-]")

SEXES = {"м": "м", "ж": "ж", "m": "м", "f": "ж", "муж": "м", "жен": "ж"}
HEALTH_GROUPS = ("I", "II", "III", "IV", "V")
_HEALTH_ARABIC = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V"}
PE_GROUPS = {
    "basic": "basic",
    "основная": "basic",
    "preparatory": "preparatory",
    "подготовительная": "preparatory",
    "special": "special",
    "специальная": "special",
    "exempt": "exempt",
    "освобождён": "exempt",
    "освобожден": "exempt",
}
PE_GROUP_NAMES = {
    "basic": "основная",
    "preparatory": "подготовительная",
    "special": "специальная",
    "exempt": "освобождён",
}
POSITIONS = (
    "teacher",
    "class_teacher",
    "coordinator",
    "secretary",
    "sysadmin",
    "director",
    "nurse",
    "caterer",
    "security",
)
DOCUMENT_KINDS = {
    "birth_certificate": "birth_certificate",
    "свидетельство о рождении": "birth_certificate",
    "passport": "passport",
    "паспорт": "passport",
    "other": "other",
    "иной": "other",
}
# The usual benefit categories of regional meal and support programmes; a region may add its own
# rows to `BenefitCategory`, these are created on first use.
BENEFIT_CATEGORIES = {
    "large_family": "Многодетная семья",
    "low_income": "Малоимущая семья",
    "disability": "Обучающийся с ОВЗ",
    "primary_free_meals": "Обучающийся 1–4 классов (бесплатное горячее питание)",
    "orphan": "Дети-сироты и дети, оставшиеся без попечения родителей",
    "svo_family": "Дети участников специальной военной операции",
}
RELATIONS = {
    "mother": "mother",
    "мать": "mother",
    "father": "father",
    "отец": "father",
    "guardian": "guardian",
    "опекун": "guardian",
    "other": "other",
    "другое": "other",
}


def snils_check_number(first_nine: str) -> int:
    """The control number of a SNILS (Pension Fund rules): digits weighted 9..1, summed; below
    100 it is the sum, 100 and 101 give 0, above that the remainder mod 101 (100 becomes 0)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    rest = total % 101
    return 0 if rest == 100 else rest


def normalize_snils(raw: str) -> str:
    """`112-233-445 95` -> `11223344595`. Numbers up to 001-001-998 carry no control number."""
    digits = _NON_DIGITS.sub("", raw.strip())
    if not re.fullmatch(r"\d{11}", digits):
        raise ValidationFailed(key="people.snils_invalid", value=raw)
    if int(digits[:9]) > 1001998 and snils_check_number(digits[:9]) != int(digits[9:]):
        raise ValidationFailed(key="people.snils_checksum", value=raw)
    return digits


def format_snils(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


def normalize_sex(raw: str) -> str:
    text = raw.strip().lower()
    if not text:
        return ""
    if text not in SEXES:
        raise ValidationFailed(key="people.sex_invalid")
    return SEXES[text]


def normalize_health_group(raw: str) -> str:
    text = raw.strip().upper()
    if not text:
        return ""
    text = _HEALTH_ARABIC.get(text, text)
    if text not in HEALTH_GROUPS:
        raise ValidationFailed(key="people.health_group_invalid")
    return text


def normalize_pe_group(raw: str) -> str:
    text = raw.strip().lower()
    if not text:
        return ""
    if text not in PE_GROUPS:
        raise ValidationFailed(key="people.pe_group_invalid")
    return PE_GROUPS[text]


def normalize_document_kind(raw: str) -> str:
    text = raw.strip().lower()
    if not text:
        return ""
    if text not in DOCUMENT_KINDS:
        raise ValidationFailed(key="people.document_kind_invalid", value=raw)
    return DOCUMENT_KINDS[text]


def normalize_relation(raw: str) -> str:
    text = raw.strip().lower()
    if not text:
        return "other"
    if text not in RELATIONS:
        raise ValidationFailed(key="people.relation_invalid", value=raw)
    return RELATIONS[text]


def normalize_positions(raw: list[str]) -> list[str]:
    result: list[str] = []
    for item in raw:
        value = item.strip().lower()
        if value not in POSITIONS:
            raise ValidationFailed(
                key="people.position_invalid", value=item, allowed=", ".join(POSITIONS)
            )
        if value not in result:
            result.append(value)
    return result


def clean_name(raw: str, *, required: bool = True, field: str = "name") -> str:
    """A name as stored (of a subject, room, class, group, holiday or person): surrounding
    spaces stripped; blank (when required) or with a control character (NUL, a line break, a
    tab, a zero-width mark...) refused, with a Russian message naming the field."""
    return clean_text(raw, required=required, field=field)


def clean_names(data: S, *fields: str, optional: tuple[str, ...] = ()) -> S:
    """`data` with its name fields cleaned by `clean_name` (fields left `UNSET` stay so);
    those in `optional` may be empty."""
    changes: dict[str, str] = {}
    for name in (*fields, *optional):
        value = getattr(data, name)
        if isinstance(value, str):
            changes[name] = clean_name(value, required=name not in optional, field=name)
    return msgspec.structs.replace(data, **changes) if changes else data
