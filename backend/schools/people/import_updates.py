"""A pupils' import that corrects the people it recognises: what would change, and the writing.

A line is one pupil already in the school when its «Код в Парте» (the id an export writes) or its
SNILS names one. Such a line does not create anybody: each field the file gives is compared with
the personal file, and only the differences are written (and listed by a dry run: line, column,
old value, new value). Class, admission date and order are the pupil's movement: a line may not
change them (a transfer is an order, docs/people.md), so a difference there is a problem of the
line. The whole file still passes or fails as one (docs/decisions/0204-import-all-or-nothing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.i18n import t
from backend.schools.people.fields import STUDENT_HEALTH, now_utc
from backend.schools.tables import Consent, Student
from backend.schools.validators import PE_GROUP_NAMES, format_snils

DOCUMENT_NAMES = {
    "birth_certificate": "свидетельство о рождении",
    "passport": "паспорт",
    "other": "иной",
}


@dataclass(frozen=True, slots=True)
class Change:
    """One field of one recognised person that the file changes (values as the export shows)."""

    line: int
    column: str
    old: str
    new: str


def shown(key: str, value: Any) -> str:
    """A stored or cleaned value in the form the export writes it."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if key == "snils":
        return format_snils(value) if value else ""
    if key == "document_kind":
        return DOCUMENT_NAMES.get(value, value)
    if key == "pe_group":
        return PE_GROUP_NAMES.get(value, value)
    return str(value)


def _same(old: Any, new: Any) -> bool:
    # An empty text and a missing value are the same to a person reading the file.
    return (old if old not in (None, "") else None) == (new if new not in (None, "") else None)


@dataclass
class Recognised:
    """The pupils of a school, found by id and by SNILS."""

    by_id: dict[int, dict[str, Any]]
    by_snils: dict[str, dict[str, Any]]

    @classmethod
    async def of_school(cls, school_id: int) -> Recognised:
        rows = await Student.select().where(Student.school == school_id)
        return cls(
            by_id={int(r["id"]): r for r in rows},
            by_snils={r["snils"]: r for r in rows if r["snils"]},
        )


def field_changes(
    existing: dict[str, Any],
    clean: dict[str, Any],
    headers: dict[str, str],
    line: int,
    *,
    shows_health: bool,
) -> tuple[dict[str, Any], list[Change]]:
    """The fields the line changes ({key: new value}) and how the dry run shows them. Someone
    who may not read health data sees that a health field changes, not what it was."""
    values: dict[str, Any] = {}
    changes: list[Change] = []
    for key, new in clean.items():
        old = existing.get(key)
        if _same(old, new):
            continue
        values[key] = new
        hidden = key in STUDENT_HEALTH and not shows_health
        changes.append(
            Change(
                line,
                headers[key],
                t("import.hidden") if hidden and old else shown(key, old),
                shown(key, new),
            )
        )
    return values, changes


async def write_pupil_updates(
    actor: Actor, school_id: int, updates: list[dict[str, Any]]
) -> list[int]:
    """Apply the changes of recognised pupils (inside the import's transaction). Each pupil's
    change is audited as an edit of the personal file is: the names of the fields, not values."""
    changed: list[int] = []
    for update in updates:
        student_id = update["student_id"]
        values = update["values"]
        if update["consent_on"] is not None:
            await Consent.insert(
                Consent(
                    subject_kind="student",
                    subject_id=student_id,
                    given_on=update["consent_on"],
                    document_ref=t("import.consent_ref"),
                    recorded_by=actor.user_id,
                )
            )
        if values:
            columns = {getattr(Student, k): v for k, v in values.items()}
            columns[Student.updated_at] = now_utc()
            await Student.update(columns).where(Student.id == student_id)
        fields = sorted(values) + (["consent_on"] if update["consent_on"] is not None else [])
        if fields:
            await record(
                actor,
                AuditAction.UPDATE,
                object_type="student",
                object_id=student_id,
                school_id=school_id,
                student_id=student_id,
                details={"fields": fields, "via": "import"},
            )
            changed.append(student_id)
    return changed
