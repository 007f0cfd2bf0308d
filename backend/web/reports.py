"""The reports section of the staff web (/admin/web/reports): performance, attendance, quality,
pupils at risk and journal completeness, each a table with a chart drawn on the server (inline
SVG from `reports/_charts.html`: no script, no outside address) and its XLSX and PDF files.

Every page calls the function the API's report endpoint calls (`backend.reports.services`) and
its files are the API's (`backend.reports.sheets`, decision 0014/0302), so rights (REPORTS_READ
over the school or the class; names of pupils for school and class grants only), the audit of
reads that name pupils, the range checks and the Russian messages are the API's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Response

from backend.core.bounds import PathId
from backend.core.context import Actor
from backend.core.errors import DomainError, ValidationFailed
from backend.core.http import PUBLIC
from backend.core.rights import Permission, Principal, ScopeKind
from backend.journal.card import school_periods
from backend.reports import services
from backend.reports.files import Sheet
from backend.reports.sheets import (
    MEDIA,
    at_risk_sheets,
    attendance_sheets,
    completeness_sheets,
    performance_sheet,
    quality_sheets,
    render,
    school_performance_sheets,
)
from backend.schools.people.movement import class_info
from backend.schools.services import school_choices, schools_in_scope
from backend.web.kit import (
    Staff,
    field,
    guard,
    optional_id,
    page,
    parse_date,
    parse_id,
    staff_page,
)

BASE = "/admin/web/reports"
PERMISSIONS = (Permission.REPORTS_READ,)
REFUSED = "web.reports.refused"
SchoolReport = Callable[[Actor, int, int | None, date | None, date | None], Awaitable[Any]]
# report key → (service, its sheets, whether it names pupils)
REPORTS: dict[str, tuple[SchoolReport, Callable[[dict[str, Any]], list[Sheet]], bool]] = {
    "performance": (services.school_performance, school_performance_sheets, True),
    "attendance": (services.attendance, attendance_sheets, True),
    "quality": (services.quality, quality_sheets, False),
    "at-risk": (services.at_risk, at_risk_sheets, True),
    "completeness": (services.completeness, completeness_sheets, False),
}
FORMATS = ("html", "xlsx", "pdf")


def names_pupils(principal: Principal) -> bool:
    """Whether the person reads reports that name pupils: a school, class or system grant
    (officials of a region or municipality read the aggregated ones)."""
    return any(
        Permission.REPORTS_READ in g.permissions()
        and g.scope_kind in (ScopeKind.SYSTEM, ScopeKind.SCHOOL, ScopeKind.CLASS)
        for g in principal.live_grants()
    )


def _format(value: Any) -> str:
    fmt = str(value or "html")
    if fmt not in FORMATS:
        raise ValidationFailed(key="error.wrong_type", field=field("format"))
    return fmt


async def _download(fmt: str, sheets: list[Sheet], actor: Actor, name: str) -> Response[bytes]:
    content = await render(fmt, sheets, actor)
    return Response(
        content,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


class ReportsWebController(Controller):
    path = BASE
    include_in_schema = False
    opt = PUBLIC  # signed in by the admin cookie, checked in each handler

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The schools (and a class teacher's classes) whose reports the person reads."""
        staff = await guard(request, PERMISSIONS, REFUSED)
        if isinstance(staff, Response):
            return staff
        principal = staff.principal
        found = await schools_in_scope(principal, Permission.REPORTS_READ)
        schools = dict(await school_choices(found))  # found None: every school, by name
        classes = sorted(
            {
                g.scope_id
                for g in principal.live_grants()
                if g.scope_kind is ScopeKind.CLASS
                and g.scope_id
                and Permission.REPORTS_READ in g.permissions()
            }
        )
        school_id = optional_id(request.query_params.get("school_id"), "school_id")
        if school_id is None and len(schools) == 1:
            school_id = next(iter(schools))
        periods = await school_periods(school_id) if school_id in schools else []
        return page(
            request,
            "reports/index.html",
            principal,
            schools=sorted(schools.items(), key=lambda x: (x[1], x[0])),
            school_id=school_id if school_id in schools else None,
            everywhere=found is None,
            classes=await _class_labels(classes),
            periods=periods,
            names=names_pupils(principal),
            reports=[k for k, v in REPORTS.items() if v[2] is False or names_pupils(principal)],
        )

    @get("/classes/{class_id:int}")
    async def class_performance(
        self, request: Request[Any, Any, Any], class_id: PathId
    ) -> Response[Any]:
        """Ведомость успеваемости of one class: each pupil's averages and final marks by subject,
        and per subject the class's average, quality and success."""

        async def show(staff: Staff) -> Response[Any]:
            fmt, span = _span(request)
            data = await services.class_performance(staff.actor, class_id, *span)
            if fmt != "html":
                return await _download(
                    fmt, [performance_sheet(data)], staff.actor, f"performance-{class_id}"
                )
            return page(
                request, "reports/class.html", staff.principal, data=data, links=_links(request)
            )

        return await staff_page(request, PERMISSIONS, REFUSED, show)

    @get("/{report:str}")
    async def school_report(
        self, request: Request[Any, Any, Any], report: FromPath[str]
    ) -> Response[Any]:
        return await staff_page(
            request, PERMISSIONS, REFUSED, lambda st: _school_report(request, st, report)
        )


async def _school_report(
    request: Request[Any, Any, Any], staff: Staff, report: str
) -> Response[Any]:
    if report not in REPORTS:
        raise ValidationFailed(key="error.wrong_type", field=field("report"))
    build, sheets, _ = REPORTS[report]
    school_id = parse_id(request.query_params.get("school_id"), "school_id")
    fmt, span = _span(request)
    data = await build(staff.actor, school_id, *span)
    if fmt != "html":
        return await _download(fmt, sheets(data), staff.actor, f"{report}-{school_id}")
    return page(
        request,
        f"reports/{report}.html",
        staff.principal,
        data=data,
        report=report,
        school_id=school_id,
        links=_links(request),
    )


def _span(request: Request[Any, Any, Any]) -> tuple[str, tuple[int | None, Any, Any]]:
    query = request.query_params
    return _format(query.get("format")), (
        optional_id(query.get("period_id"), "period_id"),
        parse_date(query.get("from"), "from"),
        parse_date(query.get("to"), "to"),
    )


def _links(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The page's own address with `format=xlsx` and `format=pdf` (the same span)."""
    query = [(k, v) for k, v in request.query_params.items() if k != "format"]
    return {
        f"{fmt}_url": f"{request.url.path}?{urlencode([*query, ('format', fmt)])}"
        for fmt in ("xlsx", "pdf")
    }


async def _class_labels(class_ids: list[int]) -> list[tuple[int, str]]:
    found = []
    for class_id in class_ids[:20]:  # a class teacher leads one or two classes
        try:
            info = await class_info(class_id)
        except DomainError:
            continue
        found.append((class_id, info.label))
    return found
