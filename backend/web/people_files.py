"""The people section's pages about persons (/admin/web/people): a class's roster with its
guardians, the school's staff, a pupil's page (the personal file, guardians' contacts, health
for those who read it, the book of movement with a form for a new entry, consent) and a
guardian's file.

Reads go through `backend.schools.people`: the personal file, the guardians' contacts and health
are audited by those services on every read (nothing here reads them another way), and a
teacher who is not the class teacher of the pupil's class is answered 404 by them, as by the API.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, get, post
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.core.bounds import PathId
from backend.core.errors import DomainError, NotFound, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission
from backend.schools.people import imports, lists, movement, personal_files
from backend.schools.structure import services as structure
from backend.schools.validators import format_snils
from backend.web.kit import (
    AnyRequest,
    Staff,
    error_page,
    field,
    optional_id,
    page,
    parse_date,
    staff_page,
)
from backend.web.nav import PEOPLE_PERMISSIONS
from backend.web.people import BASE, posted, school_of

FILE_READERS = (Permission.PERSONAL_FILE_READ,)
FILE_WRITERS = (Permission.PERSONAL_FILE_WRITE,)
CONSENT_KINDS = ("personal_data", "cross_border")
# The personal file's fields the office corrects on the pupil's page (names and the book of
# movement have their own ways; health is the nurse's and the class teacher's to read).
EDITABLE = (
    "personal_file_number",
    "birth_date",
    "snils",
    "document_series",
    "document_number",
    "document_issued_on",
    "document_issued_by",
    "registration_address",
    "residence_address",
    "phone",
    "email",
)


async def _year_classes(staff: Staff, school_id: int) -> list[dict[str, Any]]:
    try:
        year = await imports.year_of(school_id, None)
    except ValidationFailed:
        return []
    return await structure.list_classes(staff.actor, school_id, year["id"])


async def _optional(reader: Any, *args: Any) -> Any:
    """A part of the page the person may not read (health for the secretary): left out."""
    try:
        return await reader(*args)
    except NotFound:
        return None


class PeopleFilesController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/classes/{class_id:int}")
    async def class_page(self, request: AnyRequest, class_id: PathId) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            roster = await lists.class_roster(staff.actor, class_id)
            target = await movement.class_target(class_id)
            return page(
                request,
                "people/class.html",
                staff.principal,
                roster=roster,
                # Files are linked only for those who may open them (a class teacher: their class).
                may_files=staff.principal.allows(Permission.PERSONAL_FILE_READ, target),
                may_codes=staff.principal.has_permission(Permission.ACCOUNTS_MANAGE),
            )

        return await staff_page(request, PEOPLE_PERMISSIONS, "web.people.refused", show)

    @get("/staff")
    async def staff_list(self, request: AnyRequest) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            school_id = await school_of(staff, request.query_params.get("school_id"))
            people = await lists.staff_of_school(staff.actor, school_id)
            return page(
                request,
                "people/staff.html",
                staff.principal,
                people=people,
                school_id=school_id,
                position_names=imports.POSITION_NAMES,
            )

        return await staff_page(request, PEOPLE_PERMISSIONS, "web.people.refused", show)

    @get("/pupils/{student_id:int}")
    async def pupil(self, request: AnyRequest, student_id: PathId) -> Response[Any]:
        """The pupil's personal file: its read (and the guardians' contacts, and health) is
        written to the audit log by the services."""

        async def show(staff: Staff) -> Response[Any]:
            actor = staff.actor
            card = await personal_files.student_card(actor, student_id)
            file = await personal_files.personal_file(actor, student_id)
            guardians = await personal_files.guardian_contacts(actor, student_id)
            health = (
                await _optional(personal_files.health, actor, student_id)
                if staff.principal.has_permission(Permission.HEALTH_READ)
                else None
            )
            history = await movement.history(actor, student_id)
            may_write = staff.principal.has_permission(Permission.PERSONAL_FILE_WRITE)
            classes = await _year_classes(staff, card["school_id"]) if may_write else []
            return page(
                request,
                "people/pupil.html",
                staff.principal,
                card=card,
                file=file,
                guardians=guardians,
                health=health,
                history=history,
                classes=classes,
                may_write=may_write,
                may_audit=staff.principal.has_permission(Permission.AUDIT_READ),
                kinds=movement.KINDS,
                today=movement.today(),
                snils=format_snils(file["snils"]) if file["snils"] else "",
                relation_names=imports.RELATION_NAMES,
                editable=EDITABLE,
            )

        return await staff_page(request, FILE_READERS, "web.people.refused", show)

    @get("/guardians/{guardian_id:int}")
    async def guardian(self, request: AnyRequest, guardian_id: PathId) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            row = await personal_files.guardian_file(staff.actor, guardian_id)
            children = [
                {**c, **await personal_files.student_card(staff.actor, c["student_id"])}
                for c in row["children"]
            ]
            return page(
                request, "people/guardian.html", staff.principal, file=row, children=children
            )

        return await staff_page(request, FILE_READERS, "web.people.refused", show)

    @post("/pupils/{student_id:int}/movement", status_code=200)
    async def record_movement(self, request: AnyRequest, student_id: PathId) -> Response[Any]:
        """A new entry of the book of movement: admission, transfer, leaving, graduation."""
        staff, form = await posted(request, FILE_WRITERS)
        if isinstance(staff, Response):
            return staff
        try:
            kind = str(form.get("kind") or "")
            if kind not in movement.KINDS:
                raise ValidationFailed(key="error.choice_field", field=field("movement_kind"))
            on = _required_date(form.get("date"), "date")
            await movement.record_movement(
                staff.actor,
                student_id,
                kind,
                on,
                str(form.get("order_number") or ""),
                class_id=optional_id(form.get("class_id"), "class_id"),
                reason=str(form.get("reason") or "")[:300],
            )
        except DomainError as exc:
            return error_page(request, staff.principal, exc)
        return Redirect(path=f"{BASE}/pupils/{student_id}#movement", status_code=HTTP_303_SEE_OTHER)

    @post("/pupils/{student_id:int}/file", status_code=200)
    async def update_file(self, request: AnyRequest, student_id: PathId) -> Response[Any]:
        """Corrections of the personal file (the service checks every field, and that consent
        is recorded before personal data is written; nothing is written if any field fails)."""
        staff, form = await posted(request, FILE_WRITERS)
        if isinstance(staff, Response):
            return staff
        data = {name: str(form[name])[:600] for name in EDITABLE if name in form}
        try:
            await personal_files.update_student(staff.actor, student_id, data)
        except DomainError as exc:
            return error_page(request, staff.principal, _naming_fields(exc))
        return Redirect(path=f"{BASE}/pupils/{student_id}#file", status_code=HTTP_303_SEE_OTHER)

    @post("/pupils/{student_id:int}/consent", status_code=200)
    async def add_consent(self, request: AnyRequest, student_id: PathId) -> Response[Any]:
        """A consent to the processing of personal data, as signed on paper."""
        staff, form = await posted(request, FILE_WRITERS)
        if isinstance(staff, Response):
            return staff
        try:
            kind = str(form.get("kind") or "personal_data")
            if kind not in CONSENT_KINDS:
                raise ValidationFailed(key="error.choice_field", field=field("consent_kind"))
            await personal_files.add_consent(
                staff.actor,
                "student",
                student_id,
                {
                    "given_on": _required_date(form.get("given_on"), "given_on"),
                    "document_ref": str(form.get("document_ref") or "")[:300],
                    "given_by_guardian_id": optional_id(
                        form.get("given_by_guardian_id"), "given_by_guardian_id"
                    ),
                    "kind": kind,
                },
            )
        except DomainError as exc:
            return error_page(request, staff.principal, exc)
        return Redirect(path=f"{BASE}/pupils/{student_id}#consent", status_code=HTTP_303_SEE_OTHER)


def _naming_fields(exc: DomainError) -> DomainError:
    """A refusal of several fields says each field's message, not only "did not pass"."""
    details = exc.details if isinstance(exc.details, list) else []
    messages = [str(d.get("message")) for d in details if isinstance(d, dict) and d.get("message")]
    if len(messages) > 1:
        exc.message = " ".join(messages)
    return exc


def _required_date(value: Any, name: str) -> date:
    day = parse_date(str(value or ""), name)
    if day is None:
        raise ValidationFailed(key="error.missing_field", field=field(name))
    return day


__all__ = ["PeopleFilesController"]
