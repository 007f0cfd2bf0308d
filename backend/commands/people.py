"""`parta import` and `parta export`: lists of pupils, guardians, staff and classes from and to
CSV/XLSX on the command line, with a progress bar and the line-by-line report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from backend.i18n import t
from backend.settings import Settings

KIND = click.Choice(["pupils", "guardians", "staff", "classes"])
PHASES = {"check": "Проверка строк", "write": "Запись"}


async def _with_database(settings: Settings, work: Any) -> Any:
    from backend import bootstrap

    async with bootstrap.running(settings):
        return await work()


@click.command("import", help=t("cli.help.import"))
@click.argument("kind", type=KIND)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_id", required=True, type=int, help=t("cli.option.school"))
@click.option("--year", "year_id", default=None, type=int, help=t("cli.option.year"))
@click.option("--create-classes", is_flag=True, help=t("cli.option.create_classes"))
@click.option("--dry-run", is_flag=True, help=t("cli.option.dry_run"))
def import_command(
    kind: str,
    file: Path,
    school_id: int,
    year_id: int | None,
    create_classes: bool,
    dry_run: bool,
) -> None:
    """Import a CSV or XLSX list: all of it, or nothing and a report of every bad line."""
    from backend.core.context import Actor
    from backend.core.errors import DomainError
    from backend.schools.people import imports

    console = Console(stderr=True)
    data = file.read_bytes()
    settings = Settings()

    async def work() -> Any:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(phase: str, advance: int, total: int | None) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(PHASES.get(phase, phase), total=total)
                elif total is not None:
                    bar.update(tasks[phase], total=total)
                bar.advance(tasks[phase], advance)

            return await imports.import_file(
                Actor.system(),
                school_id,
                kind,
                data,
                file.name,
                year_id=year_id,
                create_classes=create_classes,
                dry_run=dry_run,
                progress=progress,
            )

    try:
        report = asyncio.run(_with_database(settings, work))
    except imports.ImportFailed as exc:
        table = RichTable(show_header=True, header_style="bold", title=exc.message)
        table.add_column("Строка", justify="right")
        table.add_column("Столбец")
        table.add_column("Ошибка")
        for p in exc.report.problems:
            table.add_row(str(p.line), p.column, p.message)
        Console().print(table)
        raise SystemExit(1) from None
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if report.changes:
        table = RichTable(show_header=True, header_style="bold", title=t("import.changes_title"))
        for title in ("Строка", "Столбец", "Было", "Станет"):
            table.add_column(title)
        for c in report.changes:
            table.add_row(str(c.line), c.column, c.old, c.new)
        Console().print(table)
    fields = {
        "rows": report.rows,
        "created": report.created,
        "would_create": report.would_create,
        "updated": report.updated,
        "would_update": report.would_update,
        "unchanged": report.unchanged,
    }
    message = t("admin.imported" if report.imported else "admin.import_checked", **fields)
    Console().print(message, soft_wrap=True)


@click.command("export", help=t("cli.help.export"))
@click.argument("kind", type=KIND)
@click.option("--school", "school_id", required=True, type=int, help=t("cli.option.school"))
@click.option("--year", "year_id", default=None, type=int, help=t("cli.option.year"))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=t("cli.option.output"),
)
def export_command(kind: str, school_id: int, year_id: int | None, output: Path) -> None:
    """Export a list with the same columns the import reads."""
    from backend.core.context import Actor
    from backend.core.errors import DomainError
    from backend.schools.people import imports

    settings = Settings()
    fmt = "xlsx" if output.suffix.lower() == ".xlsx" else "csv"

    async def work() -> bytes:
        return await imports.export_file(Actor.system(), school_id, kind, fmt, year_id=year_id)

    try:
        content = asyncio.run(_with_database(settings, work))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    output.write_bytes(content)
    Console().print(f"Записано: {output}")
