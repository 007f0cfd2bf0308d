"""Report files: XLSX (openpyxl) and PDF (reportlab), each carrying the system's name, the date
and who produced it, with a chart where a person would rather look than read.

PDF text is set in DejaVu Sans, which covers Cyrillic; the font file comes from the matplotlib
package (which also draws the PDF's charts), so no system font is needed (decision 0301).
"""

from __future__ import annotations

import importlib.util
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from backend.i18n import t


@dataclass
class Sheet:
    """One table: a title, column headings, rows, and optionally a bar chart of one column."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    chart_title: str = ""
    chart_labels: list[str] = field(default_factory=list)
    chart_values: list[float | None] = field(default_factory=list)


def produced_line(who: str, when: datetime | None = None, tz: str = "Europe/Moscow") -> str:
    moment = (when or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz))
    return t("reports.produced", date=f"{moment:%d.%m.%Y %H:%M}", who=who)


def to_xlsx(sheets: list[Sheet], who: str) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE6F0")
    produced = produced_line(who)
    used: set[str] = set()
    for sheet in sheets:
        name = _sheet_name(sheet.name, used)
        ws = book.create_sheet(name)
        ws.append([t("reports.system_name")])
        ws.append([sheet.title])
        ws.append([produced])
        ws.append([])
        ws["A1"].font = Font(bold=True, size=12)
        ws["A2"].font = bold
        ws.append(sheet.columns)
        header_row = ws.max_row
        for cell in ws[header_row]:
            cell.font = bold
            cell.fill = head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in sheet.rows:
            ws.append(["" if v is None else v for v in row])
        ws.column_dimensions["A"].width = 28
        for i in range(2, len(sheet.columns) + 1):
            ws.column_dimensions[get_column_letter(i)].width = 14
        ws.freeze_panes = ws.cell(row=header_row + 1, column=2)
        if sheet.chart_labels:
            start = ws.max_row + 2
            ws.cell(row=start, column=1, value=sheet.chart_title).font = bold
            for i, (label, value) in enumerate(
                zip(sheet.chart_labels, sheet.chart_values, strict=True), start + 1
            ):
                ws.cell(row=i, column=1, value=label)
                ws.cell(row=i, column=2, value=value)
            chart = BarChart()
            chart.title = sheet.chart_title
            chart.legend = None
            chart.height, chart.width = 8, 18
            end = start + len(sheet.chart_labels)
            chart.add_data(Reference(ws, min_col=2, min_row=start + 1, max_row=end))
            chart.set_categories(Reference(ws, min_col=1, min_row=start + 1, max_row=end))
            ws.add_chart(chart, f"D{start}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join(c for c in name if c not in "[]:*?/\\")[:31] or "Лист"
    candidate, n = clean, 2
    while candidate in used:
        candidate = f"{clean[:28]} {n}"
        n += 1
    used.add(candidate)
    return candidate


@cache
def _font() -> str:
    """Register DejaVu Sans (regular and bold) from the matplotlib package with reportlab."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations
    fonts = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(fonts / "DejaVuSans-Bold.ttf")))
    return "DejaVuSans"


def _nice_step(top: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving at most six gridlines up to `top`."""
    step = 10 ** math.floor(math.log10(top / 6)) if top > 0 else 1
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 6:
            return step * factor
    return step * 10


@cache
def _chart_class() -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Flowable

    bar_colour = colors.HexColor("#4C72B0")
    grid_colour = colors.HexColor("#DDDDDD")

    class BarChart(Flowable):
        """A bar chart drawn straight on the page with a few dozen PDF operators. Pictures from
        matplotlib, then reportlab's chart widgets, took most of a school report's time
        (decision 0014)."""

        def __init__(
            self, title: str, labels: list[str], values: list[float | None], width: float
        ) -> None:
            super().__init__()
            self.title, self.labels, self.values = title, labels, [v or 0 for v in values]
            self.width, self.height = width, 230.0

        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return self.width, self.height

        def draw(self) -> None:
            canvas, font = self.canv, _font()
            left, bottom, right, top = 34.0, 58.0, self.width - 8, self.height - 22
            canvas.setFont(font, 10)
            canvas.drawCentredString(self.width / 2, self.height - 12, self.title)
            highest = max(self.values, default=0) or 1
            step = _nice_step(highest)
            ceiling = step * math.ceil(highest / step)
            scale = (top - bottom) / ceiling
            canvas.setFont(font, 7)
            canvas.setLineWidth(0.4)
            canvas.setStrokeColor(grid_colour)
            tick = 0.0
            while tick <= ceiling + step / 1000:
                y = bottom + tick * scale
                canvas.line(left, y, right, y)
                canvas.drawRightString(left - 4, y - 2.5, f"{tick:g}")
                tick += step
            slot = (right - left) / max(1, len(self.values))
            canvas.setFillColor(bar_colour)
            for n, value in enumerate(self.values):
                x = left + n * slot + slot * 0.2
                canvas.rect(x, bottom, slot * 0.6, value * scale, stroke=0, fill=1)
            canvas.setFillColor(colors.black)
            for n, label in enumerate(self.labels):
                canvas.saveState()
                canvas.translate(left + (n + 0.5) * slot + 2, bottom - 4)
                canvas.rotate(35)
                canvas.drawRightString(0, -5, str(label))
                canvas.restoreState()

    return BarChart


def _chart(title: str, labels: list[str], values: list[float | None], width: float) -> Any:
    return _chart_class()(title, labels, values, width)


def _cell(value: Any, width: float, style: Any) -> Any:
    """A Paragraph (which wraps) only where the text may not fit its column: laying out one
    Paragraph per cell made a report of a few thousand rows take tens of seconds."""
    from reportlab.platypus import Paragraph

    text = "" if value is None else str(value)
    return text if len(text) * 5.2 < width - 6 else Paragraph(text, style)


def to_pdf(sheets: list[Sheet], who: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        LongTable,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )
    from reportlab.platypus.tables import CellStyle

    font = _font()
    normal = ParagraphStyle("n", fontName=font, fontSize=8, leading=10)
    heading = ParagraphStyle("h", fontName="DejaVuSans-Bold", fontSize=12, leading=15)
    small = ParagraphStyle("s", fontName=font, fontSize=7, leading=9, textColor=colors.grey)
    cell = CellStyle("cell")
    cell.fontname, cell.fontsize, cell.leading, cell.valign = font, 8, 10, "MIDDLE"
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=sheets[0].title if sheets else "",
        author=who,
        creator=t("reports.system_name"),
    )
    story: list[Any] = []
    produced = produced_line(who)
    for n, sheet in enumerate(sheets):
        if n:
            story.append(PageBreak())
        story += [
            Paragraph(t("reports.system_name"), small),
            Paragraph(sheet.title, heading),
            Paragraph(produced, small),
            Spacer(1, 4 * mm),
        ]
        width = doc.width
        first = min(60 * mm, width / 3)
        rest = (width - first) / max(1, len(sheet.columns) - 1)
        widths = [first] + [rest] * (len(sheet.columns) - 1)

        data = [
            [_cell(v, widths[min(i, len(widths) - 1)], normal) for i, v in enumerate(row)]
            for row in [sheet.columns, *sheet.rows]
        ]
        # Every cell shares one style: set per cell by style commands, it was a tenth of the
        # time of a school's report (decision 0014). Nothing below changes a cell's style.
        cell_rows = [[cell] * len(widths)] * len(data)
        table = LongTable(data, colWidths=widths, repeatRows=1, cellStyles=cell_rows)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6F0")),
                ]
            )
        )
        story.append(table)
        if sheet.chart_labels:
            chart = _chart(sheet.chart_title, sheet.chart_labels, sheet.chart_values, 190 * mm)
            story += [Spacer(1, 5 * mm), chart]
    doc.build(story)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Slip:
    """One cut-out slip: whom it is for, the lines under the name, the code in large type."""

    heading: str
    name: str
    lines: list[str]
    code: str


SLIP_COLUMNS, SLIP_ROWS = 2, 5  # ten slips on an A4 page, cut along the dashed lines


def slips_pdf(title: str, slips: list[Slip], who: str) -> bytes:
    """Slips to cut out and hand out (activation codes): drawn straight on the canvas, ten to a
    portrait A4 page, so a class of thirty is three pages in a few milliseconds (decision 0014:
    no per-cell styling)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    font = _font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(who)
    canvas.setCreator(t("reports.system_name"))
    page_w, page_h = A4
    margin = 8 * mm
    slip_w = (page_w - 2 * margin) / SLIP_COLUMNS
    slip_h = (page_h - 2 * margin) / SLIP_ROWS
    per_page = SLIP_COLUMNS * SLIP_ROWS
    for n, slip in enumerate(slips):
        if n and n % per_page == 0:
            canvas.showPage()
        place = n % per_page
        x = margin + (place % SLIP_COLUMNS) * slip_w
        top = page_h - margin - (place // SLIP_COLUMNS) * slip_h
        canvas.setStrokeColor(colors.grey)
        canvas.setDash(3, 3)
        canvas.rect(x, top - slip_h, slip_w, slip_h)
        canvas.setDash()
        left, y = x + 5 * mm, top - 7 * mm
        canvas.setFillColor(colors.grey)
        canvas.setFont(font, 7)
        canvas.drawString(left, y, f"{t('reports.system_name')} · {slip.heading}")
        canvas.setFillColor(colors.black)
        canvas.setFont("DejaVuSans-Bold", 10)
        canvas.drawString(left, y - 5 * mm, _fit(slip.name, 10, slip_w - 10 * mm))
        canvas.setFont("DejaVuSans-Bold", 18)
        canvas.drawString(left, y - 14 * mm, slip.code)
        canvas.setFont(font, 7.5)
        for i, line in enumerate(slip.lines):
            canvas.drawString(left, y - (20 + 3.6 * i) * mm, _fit(line, 7.5, slip_w - 10 * mm))
    if not slips:
        canvas.setFont(font, 10)
        canvas.drawString(margin, page_h - margin - 10 * mm, title)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _fit(text: str, size: float, width: float) -> str:
    """Cut a line that would run past the slip's edge (with an ellipsis)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, "DejaVuSans", size) <= width:
        return text
    while text and stringWidth(text + "…", "DejaVuSans", size) > width:
        text = text[:-1]
    return text + "…"
