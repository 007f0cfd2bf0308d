"""What a school's marks are made of: its kinds of work (with weights) and grading scales, with
their Russian names, so clients need not know the codes (`answer`, `test`, `five`...)."""

from __future__ import annotations

import json
from typing import Any

from backend.core.context import Actor
from backend.core.errors import NotFound
from backend.core.rights import Permission, ScopeKind
from backend.i18n import t
from backend.journal.scales import DEFAULT_SCALE, DEFAULT_UNMARKED_GRADES, SCALES
from backend.journal.work_kinds import work_kinds_of
from backend.schools.reads import School, SchoolClass
from backend.schools.services import school_target

READ = (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)


async def marking_catalog(actor: Actor, school_id: int) -> dict[str, Any]:
    row = await School.select(School.settings).where(School.id == school_id).first()
    if row is None:
        raise NotFound()
    target = await school_target(school_id)
    principal = actor.principal
    if principal is not None and not any(principal.allows(p, target) for p in READ):
        # A class-level grant (the class teacher) reads the catalogue of its class's school.
        classes = {c for p in READ for c in principal.scope_ids(p, ScopeKind.CLASS)}
        if not classes or not await SchoolClass.exists().where(
            SchoolClass.id.is_in(list(classes)) & (SchoolClass.school == school_id)
        ):
            raise NotFound()
    settings = row["settings"]
    if isinstance(settings, str):
        settings = json.loads(settings or "{}")
    grading = (settings or {}).get("grading") or {}
    kinds = await work_kinds_of(school_id)
    return {
        "school_id": school_id,
        "work_kinds": [
            {"code": k.code, "name": k.name, "weight": k.weight}
            for k in sorted(kinds.values(), key=lambda k: (k.weight, k.id))
        ],
        "scales": [
            {
                "code": scale.code,
                "name": t(f"journal.scale.{scale.code}"),
                "symbols": list(scale.symbols),
                "in_averages": any(p is not None for p in scale.symbols.values()),
            }
            for scale in SCALES.values()
        ],
        "default_scale": grading.get("default", DEFAULT_SCALE),
        "subject_scales": grading.get("subjects") or {},
        "unmarked_grades": grading.get("unmarked_grades", list(DEFAULT_UNMARKED_GRADES)),
    }
