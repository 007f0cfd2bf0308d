"""The staff web's people section (/admin/web/people): class lists with search, a pupil's page
with the personal file (read through the service, which audits it), the book of movement, and
the import of a file with its dry-run report before anything is written.

Every read and write is the API's service (`backend.schools.people`): rights, validation, the
audit of personal-data reads and the all-or-nothing import (decision 0204) are the same. A file
checked by a dry run waits in Redis under a random token bound to the person who sent it, so
"Импортировать" writes exactly the file whose report was read (decision 1005).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Response
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.core.errors import DomainError, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission, Principal, ScopeKind
from backend.i18n import t
from backend.schools.people import imports, lists, movement
from backend.schools.people.imports import ImportFailed, ImportReport
from backend.schools.services import school_choices, school_names, schools_in_scope
from backend.schools.structure import services as structure
from backend.web.kit import (
    AnyRequest,
    SchoolNotChosen,
    Staff,
    error_page,
    field,
    guard,
    optional_id,
    page,
    parse_id,
    refusal,
    staff_page,
)
from backend.web.nav import PEOPLE_PERMISSIONS
from backend.web.session import check_csrf

BASE = "/admin/web/people"
IMPORT_MAX_BYTES = 20 * 1024 * 1024  # as the API's import
UPLOAD_TTL_S = 30 * 60  # a checked file waits this long for "Импортировать"
UPLOAD_KEY = "web:import:{user_id}:{token}"
EXPORT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Upload(msgspec.Struct):
    """A checked file waiting for its confirmation."""

    school_id: int
    kind: str
    filename: str
    create_classes: bool
    data: bytes


async def school_of(staff: Staff, given: Any) -> int:
    """The school a page is about: the one asked for (the services check it), else the first
    where the person works with people; a class teacher's comes from their class."""
    asked = optional_id(given, "school_id")
    if asked is not None:
        return asked
    principal = staff.principal
    ids: set[int] = set()
    for permission in PEOPLE_PERMISSIONS:
        held = await schools_in_scope(principal, permission)
        if held is None:  # system-wide: the school is chosen from a list (if there are several)
            choices = await school_choices(None)
            if len(choices) == 1:
                return choices[0][0]
            raise SchoolNotChosen(choices, "school_id")
        ids |= held
    if len(ids) > 1:
        raise SchoolNotChosen(await school_choices(ids), "school_id")
    if ids:
        return min(ids)
    classes = principal.scope_ids(Permission.PERSONAL_FILE_READ, ScopeKind.CLASS)
    if classes:
        return (await movement.class_info(min(classes))).school_id
    raise ValidationFailed(key="error.missing_field", field=field("school_id"))


async def posted(
    request: AnyRequest, permissions: tuple[Permission, ...]
) -> tuple[Staff | Response[Any], dict[str, Any]]:
    """A form's POST: the CSRF token first (refused before anything is looked at), then the
    sign-in and the section's permissions."""
    form = dict((await request.form()).items())
    try:
        check_csrf(request, form)
    except DomainError as exc:
        return page(request, "error.html", None, status=exc.status_code, message=exc.message), form
    return await guard(request, permissions, "web.people.refused"), form


async def post_page(
    request: AnyRequest,
    permissions: tuple[Permission, ...],
    act: Callable[[Staff, dict[str, Any]], Awaitable[Response[Any]]],
) -> Response[Any]:
    """A form's POST answered by a page, a file or a redirect: `posted()` (the CSRF token
    first), then `act(staff, form)`; a refusal on the way (nothing was written) is the error
    page."""
    staff, form = await posted(request, permissions)
    if isinstance(staff, Response):
        return staff
    try:
        return await act(staff, form)
    except DomainError as exc:
        return error_page(request, staff.principal, exc)


def _allows(principal: Principal, permission: Permission) -> bool:
    return principal.has_permission(permission)


class PeopleController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/")
    async def home(self, request: AnyRequest) -> Response[Any]:
        """The school's classes of the current year with their sizes, and a search by name."""

        async def show(staff: Staff) -> Response[Any]:
            query = request.query_params
            if not _allows(staff.principal, Permission.PEOPLE_READ):
                # An official audits the schools; class lists and files are not theirs to read.
                return Redirect(path=f"{BASE}/audit", status_code=HTTP_303_SEE_OTHER)
            school_id = await school_of(staff, query.get("school_id"))
            year = await imports.year_of(school_id, None)
            classes = await structure.list_classes(staff.actor, school_id, year["id"])
            sizes = await movement.pupils_of_classes([c["id"] for c in classes], movement.today())
            wanted = str(query.get("q") or "").strip()
            found = await lists.search_pupils(staff.actor, school_id, wanted) if wanted else None
            names = await school_names({school_id})
            file_schools = await schools_in_scope(staff.principal, Permission.PERSONAL_FILE_READ)
            return page(
                request,
                "people/home.html",
                staff.principal,
                school_id=school_id,
                school_name=names.get(school_id, ""),
                year=year,
                classes=[{**c, "size": len(sizes.get(c["id"], []))} for c in classes],
                q=wanted,
                found=found,
                # A class teacher reads only their class's files: found pupils link to their class.
                files_here=file_schools is None or school_id in file_schools,
                may_import=_allows(staff.principal, Permission.PERSONAL_FILE_WRITE),
                # The school's lists are for who reads its files school-wide (not a class teacher).
                may_export=file_schools is None or school_id in file_schools,
                may_audit=_allows(staff.principal, Permission.AUDIT_READ),
                may_accounts=_allows(staff.principal, Permission.ACCOUNTS_MANAGE),
            )

        return await staff_page(request, PEOPLE_PERMISSIONS, "web.people.refused", show)

    @get("/import")
    async def import_form(self, request: AnyRequest) -> Response[Any]:
        async def show(staff: Staff) -> Response[Any]:
            school_id = await school_of(staff, request.query_params.get("school_id"))
            return page(
                request,
                "people/import.html",
                staff.principal,
                school_id=school_id,
                kinds=imports.KINDS,
                kind=request.query_params.get("kind") or "pupils",
            )

        return await staff_page(
            request, (Permission.PERSONAL_FILE_WRITE,), "web.people.no_import", show
        )

    @post("/import", status_code=200, request_max_body_size=IMPORT_MAX_BYTES + 64 * 1024)
    async def import_check(self, request: AnyRequest) -> Response[Any]:
        """The dry run: the whole file is checked and its report shown; nothing is written.
        A file without errors waits for "Импортировать" (the confirm form below the report)."""
        staff, form = await posted(request, (Permission.PERSONAL_FILE_WRITE,))
        if isinstance(staff, Response):
            return staff
        try:
            school_id = parse_id(form.get("school_id"), "school_id")
            kind = str(form.get("kind") or "")
            if kind not in imports.KINDS:
                raise ValidationFailed(key="error.choice_field", field=field("kind"))
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed(key="error.missing_field", field=field("file"))
            data = await upload.read()
            if len(data) > IMPORT_MAX_BYTES:
                raise ValidationFailed(key="web.people.file_too_large", megabytes=20)
            pending = Upload(
                school_id, kind, upload.filename, form.get("create_classes") == "on", data
            )
            report = await _run(staff, pending, dry_run=True)
        except DomainError as exc:
            return _report_or_error(request, staff, exc, form)
        token = secrets.token_urlsafe(24)
        key = UPLOAD_KEY.format(user_id=staff.principal.user_id, token=token)
        await request.app.state.redis.set(key, msgspec.msgpack.encode(pending), ex=UPLOAD_TTL_S)
        return _report_page(request, staff, report, school_id, pending.filename, token)

    @post("/import/confirm", status_code=200)
    async def import_confirm(self, request: AnyRequest) -> Response[Any]:
        """Writes the file whose report was read: checked again whole, written in one
        transaction (or not at all, with the report of what is now wrong)."""
        staff, form = await posted(request, (Permission.PERSONAL_FILE_WRITE,))
        if isinstance(staff, Response):
            return staff
        token = str(form.get("token") or "")
        key = UPLOAD_KEY.format(user_id=staff.principal.user_id, token=token)
        raw = await request.app.state.redis.get(key) if token.isascii() and token else None
        if raw is None:
            exc = ValidationFailed(key="web.people.upload_expired")
            return error_page(request, staff.principal, exc)
        pending = msgspec.msgpack.decode(raw, type=Upload)
        try:
            report = await _run(staff, pending, dry_run=False)
        except DomainError as exc:
            return _report_or_error(request, staff, exc, {"school_id": pending.school_id})
        finally:
            await request.app.state.redis.delete(key)
        return _report_page(request, staff, report, pending.school_id, pending.filename, None)

    @get("/export")
    async def export(self, request: AnyRequest) -> Response[Any]:
        """A list of the school as CSV or XLSX: the import's columns (the export service; it
        audits the personal data it gives out)."""

        async def show(staff: Staff) -> Response[Any]:
            query = request.query_params
            school_id = await school_of(staff, query.get("school_id"))
            kind = str(query.get("kind") or "pupils")
            if kind not in imports.KINDS:
                raise ValidationFailed(key="error.choice_field", field=field("kind"))
            fmt = str(query.get("format") or "xlsx")
            if fmt not in EXPORT_TYPES:
                raise ValidationFailed(key="error.choice_field", field=field("format"))
            held = await schools_in_scope(staff.principal, Permission.PERSONAL_FILE_READ)
            if held is not None and school_id not in held:
                # A class teacher (or another school's secretary): a refusal, not "not found".
                return refusal(request, staff.principal, t("web.people.no_export"))
            content = await imports.export_file(staff.actor, school_id, kind, fmt)
            return Response(
                content=content,
                media_type=EXPORT_TYPES[fmt],
                headers={"Content-Disposition": f'attachment; filename="{kind}-{school_id}.{fmt}"'},
            )

        return await staff_page(
            request, (Permission.PERSONAL_FILE_READ,), "web.people.refused", show
        )


async def _run(staff: Staff, pending: Upload, *, dry_run: bool) -> ImportReport:
    return await imports.import_file(
        staff.actor,
        pending.school_id,
        pending.kind,
        pending.data,
        pending.filename,
        create_classes=pending.create_classes,
        dry_run=dry_run,
    )


def _report_or_error(
    request: AnyRequest, staff: Staff, exc: DomainError, form: dict[str, Any]
) -> Response[Any]:
    """A file with bad lines: its report (every line, column and Russian reason) under the
    service's message; any other refusal: the error page. Nothing was written either way."""
    if not isinstance(exc, ImportFailed):
        return error_page(request, staff.principal, exc)
    return page(
        request,
        "people/report.html",
        staff.principal,
        status=exc.status_code,
        report=exc.report,
        message=exc.message,
        school_id=form.get("school_id"),
        filename=None,
        token=None,
        kind_title=t(f"import.title.{exc.report.kind}"),
    )


def _report_page(
    request: AnyRequest,
    staff: Staff,
    report: ImportReport,
    school_id: int,
    filename: str,
    token: str | None,
) -> Response[Any]:
    counts = {
        "rows": report.rows,
        "created": report.created,
        "would_create": report.would_create,
        "updated": report.updated,
        "would_update": report.would_update,
        "unchanged": report.unchanged,
    }
    key = "web.people.imported" if report.imported else "web.people.checked"
    return page(
        request,
        "people/report.html",
        staff.principal,
        report=report,
        message=t(key, **counts),
        school_id=school_id,
        filename=filename,
        token=token,
        kind_title=t(f"import.title.{report.kind}"),
    )
