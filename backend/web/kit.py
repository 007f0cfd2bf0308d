"""What every staff-web page shares: rendering with the person, the CSRF token and the
navigation; the sign-in and staff guard; parsing of form and query values into Russian field
errors; the HTMX answer for a refusal.

A section's module (`backend/web/<section>.py`) builds its Controller on these, so each page
checks the same things the same way: `guard()` first (sign-in, staff only, the section's
permissions), then the services with `actor`, and a `DomainError` becomes `error_page()` (a
full page) or `htmx_refusal()` (a partial for an HTMX request). A page goes through
`school_page()` (or `staff_page()` when it is not about one school) and a form's post through
`submit()`, which hold that order once: the handler keeps only its own work.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import msgspec
import msgspec.inspect
from litestar import Request
from litestar.response import Redirect, Response, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from backend.core.context import Actor
from backend.core.errors import DomainError, Forbidden, ValidationFailed
from backend.core.http_errors import validation_failed
from backend.core.rights import Permission, Principal
from backend.i18n import t
from backend.schools.services import school_choices, schools_in_scope
from backend.web.nav import is_staff, staff_permissions, visible_sections
from backend.web.session import (
    LOGIN_PATH,
    actor_of,
    check_csrf,
    csrf_token,
    principal_from_cookie,
)

AnyRequest = Request[Any, Any, Any]
T = TypeVar("T")
PICK_LIMIT = 60  # schools listed on the choice page; more are found by a part of the name


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in member of staff a page acts for."""

    principal: Principal
    actor: Actor


def to_login(request: AnyRequest) -> Redirect:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(path=f"{LOGIN_PATH}?next={quote(here)}", status_code=HTTP_303_SEE_OTHER)


def page(
    request: AnyRequest,
    name: str,
    principal: Principal | None,
    status: int = 200,
    **context: Any,
) -> Template:
    """A full page: the template with the person, the CSRF token and the sections they may open."""
    return Template(
        template_name=name,
        context={
            "csrf": csrf_token(request),
            "person": principal.display_name if principal else "",
            "nav": visible_sections(principal) if principal else (),
            "here": request.url.path,
            **context,
        },
        status_code=status,
    )


def refusal(request: AnyRequest, principal: Principal, message: str) -> Template:
    return page(request, "refusal.html", principal, status=403, message=message)


def error_page(request: AnyRequest, principal: Principal, exc: DomainError) -> Template:
    if isinstance(exc, SchoolNotChosen) and exc.schools:
        links = _school_links(request, exc)
        return page(
            request,
            "pick_school.html",
            principal,
            schools=links[:PICK_LIMIT],
            more=len(links) > PICK_LIMIT,
            searchable=len(exc.schools) > PICK_LIMIT,
            school_name=request.query_params.get("school_name") or "",
            request_query=[(k, v) for k, v in request.query_params.items() if k != "school_name"],
        )
    return page(request, "error.html", principal, status=exc.status_code, message=exc.message)


def htmx_refusal(exc: DomainError, target: str = "#page-status") -> Template:
    """A refusal answered to an HTMX request: the message goes into the page's status line and
    nothing else on the page changes (nothing was written)."""
    return Template(
        template_name="status.html",
        context={"message": exc.message, "error": True},
        status_code=exc.status_code,
        headers={"HX-Retarget": target, "HX-Reswap": "innerHTML"},
    )


async def guard(
    request: AnyRequest, permissions: tuple[Permission, ...], refusal_key: str
) -> Staff | Response[Any]:
    """Sign-in, then staff only, then one of the section's permissions. Answers the page to show
    instead (the sign-in form, or a 403 in Russian that reveals nothing) when any fails."""
    principal = await principal_from_cookie(request)
    if principal is None:
        return to_login(request)
    if not is_staff(principal):
        return refusal(request, principal, t("web.not_staff"))
    if permissions and not staff_permissions(principal).intersection(permissions):
        return refusal(request, principal, t(refusal_key))
    return Staff(principal, actor_of(request, principal))


Build = Callable[[Staff, int], Awaitable[Response[Any]]]


async def in_school(
    request: AnyRequest, staff: Staff, school: tuple[Permission, ...], build: Build
) -> Response[Any]:
    """A page about one school for a guarded `staff`: the school (`school_of()` with `school`:
    the choice of school when the person may act in several), then `build(staff, school_id)`,
    whose answer is sent; a refusal on the way (a `DomainError`) is `error_page()`."""
    try:
        return await build(staff, await school_of(request, staff, *school))
    except DomainError as exc:
        return error_page(request, staff.principal, exc)


async def school_page(
    request: AnyRequest,
    permissions: tuple[Permission, ...],
    refusal_key: str,
    build: Build,
    school: tuple[Permission, ...] | None = None,
) -> Response[Any]:
    """A section's page about one school: `guard()` (the sign-in form or a 403 page), then
    `in_school()` with the school held as staff with one of `school` (the guard's
    `permissions` when not given)."""
    staff = await guard(request, permissions, refusal_key)
    if isinstance(staff, Response):
        return staff
    return await in_school(request, staff, school or permissions, build)


async def staff_page(
    request: AnyRequest,
    permissions: tuple[Permission, ...],
    refusal_key: str,
    build: Callable[[Staff], Awaitable[Response[Any]]],
) -> Response[Any]:
    """A page not about one school (a file, a record found by its id): `guard()`, then
    `build(staff)`; a refusal on the way is `error_page()`."""
    staff = await guard(request, permissions, refusal_key)
    if isinstance(staff, Response):
        return staff
    try:
        return await build(staff)
    except DomainError as exc:
        return error_page(request, staff.principal, exc)


def field(name: str) -> str:
    return t(f"web.field.{name}")


def parse_date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(key="error.wrong_type", field=field(name)) from exc


def parse_id(value: Any, name: str) -> int:
    text = str(value or "")
    if not text.isdigit() or len(text) > 12:
        raise ValidationFailed(key="error.wrong_type", field=field(name))
    return int(text)


def optional_id(value: Any, name: str) -> int | None:
    return parse_id(value, name) if value not in (None, "") else None


def op_id() -> str:
    """A fresh operation id for a form: a resubmit of the same form is a repeat, not a second
    write (the sync answers it from its record)."""
    return f"web-{uuid.uuid4()}"


def form_struct(kind: type[T], values: dict[str, Any]) -> T:
    """A form's values as the API's request body: empty fields are left out (the body's
    defaults apply) except text fields, which the API refuses empty; text becomes numbers and
    dates as in JSON; a bad value is refused with the API's Russian message naming the field."""
    text = {
        f.name
        for f in msgspec.structs.fields(kind)  # type: ignore[arg-type]
        if msgspec.inspect.type_info(f.type).__class__ is msgspec.inspect.StrType
    }
    given = {k: v for k, v in values.items() if v is not None and (v != "" or k in text)}
    try:
        return msgspec.convert(given, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_failed(exc) from exc


async def school_of(request: AnyRequest, staff: Staff, *permissions: Permission) -> int:
    """The school a page is about: `?school=` when given (and held as staff with one of
    `permissions`), else the person's only such school. A person of several schools (an
    official, the system administrator) chooses from a list (`SchoolNotChosen`)."""
    found = [await schools_in_scope(staff.principal, p) for p in permissions]
    held = None if any(f is None for f in found) else {i for f in found if f for i in f}
    raw = request.query_params.get("school")
    if raw:
        chosen = parse_id(raw, "school_id")
        if held is not None and chosen not in held:
            raise Forbidden()
        return chosen
    if held and len(held) == 1:
        return next(iter(held))
    choices = await school_choices(held)
    if len(choices) == 1:  # a system-wide grant on an installation of one school
        return choices[0][0]
    raise SchoolNotChosen(choices, "school")


class SchoolNotChosen(ValidationFailed):
    """A page about one school, asked without one by a person who may act in several (an
    official, the system administrator): `error_page()` answers the schools to choose from,
    each a link to the same page with `param` (the page's school parameter) set."""

    def __init__(self, schools: list[tuple[int, str]], param: str) -> None:
        super().__init__(key="web.pick_school" if schools else "web.no_schools")
        self.schools = schools
        self.param = param


def _school_links(request: AnyRequest, exc: SchoolNotChosen) -> list[tuple[str, str]]:
    wanted = str(request.query_params.get("school_name") or "").strip().casefold()
    kept = [(k, v) for k, v in request.query_params.items() if k not in (exc.param, "school_name")]
    return [
        (name, f"{request.url.path}?{urlencode([*kept, (exc.param, school_id)])}")
        for school_id, name in exc.schools
        if wanted in name.casefold()
    ]


async def form_of(request: AnyRequest) -> dict[str, Any]:
    """A posted form's fields, its CSRF token checked first: nothing is read without it."""
    form = dict((await request.form()).items())
    check_csrf(request, form)
    return form


async def signed_form(request: AnyRequest) -> tuple[Actor, dict[str, Any]]:
    """An HTMX edit of the journal (the services check the rights): the posted form with its
    CSRF token checked first, then signed in; else a `DomainError` for `htmx_refusal()`."""
    principal = await principal_from_cookie(request)
    form = dict((await request.form()).items())
    check_csrf(request, form)
    if principal is None:
        raise Forbidden(key="web.signed_out")
    return actor_of(request, principal), form


async def writer(
    request: AnyRequest, form: dict[str, Any], permission: Permission, refusal_key: str
) -> Staff:
    """A write's caller, for an HTMX answer: CSRF first (nothing is looked at without it), then
    signed in, staff, and holding `permission` as staff; else a refusal in Russian."""
    check_csrf(request, form)
    principal = await principal_from_cookie(request)
    if principal is None:
        raise Forbidden(key="web.signed_out")
    if not is_staff(principal):
        raise Forbidden(key="web.not_staff")
    if permission not in staff_permissions(principal):
        raise Forbidden(key=refusal_key)
    return Staff(principal, actor_of(request, principal))


async def form_writer(
    request: AnyRequest, permission: Permission, refusal_key: str
) -> tuple[Staff | Response[Any], dict[str, Any]]:
    """A form's post whose refusal is a page: `writer()` (the CSRF token first) with the posted
    form; a refusal there is the error page, with the person's navigation when they are staff."""
    form = dict((await request.form()).items())
    try:
        return await writer(request, form, permission, refusal_key), form
    except DomainError as exc:
        found = await guard(request, (), "web.not_staff")
        if isinstance(found, Staff):
            return error_page(request, found.principal, exc), form
        return page(request, "error.html", None, status=exc.status_code, message=exc.message), form


Act = Callable[[Staff, dict[str, Any]], Awaitable[Response[Any]]]
Refused = Callable[[AnyRequest, Staff, DomainError], Awaitable[Response[Any]]]


async def submit(
    request: AnyRequest,
    permissions: tuple[Permission, ...],
    refusal_key: str,
    act: Act,
    refused: Refused,
) -> Response[Any]:
    """A form's post on a page: `guard()` first (the sign-in form or a 403 page), then the CSRF
    token, then `act` with the form, whose answer is sent (a redirect back, a fragment). A
    refusal on the way (a `DomainError`: nothing was written) is answered by `refused`: the page
    again with the message (a section's page builder that takes the error), or `refused_htmx()`."""
    staff = await guard(request, permissions, refusal_key)
    if isinstance(staff, Response):
        return staff
    try:
        return await act(staff, await form_of(request))
    except DomainError as exc:
        return await refused(request, staff, exc)


def refused_htmx(target: str) -> Refused:
    """`submit()`'s answer to a refusal for an HTMX form: `htmx_refusal()` into `target`."""

    async def refused(request: AnyRequest, staff: Staff, exc: DomainError) -> Response[Any]:
        return htmx_refusal(exc, target)

    return refused
