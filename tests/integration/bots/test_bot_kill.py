"""`parta bot` killed (SIGKILL) between taking an update and answering it: after its restart
the update is answered, once (decision 0609), on Telegram and MAX, polling and webhook.

The bot runs as a real process against this session's PostgreSQL and Redis and the stand-ins.
The stand-ins hold the bot's sends: the bot has taken a Telegram and a MAX update (the polling
offset and marker moved past them, or the webhook answered 200, so neither messenger will hand
them over again) and is sending their answers when it is killed; the held sends of the dead
process are dropped. The process started again answers each update once.

A process needs a database and a Redis other processes can reach: PostgreSQL and the real
Redis only (the SQLite session's Redis lives inside the test process).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend.messaging.tables import BotUpdate
from backend.settings import Settings
from bots.max import WEBHOOK_PATH as MAX_WEBHOOK_PATH
from bots.telegram import WEBHOOK_PATH
from notifications.standins.common import free_port
from tests.integration.notifications.conftest import Notify

ROOT = Path(__file__).resolve().parents[3]
KILL_CHATS = 910_000  # chats of this test (the stand-ins live for the session)


def _env(settings: Settings, **changes: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env["PYTHONUNBUFFERED"] = "1"
    fields = {name: getattr(settings, name) for name in Settings.model_fields}
    for name, value in {**fields, **changes}.items():
        if value is None:
            continue
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(plain, list | dict | tuple):
            env[f"PARTA_{name.upper()}"] = json.dumps(plain)
        else:
            env[f"PARTA_{name.upper()}"] = str(plain)
    return env


class BotProcess:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"bot-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "bot"],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.logs()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def logs(self) -> str:
        return "".join(
            (self.log_dir / f"bot-{n}.log").read_text(errors="replace")[-3000:]
            for n in range(1, self.starts + 1)
        )


async def _until(
    check: Callable[[], bool], what: str, bot: BotProcess | None, seconds: float
) -> None:
    """Wait for `check`, the bot (when given) running all the while."""
    deadline = time.monotonic() + seconds
    logs = bot.logs() if bot is not None else ""
    while not check():
        if bot is not None:
            assert bot.proc is not None and bot.proc.poll() is None, f"{what}: died\n{bot.logs()}"
            logs = bot.logs()
        assert time.monotonic() < deadline, f"{what}: not in {seconds} s\n{logs}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_bot_killed_with_updates_taken_answers_each_once_after_its_restart(
    notify: Notify, mode: str, tmp_path: Path
) -> None:
    if notify.world.kind != "postgres":
        pytest.skip("a bot process needs a database and a Redis of its own reach")
    standins = notify.standins
    telegram, max_ = standins.telegram, standins.max
    changes: dict[str, Any] = {"bot_mode": mode, "log_level": "WARNING"}
    if mode == "webhook":
        port = free_port()
        changes |= {
            "bot_port": port,
            "telegram_webhook_url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            "telegram_webhook_secret": "kill-test-telegram-secret",
            "max_webhook_url": f"http://127.0.0.1:{port}{MAX_WEBHOOK_PATH}",
            "max_webhook_secret": "kill-test-max-secret",
        }
    bot = BotProcess(_env(notify.settings, **changes), tmp_path)
    base = KILL_CHATS + (0 if mode == "polling" else 100)
    warm_tg, warm_max, tg_chat, max_chat = base, base + 1, base + 2, base + 3

    def tg_answers(chat: int) -> int:
        return sum(1 for item in telegram.received.items if item["chat_id"] == chat)

    def max_answers(chat: int) -> int:
        return sum(1 for item in max_.received.items if item["chat_id"] == chat)

    dropped = (telegram.hold.dropped, max_.hold.dropped)
    bot.start()
    try:
        # Up and answering on both messengers.
        await _until(
            lambda: (
                (telegram.webhook_url != "") == (mode == "webhook")
                and bool(max_.subscriptions) == (mode == "webhook")
            ),
            "the bot set its mode up",
            bot,
            90,
        )
        standins.call(telegram.type_text(warm_tg, "/start"))
        standins.call(max_.send_text(warm_max, "/start"))
        await _until(
            lambda: tg_answers(warm_tg) == 1 and max_answers(warm_max) == 1,
            "the first answers",
            bot,
            60,
        )

        # The sends held: the bot takes an update on each messenger and is caught answering.
        telegram.hold.on = max_.hold.on = True
        standins.call(telegram.type_text(tg_chat, "/start"))
        standins.call(max_.send_text(max_chat, "/start"))
        await _until(
            lambda: telegram.hold.waiting == 1 and max_.hold.waiting == 1,
            "the answers in flight",
            bot,
            30,
        )
        if mode == "polling":
            # The next poll confirmed them: neither messenger would hand them over again.
            await _until(
                lambda: not telegram.updates and max_.committed == len(max_.updates),
                "the updates confirmed",
                bot,
                30,
            )
        else:
            await _until(
                lambda: (
                    telegram.webhook_answers[-1:] == [200] and max_.webhook_answers.count(200) == 2
                ),
                "the posts answered 200",
                bot,
                30,
            )
        bot.kill()
        telegram.hold.on = max_.hold.on = False
        await _until(
            lambda: telegram.hold.waiting == 0 and max_.hold.waiting == 0,
            "the held sends let go",
            None,
            10,
        )
        # The dead process's answers were dropped: nobody got them.
        assert (telegram.hold.dropped - dropped[0], max_.hold.dropped - dropped[1]) == (1, 1)
        assert (tg_answers(tg_chat), max_answers(max_chat)) == (0, 0)
        waiting = await BotUpdate.select(BotUpdate.messenger).where(BotUpdate.answered_at.is_null())
        assert sorted(r["messenger"] for r in waiting) == ["max", "telegram"]

        bot.start()
        await _until(
            lambda: tg_answers(tg_chat) >= 1 and max_answers(max_chat) >= 1,
            "the answers after the restart",
            bot,
            90,
        )
        await asyncio.sleep(3)  # a second answer would have come by now
        assert (tg_answers(tg_chat), max_answers(max_chat)) == (1, 1), bot.logs()
        tg_text = [i["text"] for i in telegram.received.items if i["chat_id"] == tg_chat]
        assert tg_text[0].startswith("Здравствуйте!")
        assert not telegram.updates or mode == "webhook"  # not handed over again by Telegram
        done = await BotUpdate.select(BotUpdate.outcome).where(BotUpdate.answered_at.is_null())
        assert done == []
    finally:
        bot.stop()
        telegram.hold.on = max_.hold.on = False
        telegram.webhook_url = telegram.webhook_secret = ""
        max_.subscriptions.clear()
