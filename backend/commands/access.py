"""`parta simulate turnstiles`: a morning rush at a school's turnstiles, written as the spool
`parta gateway` reads (the rush itself is `backend.access.simulate.rush`, pure).

It starts through `backend.bootstrap` like every other command."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
@click.option(
    "--exits",
    "last_lesson_end",
    type=click.DateTime(["%H:%M"]),
    default=None,
    help=t("cli.option.exits"),
)
@click.option("--seed", type=int, default=1, show_default=True, help=t("cli.option.seed"))
@click.option(
    "--skew-seconds", type=int, default=0, show_default=True, help=t("cli.option.skew_seconds")
)
@click.option("--live", is_flag=True, help=t("cli.option.live"))
@click.option(
    "--speed",
    type=click.FloatRange(min=0.1, max=3600),
    default=10.0,
    show_default=True,
    help=t("cli.option.speed"),
)
@click.option(
    "--offline",
    type=(click.FloatRange(min=0), click.FloatRange(min=0)),
    default=None,
    help=t("cli.option.offline"),
)
def turnstiles(
    school_id: int,
    spool: Path,
    first_lesson: datetime,
    last_lesson_end: datetime | None,
    seed: int,
    skew_seconds: int,
    live: bool,
    speed: float,
    offline: tuple[float, float] | None,
) -> None:
    from backend import bootstrap
    from backend.access.simulate import leaving, live_schedule, rush, school_cards
    from backend.schools.people.contacts import school_info

    async def main() -> int:
        async with bootstrap.running(Settings()):
            cards = await school_cards(school_id)
            info = await school_info(school_id)
        if info is None or not cards.holders or not cards.entrances:
            raise click.UsageError(t("cli.simulate.nothing", school_id=school_id))
        zone = ZoneInfo(info.time_zone)
        today = datetime.now(zone).date()
        lesson = datetime.combine(today, first_lesson.time(), tzinfo=zone)
        passes = rush(
            cards.holders, cards.entrances, lesson, seed=seed, lost=cards.lost, lost_tries=1.0
        )
        if last_lesson_end is not None:
            end = datetime.combine(today, last_lesson_end.time(), tzinfo=zone)
            passes += leaving(passes, cards.exits or cards.entrances, end, seed=seed)
        passes.sort(key=lambda p: p.time)
        skew = timedelta(seconds=skew_seconds)
        if not live:
            with spool.open("a", encoding="utf-8") as out:
                for one in passes:
                    if skew:
                        one = replace(one, time=one.time + skew)
                    out.write(json.dumps(one.as_json()) + "\n")
            return len(passes)
        # Live: the day compressed by `speed`, starting now; each line written when it
        # happens (or when an offline gateway comes back).
        started = asyncio.get_running_loop().time()
        plan = live_schedule(passes, datetime.now(UTC), speed=speed, skew=skew, offline=offline)
        for written in plan:
            delay = written.after - (asyncio.get_running_loop().time() - started)
            if delay > 0:
                await asyncio.sleep(delay)
            with spool.open("a", encoding="utf-8") as out:
                out.write(json.dumps(written.item.as_json()) + "\n")
        return len(plan)

    written = asyncio.run(main())
    click.echo(t("cli.simulate.written", count=written, spool=str(spool)))
