"""Where a school sits in the tenancy tree: below every part of schools (people, structure and
the timetable check rights with it); other contexts have it from `backend.schools.services`."""

from __future__ import annotations

from backend.core.errors import NotFound
from backend.core.rights import ScopeTarget
from backend.schools.tables import School


async def school_target(school_id: int) -> ScopeTarget:
    """Where a school sits in the tenancy tree."""
    row = (
        await School.select(School.id, School.municipality, School.municipality.region)
        .where(School.id == school_id)
        .first()
    )
    if row is None:
        raise NotFound()
    return ScopeTarget(
        region_id=row["municipality.region"],
        municipality_id=row["municipality"],
        school_id=row["id"],
    )
