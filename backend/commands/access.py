"""`parta simulate turnstiles`: a morning rush at a school's turnstiles, written as the spool
`parta gateway` reads (the rush itself is `backend.access.simulate.rush`, pure).

It starts through `backend.bootstrap` like every other command."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from backend.i18n import t
from backend.settings import Settings


@click.group("simulate", help=t("cli.help.simulate"))
def simulate_command() -> None:
    pass


@simulate_command.command(help=t("cli.help.simulate_turnstiles"))
@click.option("--school-id", type=int, required=True, help=t("cli.option.school_id"))
@click.option("--spool", type=click.Path(path_type=Path), required=True, help=t("cli.option.spool"))
@click.option(
    "--first-lesson",
    type=click.DateTime(["%H:%M"]),
    default="08:00",
    show_default=True,
    help=t("cli.option.first_lesson"),
)
@click.option("--seed", type=int, default=1, show_default=True, help=t("cli.option.seed"))
def turnstiles(school_id: int, spool: Path, first_lesson: datetime, seed: int) -> None:
    from backend import bootstrap
    from backend.access.simulate import rush, school_cards
    from backend.schools.people.contacts import school_info

    async def main() -> int:
        async with bootstrap.running(Settings()):
            holders, lanes = await school_cards(school_id)
            info = await school_info(school_id)
        if info is None or not holders or not lanes:
            raise click.UsageError(t("cli.simulate.nothing", school_id=school_id))
        zone = ZoneInfo(info.time_zone)
        today = datetime.now(zone).date()
        lesson = datetime.combine(today, first_lesson.time(), tzinfo=zone)
        passes = rush(holders, lanes, lesson, seed=seed)
        with spool.open("a", encoding="utf-8") as out:
            for one in passes:
                out.write(json.dumps(one.as_json()) + "\n")
        return len(passes)

    written = asyncio.run(main())
    click.echo(t("cli.simulate.written", count=written, spool=str(spool)))
