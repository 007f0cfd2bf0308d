"""Benchmark: the family bot answering many chats at once (run by hand).

`--chats` linked parents (SQLite, the in-process Redis) each send /today at the same moment to
the real aiogram bot through the Telegram Bot API stand-in, which counts as Telegram does
(30 messages a second per bot, one a second per chat, 429 for one too many). Reported, the
median of `--repeat` runs:

  paced     answers a second with Telegram's limits (the ceiling is 30/s) and the 429s seen
  unpaced   the same with the limits lifted: what the core itself serves on this machine (the
            ceiling against which the paced figure is read)

    uv run python -m tests.load.bench_bot [--chats 120] [--repeat 3]

With `BENCH_BOT_TASKS=1`, a run that leaves chats unanswered prints where its tasks wait.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

TIMEOUT = 60.0


async def _world(directory: Path, chats: int) -> tuple[Any, list[int]]:
    from backend import bootstrap
    from backend.core.context import Actor
    from backend.core.rights import Grant, Role, ScopeKind
    from backend.messaging import services as messaging
    from backend.schools.tables import Municipality, Region, School, Student
    from backend.settings import Settings

    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{directory / 'bench.sqlite'}",
        redis_url="memory://",
        secret_key=secrets.token_urlsafe(48),
        media_root=directory / "media",
    )
    parta = bootstrap.build(settings)
    await bootstrap.create_tables(parta.engine)
    await parta.start()
    region = Region(name="Регион", code="r1")
    await region.save()
    town = Municipality(region=region.id, name="Город")
    await town.save()
    school = School(municipality=town.id, full_name="Школа", short_name="Школа")
    await school.save()
    chat_ids = []
    for n in range(chats):
        pupil = Student(school=school.id, last_name=f"Ученик{n}", first_name="Иван")
        await pupil.save()
        user = await parta.accounts.create_user(
            Actor.system(),
            password="bench-password-1",
            display_name=f"Родитель {n}",
            login=f"parent{n}",
            grants=[Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil.id)],
            check_rights=False,
        )
        chat_ids.append(700_000 + n)
        await messaging.link_chat(Actor.system(), user.id, "telegram", chat_ids[-1])
    return parta, chat_ids


async def _run(parta: Any, chat_ids: list[int], *, paced: bool) -> tuple[float, int]:
    from backend.settings import Settings
    from bots.core import FamilyBot
    from bots.telegram import TelegramBot
    from notifications.standins.telegram import TelegramStandIn

    standin = TelegramStandIn(enforce=paced)
    await standin.start()
    fields = {name: getattr(parta.settings, name) for name in Settings.model_fields}
    limits = {} if paced else {"notify_telegram_rate": 100_000, "notify_telegram_chat_rate": 1e4}
    settings = Settings.model_validate(
        {
            **fields,
            "telegram_bot_token": SecretStr("123456:BENCH"),
            "telegram_api_url": standin.base_url,
            **limits,
        }
    )
    await parta.redis.flushdb()
    bot = TelegramBot(settings, parta.redis, FamilyBot(settings, parta.redis, parta.diary_weeks))
    await bot.start_polling()
    try:
        await asyncio.sleep(0.5)  # the first long poll is waiting
        started = time.perf_counter()
        for chat in chat_ids:
            await standin.type_text(chat, "/today")
        while len(standin.received.items) < len(chat_ids):
            await asyncio.sleep(0.01)
            if time.perf_counter() - started > TIMEOUT:
                if os.environ.get("BENCH_BOT_TASKS"):
                    for task in list(asyncio.all_tasks())[:400]:
                        stack = task.get_stack(limit=30)
                        if stack:
                            frame = stack[-1]
                            print(
                                "TASK",
                                frame.f_code.co_filename.split("site-packages/")[-1],
                                frame.f_lineno,
                                frame.f_code.co_name,
                            )
                raise RuntimeError(
                    f"the bot answered {len(standin.received.items)} of {len(chat_ids)} chats "
                    f"in {TIMEOUT} s ({len(standin.received.rejected)} refused, "
                    f"{len(standin.updates)} updates not fetched)"
                )
        elapsed = time.perf_counter() - started
    finally:
        await bot.stop()
        await standin.stop()
    answered = [m for m in standin.received.items if "—" in m["text"]]
    assert len(answered) == len(chat_ids), "some answers were not the day's diary"
    return len(chat_ids) / elapsed, standin.too_many


async def main_async(chats: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parta, chat_ids = await _world(Path(tmp), chats)
        try:
            paced: list[float] = []
            unpaced: list[float] = []
            refused = 0
            for _ in range(repeat):
                rate, too_many = await _run(parta, chat_ids, paced=True)
                paced.append(rate)
                refused += too_many
                rate, _ = await _run(parta, chat_ids, paced=False)
                unpaced.append(rate)
        finally:
            await parta.stop()
    load = os.getloadavg()[0]
    print(f"chats {chats}, runs {repeat}, load {load:.1f}")
    print(
        f"paced:   median {statistics.median(paced):.1f} answers/s "
        f"(runs {', '.join(f'{r:.1f}' for r in paced)}; ceiling 30/s), 429s seen: {refused}"
    )
    print(
        f"unpaced: median {statistics.median(unpaced):.1f} answers/s "
        f"(runs {', '.join(f'{r:.1f}' for r in unpaced)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.chats, args.repeat))


if __name__ == "__main__":
    main()
