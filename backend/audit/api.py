"""HTTP endpoints of the audit context: search for auditors; "who looked" for guardians."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.params import FromQuery

from backend.accounts.services import AccountsService
from backend.audit import services as audit
from backend.audit.schemas import AuditEntryOut, PersonalDataReadOut
from backend.core.bounds import PathId, QueryId
from backend.core.context import Actor
from backend.core.errors import NotFound
from backend.core.http import (
    ActorDep,
    Limit,
    Offset,
    Page,
    PrincipalDep,
    requires,
    requires_role,
)
from backend.core.rights import Permission, Role, ScopeKind
from backend.schools import services as schools

_WHAT = {
    audit.AuditAction.READ_PERSONAL: "личное дело",
    audit.AuditAction.READ_HEALTH: "сведения о здоровье",
    audit.AuditAction.READ_DIARY: "дневник",
}


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["Аудит"]

    @get("/", guards=[requires(Permission.AUDIT_READ)], summary="Поиск по журналу аудита")
    async def search(
        self,
        actor: ActorDep,
        principal: PrincipalDep,
        limit: Limit = 50,
        offset: Offset = 0,
        school_id: QueryId = None,
        student_id: QueryId = None,
        actor_user_id: QueryId = None,
        action: FromQuery[str | None] = None,
        object_type: FromQuery[str | None] = None,
        object_id: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> Page[AuditEntryOut]:
        in_scope = await schools.schools_in_scope(principal, Permission.AUDIT_READ)
        rows, total = await audit.search(
            actor,
            audit.AuditQuery(
                school_id=school_id,
                student_id=student_id,
                actor_user_id=actor_user_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            ),
            school_ids_in_scope=in_scope,
        )
        names = await AccountsService.display_names(
            {r["actor_user_id"] for r in rows if r["actor_user_id"]}
        )
        items = [
            AuditEntryOut(**r, actor_name=names.get(r["actor_user_id"] or 0, "")) for r in rows
        ]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get(
        "/students/{student_id:int}/personal-data-reads",
        guards=[requires_role(Role.GUARDIAN)],
        summary="Кто просматривал личные данные моего ребёнка",
    )
    async def personal_data_reads(
        self,
        principal: PrincipalDep,
        student_id: PathId,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[PersonalDataReadOut]:
        if not _is_legal_representative(principal, student_id):
            raise NotFound()
        rows, total = await audit.reads_of_student(
            Actor(principal), student_id, limit=limit, offset=offset
        )
        names = await AccountsService.display_names(
            {r["actor_user_id"] for r in rows if r["actor_user_id"]}
        )
        items = [
            PersonalDataReadOut(
                at=r["at"],
                who=names.get(r["actor_user_id"] or 0, "Система"),
                action=r["action"],
                what=_WHAT.get(r["action"], r["object_type"]),
            )
            for r in rows
        ]
        return Page(items=items, total=total, limit=limit, offset=offset)


def _is_legal_representative(principal: PrincipalDep, student_id: int) -> bool:
    return any(
        g.role is Role.GUARDIAN and g.scope_kind is ScopeKind.STUDENT and g.scope_id == student_id
        for g in principal.live_grants()
    )


__all__: list[Any] = ["AuditController"]
