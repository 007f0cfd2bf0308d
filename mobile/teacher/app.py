"""The teacher app: Kivy on asyncio; the store is the only source of what screens show.

State lives on the App (the API client, the store on its worker thread, the sync engine);
screens read the store and ask the App to act. Network work runs as asyncio tasks on Kivy's
own loop (`async_run`), so nothing blocks a frame; a refresh after a sync round is batched
through one `Clock` trigger.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.screenmanager import NoTransition, ScreenManager

from mobile.common import theme
from mobile.common.api import ApiClient, FileTokens
from mobile.teacher.config import TeacherConfig
from mobile.teacher.store import Db, Store
from mobile.teacher.sync import SyncEngine

log = logging.getLogger("parta.teacher")

Script = Callable[["TeacherApp"], Awaitable[None]]


class TeacherApp(App):
    title = "Парта · Учитель"

    def __init__(self, config: TeacherConfig, script: Script | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.cfg = config
        self.script = script
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.data_dir / "teacher.sqlite")
        self.db = Db(self.store)
        # Few quick retries: the sync loop itself tries again, and a batch waiting on retries
        # shows as "sending" when the truth is "no network".
        self.api = ApiClient(
            config.server,
            FileTokens(config.data_dir / "session.json"),
            retries=1,
            backoff=0.2,
            timeout=8,
        )
        self.engine = SyncEngine(self.api, self.db)
        self.engine.listeners.append(self.changed)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failure: BaseException | None = None  # a script's task that failed (tests)
        self.tap_ms: list[float] = []  # a tap to its row committed, for the figures
        self._refresh = Clock.create_trigger(self._refresh_screen, 0.05)

    def today(self) -> date:
        return self.cfg.today or date.today()

    def build(self) -> ScreenManager:
        from mobile.teacher.lesson import LessonScreen
        from mobile.teacher.screens import ClassScreen, DayScreen, SignInScreen

        Window.clearcolor = theme.BACKGROUND
        self.screens = ScreenManager(transition=NoTransition())
        for screen in (SignInScreen(self), DayScreen(self), LessonScreen(self), ClassScreen(self)):
            self.screens.add_widget(screen)
        return self.screens

    def on_start(self) -> None:
        if self.api.signed_in:
            self.show("day")
            self.spawn(self.screens.get_screen("day").reload(network=True))
        else:
            self.show("signin")
        self.sync_task = self.spawn(self.engine.run(self.cfg.sync_interval))
        self.engine.poke()  # what an earlier run left on the tablet goes at once
        if self.script is not None:
            self.spawn(self._run_script(self.script))

    async def _run_script(self, script: Script) -> None:
        try:
            await script(self)
        finally:
            self.stop()

    def show(self, name: str) -> None:
        self.screens.current = name

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("task failed: %s", "".join(traceback.format_exception(exc)))
            if self.script is not None:
                self.failure = exc
                print(f"task failed: {exc!r}", file=sys.stderr)

    def changed(self) -> None:
        """Something in the store changed (a sync round): redraw the screen shown, once."""
        self._refresh()

    def _refresh_screen(self, *_: Any) -> None:
        screen = self.screens.current_screen
        if hasattr(screen, "reload"):
            self.spawn(screen.reload())

    async def run_async(self) -> None:
        try:
            await self.async_run(async_lib="asyncio")
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.api.aclose()
            self.db.close()
