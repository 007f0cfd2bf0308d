"""Fixtures of the notifications tests: the stand-ins (once per session) and a worker running
in the test's process against them, on each engine."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.settings import Settings
from notifications.standins.suite import StandIns
from notifications.worker import NotifyWorker
from tests.conftest import Backend


@pytest.fixture(scope="session")
async def standins(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StandIns]:
    suite = StandIns(Path(tmp_path_factory.mktemp("standins")))
    suite.start_in_thread()
    yield suite
    suite.stop_thread()


def _to_midday() -> timedelta:
    """How far to move the real time to reach today's 12:00 in Moscow (09:00 UTC)."""
    now = datetime.now(UTC)
    return now.replace(hour=9, minute=0, second=0, microsecond=0) - now


@dataclass
class Clock:
    """A clock the test can set. Unset, it follows the real one moved to midday in Moscow, so
    that no test meets the default quiet hours (21:00-07:00) because of the hour the suite
    runs at; tests about quiet hours, digests and days set `fixed`."""

    fixed: datetime | None = None
    shift: timedelta = field(default_factory=_to_midday)
    log: list[datetime] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC) + self.shift


@dataclass
class Notify:
    world: Backend
    standins: StandIns
    settings: Settings
    clock: Clock
    worker: NotifyWorker | None = None

    async def start(self, cron_jobs: list[Any] | None = None, **overrides: Any) -> NotifyWorker:
        """A worker for the test; with no scheduled work unless `cron_jobs` says (the tests
        that count the queue's scheduled jobs count only their own)."""
        if overrides:
            self.settings = Settings.model_validate({**_fields(self.settings), **overrides})
        self.worker = NotifyWorker(
            self.settings,
            self.world.redis,
            clock=self.clock,
            concurrency=20,
            cron_jobs=cron_jobs or [],
        )
        await self.worker.start()
        return self.worker


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in Settings.model_fields}


@pytest.fixture
async def notify(world: Backend, standins: StandIns) -> AsyncIterator[Notify]:
    for standin in standins.all().values():
        standin.received.clear()
    standins.fcm.delay = 0.0
    standins.fcm.unregistered.clear()
    standins.fcm.answer_429.clear()
    standins.telegram.blocked.clear()
    standins.telegram.answer_429.clear()
    # The stand-ins live for the session but Redis (our pacing) is flushed for each test: let
    # the Bot API stand-in forget the previous test's sends too, or its per-chat limit answers
    # this test's first message with 429.
    standins.telegram.bot_window.times.clear()
    standins.telegram.chat_window.times.clear()
    standins.max.reset()
    settings = Settings.model_validate(
        {
            **_fields(world.settings),
            **standins.settings(world.settings),
            # A queue of its own per test: a worker stopped at the end of the previous test
            # may leave a blocked pop behind in the in-process Redis (fakeredis finishes it only
            # at its timeout), and it must not take this test's first job.
            "notify_queue": f"parta-test-{uuid.uuid4().hex[:8]}",
            "notify_relay_interval": 0.02,
            "notify_retry_base_seconds": 0.2,
            # Tests stop their worker at once; test_delivery shows the graceful stop.
            "notify_shutdown_grace_seconds": 0,
        }
    )
    state = Notify(world, standins, settings, Clock())
    yield state
    if state.worker is not None:
        await state.worker.stop()


Waiter = Callable[[], Any]


@pytest.fixture
async def phones(notify: Notify) -> AsyncIterator[StandIns]:
    """The test's API served on a real port, and the FCM stand-in playing the phones: each push
    it accepts is answered by the app's receipt posted to that API (as a phone would)."""
    import asyncio

    import uvicorn

    from backend.messaging.services import PUSH_RECEIPTS_PATH
    from notifications.standins.common import free_port
    from tests.integration.notifications.helpers import wait_for

    port = free_port()
    config = uvicorn.Config(
        notify.world.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started)
    fcm = notify.standins.fcm
    fcm.receipts.clear()
    fcm.receipts_url = f"http://127.0.0.1:{port}{PUSH_RECEIPTS_PATH}"
    yield notify.standins
    fcm.receipts_url = ""
    server.should_exit = True
    await serving
