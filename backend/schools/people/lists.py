"""Lists of people for the school office (the staff web): a search of pupils by name, a class's
roster with each pupil's guardians, the staff of a school. Names and classes only (people.read):
documents and contacts stay in the personal files, whose reads are audited.

Each list is a few set-based reads, whatever the size of the school. Names are compared in
Python after folding case and «ё», so the search is the same on PostgreSQL and SQLite (SQLite's
LIKE folds only Latin letters).
"""

from __future__ import annotations

from typing import Any

from backend.core.context import Actor
from backend.core.rights import Permission
from backend.schools.people.movement import (
    class_label,
    class_target,
    classes_on,
    ensure,
    students_of_class,
    today,
)
from backend.schools.places import school_target
from backend.schools.tables import SchoolClass, Staff, Student, StudentGuardian

SEARCH_LIMIT = 50


def fold(text: str) -> str:
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").lower().split())


def _full(row: dict[str, Any]) -> str:
    return " ".join(p for p in (row["last_name"], row["first_name"], row["middle_name"]) if p)


async def _class_names(class_ids: set[int]) -> dict[int, str]:
    if not class_ids:
        return {}
    rows = await SchoolClass.select(SchoolClass.id, SchoolClass.grade, SchoolClass.letter).where(
        SchoolClass.id.is_in(sorted(class_ids))
    )
    return {r["id"]: class_label(r["grade"], r["letter"]) for r in rows}


async def search_pupils(actor: Actor, school_id: int, text: str) -> list[dict[str, Any]]:
    """Pupils of the school whose full name contains every word typed (in any order), with
    today's class; at most `SEARCH_LIMIT`, sorted by name."""
    ensure(actor, Permission.PEOPLE_READ, await school_target(school_id))
    words = fold(text).split()
    if not words:
        return []
    rows = await Student.select(
        Student.id, Student.last_name, Student.first_name, Student.middle_name
    ).where(Student.school == school_id)
    hits = [r for r in rows if all(w in fold(_full(r)) for w in words)]
    hits.sort(key=lambda r: (fold(_full(r)), r["id"]))
    hits = hits[:SEARCH_LIMIT]
    classes = await classes_on([r["id"] for r in hits], today())
    names = await _class_names({c for c in classes.values() if c is not None})
    return [
        {
            "id": r["id"],
            "full_name": _full(r),
            "class_id": classes.get(r["id"]),
            "class_name": names.get(classes.get(r["id"]) or 0, ""),
        }
        for r in hits
    ]


async def class_roster(actor: Actor, class_id: int) -> dict[str, Any]:
    """A class today: its label and pupils, each with the names of their guardians and whether
    the pupil and each guardian have an account yet."""
    target = await class_target(class_id)
    ensure(actor, Permission.PEOPLE_READ, target)
    label = (await _class_names({class_id}))[class_id]
    pupils = await students_of_class(class_id, today())
    links = (
        await StudentGuardian.select(
            StudentGuardian.student,
            StudentGuardian.guardian,
            StudentGuardian.guardian.last_name,
            StudentGuardian.guardian.first_name,
            StudentGuardian.guardian.middle_name,
            StudentGuardian.guardian.user_id,
        ).where(StudentGuardian.student.is_in([p.id for p in pupils]))
        if pupils
        else []
    )
    guardians: dict[int, list[dict[str, Any]]] = {}
    for row in links:
        names = {k.split(".")[-1]: row[k] for k in row if k.startswith("guardian.")}
        guardians.setdefault(row["student"], []).append(
            {
                "id": row["guardian"],
                "full_name": _full(names),
                "has_account": bool(names["user_id"]),
            }
        )
    return {
        "id": class_id,
        "school_id": target.school_id,
        "name": label,
        "pupils": [
            {
                "id": p.id,
                "full_name": p.full_name,
                "has_account": p.user_id is not None,
                "guardians": sorted(guardians.get(p.id, []), key=lambda g: g["full_name"]),
            }
            for p in pupils
        ],
    }


async def staff_of_school(actor: Actor, school_id: int) -> list[dict[str, Any]]:
    """The school's staff: names, positions, whether they have an account."""
    ensure(actor, Permission.PEOPLE_READ, await school_target(school_id))
    rows = (
        await Staff.select(
            Staff.id,
            Staff.last_name,
            Staff.first_name,
            Staff.middle_name,
            Staff.positions,
            Staff.user_id,
        )
        .where(Staff.school == school_id)
        .output(load_json=True)
    )
    out = [
        {
            "id": r["id"],
            "full_name": _full(r),
            "positions": list(r["positions"] or []),
            "has_account": r["user_id"] is not None,
        }
        for r in rows
    ]
    return sorted(out, key=lambda s: (fold(s["full_name"]), s["id"]))


__all__ = ["class_roster", "search_pupils", "staff_of_school"]
