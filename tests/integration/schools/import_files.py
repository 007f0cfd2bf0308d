"""Files to import: realistic pupils, guardians and staff, as CSV or XLSX bytes."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from backend.schools.people.imports import COLUMNS
from backend.schools.validators import format_snils, snils_check_number

LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов"]
FIRST = ["Александр", "Максим", "Артём", "Михаил", "Даниил", "Иван", "Дмитрий", "Кирилл"]
MIDDLE = ["Сергеевич", "Андреевич", "Олегович", "Игоревич", "Павлович"]


def snils(n: int) -> str:
    nine = f"{200_000_000 + n * 7919:09d}"
    return format_snils(nine + f"{snils_check_number(nine):02d}")


def pupil_rows(
    count: int, classes: tuple[str, ...] = ("5А", "5Б"), start: int = 0
) -> list[dict[str, str]]:
    rows = []
    for i in range(start, start + count):
        birth = date(2010, 1, 1) + timedelta(days=(i * 3) % 3650)
        rows.append(
            {
                "Фамилия": LAST[i % len(LAST)],
                "Имя": FIRST[(i // len(LAST)) % len(FIRST)],
                "Отчество": MIDDLE[i % len(MIDDLE)],
                "Класс": classes[i % len(classes)],
                "Дата зачисления": "01.09.2026",
                "Номер приказа": "15-у",
                "Номер личного дела": f"ЛД-{i + 1:04d}",
                "Дата рождения": birth.strftime("%d.%m.%Y"),
                "Пол": "м",
                "Гражданство": "RUS",
                "СНИЛС": snils(i),
                "Вид документа": "свидетельство о рождении",
                "Серия документа": "II-КБ",
                "Номер документа": f"{600000 + i}",
                "Дата выдачи документа": (birth + timedelta(days=20)).strftime("%d.%m.%Y"),
                "Кем выдан документ": "Отдел ЗАГС г. Казани",
                "Адрес регистрации": f"г. Казань, ул. Баумана, д. {i + 1}",
                "Адрес проживания": f"г. Казань, ул. Баумана, д. {i + 1}",
                "Телефон": "",
                "E-mail": "",
                "Группа здоровья": "II",
                "Физкультурная группа": "основная",
                "Дата согласия на обработку ПДн": "28.08.2026",
            }
        )
    return rows


def as_csv(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    header = header or list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return buffer.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    header = list(rows[0])
    sheet.append(header)
    for row in rows:
        sheet.append([row[h] for h in header])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def headers(kind: str) -> list[str]:
    return [c.header for c in COLUMNS[kind]]
