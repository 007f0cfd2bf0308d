"""The people section's audit pages (/admin/web/people/audit): the school's audit log with
filters, and "who viewed" one pupil's personal data. For those who hold audit.read (a school
administrator; municipal and regional officials for their schools), exactly as the API's
`GET /api/v1/audit`: the same search service, the same schools in scope, and the search itself
is written to the log (`read.audit`).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, get
from litestar.response import Response

from backend.accounts.services import AccountsService
from backend.audit import services as audit
from backend.core.bounds import PathId
from backend.core.errors import NotFound, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.i18n import has, t
from backend.schools.people.movement import student_target
from backend.schools.people.personal_files import student_card
from backend.schools.services import school_names, schools_in_scope
from backend.web.kit import (
    AnyRequest,
    Staff,
    field,
    optional_id,
    page,
    parse_date,
    staff_page,
)
from backend.web.people import BASE

AUDITORS = (Permission.AUDIT_READ,)
PAGE_SIZE = 50
MAX_OFFSET = 1_000_000
READS = (
    audit.AuditAction.READ_PERSONAL,
    audit.AuditAction.READ_HEALTH,
    audit.AuditAction.READ_DIARY,
    audit.AuditAction.READ_MEALS_ACCOUNT,
)


def label(action: str) -> str:
    key = f"web.people.actions.{action}"
    return t(key) if has(key) else action


def object_label(object_type: str | None) -> str:
    """What an entry is about, in Russian (the code itself if the catalogue lacks it)."""
    key = f"web.people.objects.{object_type}"
    return t(key) if object_type and has(key) else object_type or ""


def _labelled(request: AnyRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entry with its action in Russian and its time on the installation's clock."""
    zone = ZoneInfo(str(getattr(request.app.state.settings, "time_zone", "") or "Europe/Moscow"))
    return [
        {
            **r,
            "label": label(r["action"]),
            "object": object_label(r.get("object_type")),
            "at": r["at"].astimezone(zone),
        }
        for r in rows
    ]


def _offset(value: Any) -> int:
    offset = optional_id(value, "offset") or 0
    if offset > MAX_OFFSET:
        raise ValidationFailed(key="error.wrong_type", field=field("offset"))
    return offset


def _moment(value: Any, name: str, end_of_day: bool = False) -> datetime | None:
    day = parse_date(str(value or ""), name)
    if day is None:
        return None
    return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)


class PeopleAuditController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/audit")
    async def log(self, request: AnyRequest) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            query = request.query_params
            in_scope = await schools_in_scope(staff.principal, Permission.AUDIT_READ)
            school_id = optional_id(query.get("school_id"), "school_id")
            if school_id is None and in_scope:
                school_id = min(in_scope)
            action = str(query.get("action") or "")[:64] or None
            filters = audit.AuditQuery(
                school_id=school_id,
                student_id=optional_id(query.get("student_id"), "student_id"),
                actor_user_id=optional_id(query.get("actor_user_id"), "actor_user_id"),
                action=action,
                since=_moment(query.get("since"), "since"),
                until=_moment(query.get("until"), "until", end_of_day=True),
                limit=PAGE_SIZE,
                offset=_offset(query.get("offset")),
            )
            rows, total = await audit.search(staff.actor, filters, school_ids_in_scope=in_scope)
            names = await AccountsService.display_names(
                {r["actor_user_id"] for r in rows if r["actor_user_id"]}
            )
            schools = await school_names(set(in_scope or ({school_id} if school_id else set())))
            return page(
                request,
                "people/audit.html",
                staff.principal,
                rows=_labelled(request, rows),
                names=names,
                total=total,
                filters=filters,
                query={k: query.get(k) or "" for k in ("action", "since", "until", "student_id")},
                schools=schools,
                page_size=PAGE_SIZE,
            )

        return await staff_page(request, AUDITORS, "web.people.no_audit", show)

    @get("/pupils/{student_id:int}/viewers")
    async def viewers(self, request: AnyRequest, student_id: PathId) -> Response[Any]:
        """Who read this pupil's personal file, health, diary or meals account, newest first."""

        async def show(staff: Staff) -> Response[Any]:
            target = await student_target(student_id)
            in_scope = await schools_in_scope(staff.principal, Permission.AUDIT_READ)
            if in_scope is not None and target.school_id not in in_scope:
                raise NotFound()
            offset = _offset(request.query_params.get("offset"))
            rows, total = await audit.reads_of_student(
                staff.actor, student_id, limit=PAGE_SIZE, offset=offset
            )
            await audit.record(
                staff.actor,
                audit.AuditAction.READ_AUDIT,
                object_type="audit",
                school_id=target.school_id,
                student_id=student_id,
                details={"student_id": str(student_id), "reads_of_student": "1"},
            )
            names = await AccountsService.display_names(
                {r["actor_user_id"] for r in rows if r["actor_user_id"]}
            )
            try:
                card: dict[str, Any] | None = await student_card(staff.actor, student_id)
            except NotFound:  # an official audits without reading class lists
                card = None
            return page(
                request,
                "people/viewers.html",
                staff.principal,
                card=card,
                rows=_labelled(request, rows),
                names=names,
                total=total,
                student_id=student_id,
                offset=offset,
                page_size=PAGE_SIZE,
            )

        return await staff_page(request, AUDITORS, "web.people.no_audit", show)


__all__ = ["READS", "PeopleAuditController", "label", "object_label"]
