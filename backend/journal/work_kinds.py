"""Kinds of work (виды работ) and their default weights, per school."""

from __future__ import annotations

from dataclasses import dataclass

from backend.i18n import t
from backend.journal.tables import WorkKind

# code, default weight: answer in class 1, test 2, exam 3...
DEFAULT_WORK_KINDS: tuple[tuple[str, int], ...] = (
    ("answer", 1),
    ("independent", 1),
    ("homework", 1),
    ("practical", 1),
    ("dictation", 2),
    ("test", 2),
    ("exam", 3),
)


@dataclass(frozen=True, slots=True)
class Kind:
    id: int
    code: str
    name: str
    weight: int


async def work_kinds_of(school_id: int) -> dict[str, Kind]:
    """The school's kinds of work; the defaults are created the first time they are needed."""
    rows = await WorkKind.select().where(
        (WorkKind.school == school_id) & (WorkKind.is_active == True)  # noqa: E712
    )
    if not rows:
        await WorkKind.insert(
            *(
                WorkKind(
                    school=school_id, code=code, name=t(f"journal.work_kind.{code}"), weight=weight
                )
                for code, weight in DEFAULT_WORK_KINDS
            )
        ).on_conflict(action="DO NOTHING")
        rows = await WorkKind.select().where(WorkKind.school == school_id)
    return {r["code"]: Kind(r["id"], r["code"], r["name"], r["weight"]) for r in rows}
