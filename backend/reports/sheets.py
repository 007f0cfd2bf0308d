"""The reports' data as sheets for their files (XLSX and PDF, `files.py`): one function per
report, used by the API's `?format=` and the staff web's downloads alike, so both files are the
same."""

from __future__ import annotations

from typing import Any

import anyio

from backend.core.context import Actor
from backend.i18n import t
from backend.reports.files import Sheet, to_pdf, to_xlsx

MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def made_by(actor: Actor) -> str:
    """Who the file says produced it."""
    principal = actor.principal
    if principal is None:
        return t("reports.by_system")
    return principal.display_name or t("reports.no_name", user_id=principal.user_id)


async def render(fmt: str, sheets: list[Sheet], actor: Actor) -> bytes:
    """The file's bytes (`xlsx` or `pdf`). Rendering takes CPU seconds for a big school: in a
    worker thread, so the event loop (and every other request) goes on meanwhile."""
    make = to_xlsx if fmt == "xlsx" else to_pdf
    return await anyio.to_thread.run_sync(make, sheets, made_by(actor))


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


def school_performance_sheets(data: dict[str, Any]) -> list[Sheet]:
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
    return [summary, *sheets]


def attendance_sheets(data: dict[str, Any]) -> list[Sheet]:
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
    return [pupils, reasons]


def quality_sheets(data: dict[str, Any]) -> list[Sheet]:
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
                    [r["name"], _fmt(r["quality"]), _fmt(r["success"]), r["average"]] for r in rows
                ],
                chart_title=t("reports.quality"),
                chart_labels=[r["name"] for r in rows],
                chart_values=[r["quality"] for r in rows],
            )
        )
    return sheets


def completeness_sheets(data: dict[str, Any]) -> list[Sheet]:
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
    return sheets


def at_risk_sheets(data: dict[str, Any]) -> list[Sheet]:
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
    return [sheet]
