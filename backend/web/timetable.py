"""The staff web's timetable (/admin/web/timetable): the week grid of a class, a teacher or a
room, and its entries created, changed and deleted with HTMX.

Every write is the API's: `timetable.create_entries`, `update_entry`, `delete_entry` (rights,
the teaching assignment, the bells, the study days and the conflict checks of decision 0205).
A refused entry is shown where it was made: a conflict (teacher, room, class or group taken)
lands in the grid's cell of that day and lesson with the service's Russian reason, any other
refusal in the form's status line; nothing is written (decision 1001).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.response import Response, Template

from backend.core.bounds import PathId
from backend.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission, Principal
from backend.i18n import t
from backend.schools.structure import schemas as s
from backend.schools.timetable import services as timetable
from backend.schools.timetable.board import BY
from backend.web.kit import (
    AnyRequest,
    Staff,
    form_struct,
    guard,
    htmx_refusal,
    page,
    parse_date,
    parse_id,
    school_of,
    staff_page,
    writer,
)
from backend.web.nav import YEAR_PERMISSIONS, staff_permissions
from backend.web.session import csrf_token

BASE = "/admin/web/timetable"
MANAGE = (Permission.STRUCTURE_MANAGE,)


def can_manage(principal: Principal) -> bool:
    return Permission.STRUCTURE_MANAGE in staff_permissions(principal)


async def _board(request: AnyRequest, staff: Staff, query: dict[str, Any]) -> Any:
    school_id = await school_of(request, staff, Permission.STRUCTURE_READ)
    by = str(query.get("by") or "class")
    if by not in BY:
        raise ValidationFailed(key="error.choice_field", field=t("web.year.field.by"))
    on = parse_date(query.get("on"), "date") or date.today()
    target = query.get("id")
    return await timetable.timetable_board(
        staff.actor, school_id, on, by, parse_id(target, "id") if target else None
    )


def _context(request: AnyRequest, principal: Principal, board: Any, **extra: Any) -> dict[str, Any]:
    return {
        "board": board,
        "manage": can_manage(principal),
        "csrf": csrf_token(request),
        "timetable_base": BASE,
        "weekday_names": {d: t(f"slot.day.{d}") for d in range(1, 8)},
        "problem": None,
        **extra,
    }


class TimetableController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/")
    async def grid(self, request: Request[Any, Any, Any]) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            board = await _board(request, staff, dict(request.query_params))
            return page(
                request,
                "year/timetable.html",
                staff.principal,
                **_context(request, staff.principal, board),
            )

        return await staff_page(request, YEAR_PERMISSIONS, "web.year.no_access", show)

    @post("/entries", status_code=200)
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """A new entry from the form above the grid. Answers the grid as it stands now; a
        conflict is shown in the cell where the entry was asked for."""
        form = dict((await request.form()).items())
        try:
            staff = await writer(request, form, Permission.STRUCTURE_MANAGE, "web.year.no_manage")
            principal, actor = staff.principal, staff.actor
            school_id = await school_of(request, staff, Permission.STRUCTURE_MANAGE)
            who = str(form.get("who") or "")
            values = {
                k: form.get(k)
                for k in (
                    "weekday",
                    "lesson_number",
                    "subject_id",
                    "teacher_id",
                    "room_id",
                    "valid_from",
                    "valid_to",
                )
            }
            if who.startswith("g"):
                values["study_group_id"] = who[1:]
            elif who:
                values["school_class_id"] = who.lstrip("c")
            data = form_struct(s.TimetableEntryCreate, values)
        except DomainError as exc:
            return htmx_refusal(exc, "#entry-status")
        query = {"by": form.get("by"), "id": form.get("id"), "on": form.get("on")}
        try:
            await timetable.create_entries(actor, school_id, [data])
        except Conflict as exc:
            board = await _board(request, staff, query)
            return Template(
                template_name="year/_board.html",
                context=_context(
                    request,
                    principal,
                    board,
                    problem={
                        "day": data.weekday,
                        "number": data.lesson_number,
                        "text": exc.message,
                    },
                ),
                status_code=exc.status_code,
                headers={"HX-Retarget": "#board", "HX-Reswap": "outerHTML"},
            )
        except DomainError as exc:
            return htmx_refusal(exc, "#entry-status")
        board = await _board(request, staff, query)
        return Template(
            template_name="year/_board.html",
            context=_context(request, principal, board, saved=t("web.year.entry_saved")),
        )

    @get("/entries/{entry_id:int}")
    async def edit_form(self, request: Request[Any, Any, Any], entry_id: PathId) -> Response[Any]:
        """The small form that changes one entry (teacher, room, last date), opened in its
        cell."""
        staff = await guard(request, MANAGE, "web.year.no_manage")
        if isinstance(staff, Response):
            return staff
        try:
            board = await _board(request, staff, dict(request.query_params))
        except DomainError as exc:
            return htmx_refusal(exc)
        entry = next((e for cell in board.cells.values() for e in cell if e.id == entry_id), None)
        if entry is None:
            return htmx_refusal(NotFound())
        return Template(
            template_name="year/_entry_form.html",
            context=_context(request, staff.principal, board, entry=entry),
        )

    @post("/entries/{entry_id:int}", status_code=200)
    async def update(self, request: Request[Any, Any, Any], entry_id: PathId) -> Response[Any]:
        form = dict((await request.form()).items())
        query = {"by": form.get("by"), "id": form.get("id"), "on": form.get("on")}
        try:
            staff = await writer(request, form, Permission.STRUCTURE_MANAGE, "web.year.no_manage")
            principal, actor = staff.principal, staff.actor
            school_id = await school_of(request, staff, Permission.STRUCTURE_MANAGE)
            action = str(form.get("action") or "save")
            if action == "delete":
                await timetable.delete_entry(actor, school_id, entry_id)
                message = t("web.year.entry_deleted")
            else:
                values: dict[str, Any] = {
                    k: form.get(k) for k in ("teacher_id", "room_id", "valid_to")
                }
                data = form_struct(s.TimetableEntryUpdate, values)
                if not form.get("room_id"):  # an empty choice takes the room away
                    data = msgspec.structs.replace(data, room_id=None)
                await timetable.update_entry(actor, school_id, entry_id, data)
                message = t("web.year.entry_saved")
        except DomainError as exc:
            # Shown in the entry's own cell: the form stays open with the reason under it.
            return htmx_refusal(exc, f"#entry-{entry_id}-status")
        board = await _board(request, staff, query)
        return Template(
            template_name="year/_board.html",
            context=_context(request, principal, board, saved=message),
            headers={"HX-Retarget": "#board", "HX-Reswap": "outerHTML"},
        )
