"""Benchmark: rendering a report file (PDF and XLSX) of a school's journal completeness.

The completeness report of a demo school over 30 days lists every lesson without a topic or a
register: a few thousand rows. This renders such sheets exactly as `/schools/{id}/completeness
?format=pdf|xlsx` does (`backend.reports.files`) and prints the time per file.

    uv run python -m tests.load.bench_report_files [--rows 2400] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from backend.reports.files import Sheet, to_pdf, to_xlsx

COLUMNS = ["Учитель", "Дата", "Урок", "Класс", "Предмет"]


def sheets(rows: int) -> list[Sheet]:
    data = [
        [f"Преподаватель{n % 40} О.", f"{n % 28 + 1:02d}.10.2026", n % 8 + 1, "7Б", "Математика"]
        for n in range(rows)
    ]
    half = rows // 2
    return [
        Sheet("Без посещаемости", "Уроки без отметки посещаемости", COLUMNS, data[:half]),
        Sheet("Без темы", "Уроки без темы", COLUMNS, data[half:]),
        Sheet("Сегодня", "Кто не отметил посещаемость сегодня", ["Учитель", "Уроков"], []),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    book = sheets(args.rows)
    to_pdf(book[:1], "bench")  # fonts registered once per process
    for name, render in (("pdf", to_pdf), ("xlsx", to_xlsx)):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            size = len(render(book, "bench"))
            times.append(time.perf_counter() - started)
        print(
            f"{name}: {args.rows} rows, median {statistics.median(times):.2f} s, "
            f"best {min(times):.2f} s, {size // 1024} KB",
            flush=True,
        )


if __name__ == "__main__":
    main()
