"""HTTP endpoints of the reports: /api/v1/reports. `?format=json|xlsx|pdf`."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Response

from backend.core.bounds import PathId, QueryId
from backend.core.context import Actor
from backend.core.files_openapi import answers_in
from backend.core.http import ActorDep, requires
from backend.core.rights import Permission
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

Format = Literal["json", "xlsx", "pdf"]
READERS = [requires(Permission.REPORTS_READ)]
REPORT_FILES = answers_in(MEDIA["xlsx"], MEDIA["pdf"], keep_json=True)


async def _file(
    fmt: Format, data: dict[str, Any], sheets: list[Sheet], actor: Actor, name: str
) -> Any:
    if fmt == "json":
        return Response(data)
    content = await render(fmt, sheets, actor)
    return Response(
        content,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


class ReportsController(Controller):
    path = "/api/v1/reports"
    tags = ["Отчёты"]

    @get(
        "/classes/{class_id:int}/performance",
        guards=READERS,
        operation_class=REPORT_FILES,
        summary="Ведомость успеваемости класса",
    )
    async def class_performance(
        self,
        actor: ActorDep,
        class_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        format: FromQuery[Format] = "json",
    ) -> Any:
        data = await services.class_performance(actor, class_id, period_id, date_from, date_to)
        return await _file(
            format, data, [performance_sheet(data)], actor, f"performance-{class_id}"
        )

    @get(
        "/schools/{school_id:int}/performance",
        guards=READERS,
        operation_class=REPORT_FILES,
        summary="Успеваемость школы по классам",
    )
    async def school_performance(
        self,
        actor: ActorDep,
        school_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        format: FromQuery[Format] = "json",
    ) -> Any:
        data = await services.school_performance(actor, school_id, period_id, date_from, date_to)
        sheets = school_performance_sheets(data)
        return await _file(format, data, sheets, actor, f"school-{school_id}")

    @get(
        "/schools/{school_id:int}/attendance",
        guards=READERS,
        operation_class=REPORT_FILES,
        summary="Посещаемость по ученикам и причинам",
    )
    async def attendance(
        self,
        actor: ActorDep,
        school_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        format: FromQuery[Format] = "json",
    ) -> Any:
        data = await services.attendance(actor, school_id, period_id, date_from, date_to)
        sheets = attendance_sheets(data)
        return await _file(format, data, sheets, actor, f"attendance-{school_id}")

    @get(
        "/schools/{school_id:int}/quality",
        guards=READERS,
        operation_class=REPORT_FILES,
        summary="Качество знаний и успеваемость",
    )
    async def quality(
        self,
        actor: ActorDep,
        school_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        format: FromQuery[Format] = "json",
    ) -> Any:
        data = await services.quality(actor, school_id, period_id, date_from, date_to)
        sheets = quality_sheets(data)
        return await _file(format, data, sheets, actor, f"quality-{school_id}")

    @get(
        "/schools/{school_id:int}/completeness",
        guards=READERS,
        operation_class=REPORT_FILES,
        summary="Заполнение журнала",
    )
    async def completeness(
        self,
        actor: ActorDep,
        school_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        format: FromQuery[Format] = "json",
    ) -> Any:
        data = await services.completeness(actor, school_id, period_id, date_from, date_to)
        sheets = completeness_sheets(data)
        return await _file(format, data, sheets, actor, f"completeness-{school_id}")

    @get(
        "/schools/{school_id:int}/at-risk",
        guards=READERS,
        operation_class=REPORT_FILES,
        summary="Ученики группы риска",
    )
    async def at_risk(
        self,
        actor: ActorDep,
        school_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        format: FromQuery[Format] = "json",
    ) -> Any:
        data = await services.at_risk(actor, school_id, period_id, date_from, date_to)
        sheets = at_risk_sheets(data)
        return await _file(format, data, sheets, actor, f"at-risk-{school_id}")
