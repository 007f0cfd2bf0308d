"""`parta lessons`: make the concrete lessons of a period from a school's timetable.

It starts through `backend.bootstrap` like the API does, so the diary's listeners run here too:
the pupils' diary weeks of the period are refreshed by the command itself (decision 0354).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import click
from rich.console import Console

from backend.i18n import t
from backend.settings import Settings


def _day(value: datetime) -> date:
    return value.date()


@click.command("lessons", help=t("cli.help.lessons"))
@click.option("--school", "school_id", required=True, type=int, help=t("cli.option.school"))
@click.option(
    "--from",
    "date_from",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help=t("cli.option.date_from"),
)
@click.option(
    "--to",
    "date_to",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help=t("cli.option.date_to"),
)
def lessons_command(school_id: int, date_from: datetime, date_to: datetime) -> None:
    settings = Settings()

    async def work() -> object:
        from backend import bootstrap
        from backend.core.context import Actor
        from backend.core.errors import DomainError
        from backend.schools.timetable import services as timetable

        async with bootstrap.running(settings):
            try:
                return await timetable.generate_lessons(
                    Actor.system(), school_id, _day(date_from), _day(date_to)
                )
            except DomainError as exc:
                raise click.ClickException(exc.message) from None

    result = asyncio.run(work())
    Console().print(
        t(
            "cli.lessons_generated",
            created=result.created,
            updated=result.updated,
            removed=result.removed,
            kept=result.kept,
        )
    )
