"""Use cases of the schools context. Other contexts reach schools through these functions."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.core.errors import NotFound
from backend.core.rights import Permission, Principal, ScopeKind, ScopeTarget
from backend.schools.people.movement import class_target, student_target
from backend.schools.places import school_target
from backend.schools.tables import Municipality, School, StudentBenefit

__all__ = ["school_names", "school_target", "schools_in_scope", "scope_target"]


async def scope_target(kind: ScopeKind, scope_id: int | None) -> ScopeTarget:
    """The tenancy position of a scope (used to check that a grant-giver covers what they give)."""
    if kind is ScopeKind.SYSTEM:
        return ScopeTarget()
    if scope_id is None:
        raise NotFound()
    if kind is ScopeKind.REGION:
        return ScopeTarget(region_id=scope_id)
    if kind is ScopeKind.MUNICIPALITY:
        row = (
            await Municipality.select(Municipality.region)
            .where(Municipality.id == scope_id)
            .first()
        )
        if row is None:
            raise NotFound()
        return ScopeTarget(region_id=row["region"], municipality_id=scope_id)
    if kind is ScopeKind.SCHOOL:
        return await school_target(scope_id)
    return await _class_or_student_target(kind, scope_id)


async def _class_or_student_target(kind: ScopeKind, scope_id: int) -> ScopeTarget:
    if kind is ScopeKind.CLASS:
        return await class_target(scope_id)
    if kind is ScopeKind.STUDENT:
        return await student_target(scope_id)
    raise NotFound()


async def schools_in_scope(principal: Principal, permission: Permission) -> set[int] | None:
    """The schools where `principal` holds `permission` at school level or above.

    None means every school (a system-wide grant).
    """
    if principal.is_system(permission):
        return None
    ids = set(principal.scope_ids(permission, ScopeKind.SCHOOL))
    municipalities = principal.scope_ids(permission, ScopeKind.MUNICIPALITY)
    regions = principal.scope_ids(permission, ScopeKind.REGION)
    if municipalities:
        rows = await School.select(School.id).where(School.municipality.is_in(list(municipalities)))
        ids.update(r["id"] for r in rows)
    if regions:
        rows = await School.select(School.id).where(School.municipality.region.is_in(list(regions)))
        ids.update(r["id"] for r in rows)
    return ids


async def school_choices(held: set[int] | None) -> list[tuple[int, str]]:
    """The schools a person may choose between, by name: `held` as `schools_in_scope` answers
    it (None: every school, for a system-wide grant)."""
    query = School.select(School.id, School.short_name)
    if held is not None:
        if not held:
            return []
        query = query.where(School.id.is_in(sorted(held)))
    rows = await query
    return sorted(((r["id"], r["short_name"]) for r in rows), key=lambda x: (x[1], x[0]))


async def school_names(ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = await School.select(School.id, School.short_name).where(School.id.is_in(list(ids)))
    return {r["id"]: r["short_name"] for r in rows}


async def benefit_codes_on(student_ids: list[int], day: date) -> dict[int, set[str]]:
    """The benefit categories (codes) each pupil holds on a date, from their personal files
    (meals: who eats free or at a reduced price). Pupils with none are absent."""
    if not student_ids:
        return {}
    rows = await StudentBenefit.select(
        StudentBenefit.student, StudentBenefit.category.code, StudentBenefit.valid_to
    ).where(StudentBenefit.student.is_in(student_ids) & (StudentBenefit.valid_from <= day))
    found: dict[int, set[str]] = {}
    for row in rows:
        if row["valid_to"] is None or row["valid_to"] >= day:
            found.setdefault(row["student"], set()).add(row["category.code"])
    return found
