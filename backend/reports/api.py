"""HTTP endpoints of the reports: /api/v1/reports. `?format=json|xlsx|pdf`."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import anyio
from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Response

from backend.core.bounds import PathId, QueryId
from backend.core.context import Actor
from backend.core.files_openapi import answers_in
from backend.core.http import ActorDep, requires
from backend.core.rights import Permission
from backend.i18n import t
from backend.reports import services
from backend.reports.files import Sheet, to_pdf, to_xlsx

Format = Literal["json", "xlsx", "pdf"]
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
READERS = [requires(Permission.REPORTS_READ)]
REPORT_FILES = answers_in(MEDIA["xlsx"], MEDIA["pdf"], keep_json=True)


def _who(actor: Actor) -> str:
    principal = actor.principal
    if principal is None:
        return t("reports.by_system")
    return principal.display_name or t("reports.no_name", user_id=principal.user_id)


async def _file(
    fmt: Format, data: dict[str, Any], sheets: list[Sheet], actor: Actor, name: str
) -> Any:
    if fmt == "json":
        return Response(data)
    # Rendering takes CPU seconds for a big school: in a worker thread, so the event loop (and
    # every other request) goes on meanwhile.
    render = to_xlsx if fmt == "xlsx" else to_pdf
    content = await anyio.to_thread.run_sync(render, sheets, _who(actor))
    return Response(
        content,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _fmt(value: float | None) -> Any:
    return "" if value is None else value


def performance_sheet(data: dict[str, Any]) -> Sheet:
    columns = [t("reports.pupil"), *(s["name"] for s in data["subjects"])]
    rows = []
    for pupil in data["pupils"]:
        row: list[Any] = [pupil["name"]]
        for cell in pupil["cells"]:
            if cell is None:
                row.append("")
            else:
                shown = _fmt(cell["weighted_average"])
                row.append(f"{shown} ({cell['final']})" if cell["final"] else shown)
        rows.append(row)
    rows.append([t("reports.average"), *(_fmt(s["average"]) for s in data["summary"])])
    rows.append([t("reports.quality"), *(_fmt(s["quality"]) for s in data["summary"])])
    rows.append([t("reports.success"), *(_fmt(s["success"]) for s in data["summary"])])
    return Sheet(
        name=data["class_name"],
        title=t("reports.performance_title", class_name=data["class_name"], period=data["period"]),
        columns=columns,
        rows=rows,
        chart_title=t("reports.chart_title"),
        chart_labels=[s["subject"] for s in data["summary"]],
        chart_values=[s["average"] for s in data["summary"]],
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
        sheets = [performance_sheet(c) for c in data["classes"]]
        summary_rows = []
        for c in data["classes"]:
            summary_rows.append([c["class_name"], _fmt(c["quality"]), _fmt(c["success"])])
        summary = Sheet(
            name=t("reports.sheet_summary"),
            title=t("reports.school_title", school=data["school"], period=data["period"]),
            columns=["", t("reports.quality"), t("reports.success")],
            rows=summary_rows,
            chart_title=t("reports.quality"),
            chart_labels=[r[0] for r in summary_rows],
            chart_values=[r[1] or None for r in summary_rows],
        )
        return await _file(format, data, [summary, *sheets], actor, f"school-{school_id}")

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
        pupils = Sheet(
            name="Ученики",
            title=f"Посещаемость: {data['school']}, {data['period']}",
            columns=[t("reports.pupil"), "Уроков", "н", "б", "у", "оп", "Пропущено, %"],
            rows=[
                [
                    p["name"],
                    p["lessons"],
                    p["absent"],
                    p["sick"],
                    p["excused"],
                    p["late"],
                    _fmt(p["missed_share"]),
                ]
                for p in data["pupils"]
            ],
        )
        reasons = Sheet(
            name="Причины",
            title=f"Пропуски по причинам: {data['school']}, {data['period']}",
            columns=["Отметка", "Причина", "Уроков"],
            rows=[
                [t(f"journal.attendance.{r['status']}"), r["reason"], r["count"]]
                for r in data["reasons"]
            ],
            chart_title="Пропуски по причинам",
            chart_labels=[
                f"{t('journal.attendance.' + r['status'])} {r['reason']}".strip()
                for r in data["reasons"][:15]
            ],
            chart_values=[r["count"] for r in data["reasons"][:15]],
        )
        return await _file(format, data, [pupils, reasons], actor, f"attendance-{school_id}")

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
        sheets = []
        for key, heading in (
            ("by_class", "Класс"),
            ("by_subject", "Предмет"),
            ("by_teacher", "Учитель"),
        ):
            rows = data[key]
            sheets.append(
                Sheet(
                    name=heading,
                    title=f"{t('reports.quality')} / {t('reports.success')}: "
                    f"{data['school']}, {data['period']}",
                    columns=[
                        heading,
                        t("reports.quality"),
                        t("reports.success"),
                        t("reports.average"),
                    ],
                    rows=[
                        [r["name"], _fmt(r["quality"]), _fmt(r["success"]), r["average"]]
                        for r in rows
                    ],
                    chart_title=t("reports.quality"),
                    chart_labels=[r["name"] for r in rows],
                    chart_values=[r["quality"] for r in rows],
                )
            )
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
        columns = ["Учитель", "Дата", "Урок", "Класс", "Предмет"]

        def rows(items: list[dict[str, Any]]) -> list[list[Any]]:
            return [
                [
                    i["teacher"],
                    i["date"].strftime("%d.%m.%Y"),
                    i["number"],
                    i["class"],
                    i["subject"],
                ]
                for i in items
            ]

        sheets = [
            Sheet(
                "Без посещаемости",
                f"Уроки без отметки посещаемости: {data['school']}, {data['period']}",
                columns,
                rows(data["without_attendance"]),
            ),
            Sheet(
                "Без темы",
                f"Уроки без темы: {data['school']}, {data['period']}",
                columns,
                rows(data["without_topic"]),
            ),
            Sheet(
                "Сегодня",
                "Кто не отметил посещаемость сегодня",
                ["Учитель", "Уроков"],
                [[r["teacher"], r["lessons"]] for r in data["register_not_taken_today"]],
            ),
        ]
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
        sheet = Sheet(
            name="Группа риска",
            title=f"Ученики группы риска: {data['school']}, {data['period']}",
            columns=[t("reports.pupil"), "Предметы с низким средним", "Пропущено, %"],
            rows=[
                [
                    p["name"],
                    ", ".join(f"{s['subject']} ({s['average']})" for s in p["low_subjects"]),
                    _fmt(p["missed_share"]),
                ]
                for p in data["pupils"]
            ],
        )
        return await _file(format, data, [sheet], actor, f"at-risk-{school_id}")
