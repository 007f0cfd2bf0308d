"""The family app: Kivy on asyncio; the cache on the phone is what the screens draw.

State lives on the App (the API client, the cache, the children and the child shown);
screens read through `FamilyData` and ask the App to act. Network work runs as asyncio tasks
on Kivy's own loop (`async_run`), so nothing blocks a frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime
from typing import Any

from kivy.app import App
from kivy.core.window import Window
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.dropdown import DropDown
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager

from mobile.common import theme
from mobile.common.api import ApiClient, ApiError, FileTokens
from mobile.common.i18n import t
from mobile.common.models import FamilyChild
from mobile.common.platform import Platform
from mobile.family.cache import Cache
from mobile.family.config import FamilyConfig
from mobile.family.data import FamilyData, NothingKept, Read
from mobile.family.widgets import Bar, NavButton

log = logging.getLogger("parta.family")

Script = Callable[["FamilyApp"], Awaitable[None]]

NAV = ("today", "diary", "marks", "homework", "more")


class FamilyApp(App):
    title = "Парта · Семья"

    def __init__(self, config: FamilyConfig, script: Script | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.cfg = config
        self.script = script
        self.started = time.perf_counter()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.cache = Cache(config.data_dir / "family.sqlite")
        self.api = ApiClient(
            config.server, FileTokens(config.data_dir / "session.json"), etags=self.cache
        )
        self.data = FamilyData(self.api, self.cache)
        self.children: list[FamilyChild] = []
        self.child: FamilyChild | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failure: BaseException | None = None
        self.shown_at: dict[str, float] = {}  # screen -> seconds from start to first drawn
        self.unread = 0
        self.platform: Platform | None = None  # pushes: listened to once signed in
        self.receipts: list[tuple[int, int]] = []  # (delivery, the server's status) confirmed

    def today(self) -> date:
        return self.cfg.today or date.today()

    # ------------------------------------------------------------------ layout

    def build(self) -> BoxLayout:
        from mobile.family.screens import DiaryScreen, LessonScreen, SignInScreen, TodayScreen
        from mobile.family.screens_entries import EntriesScreen
        from mobile.family.screens_meals import MealsScreen
        from mobile.family.screens_more import (
            HomeworkScreen,
            InboxScreen,
            MarksScreen,
            MoreScreen,
            TimetableScreen,
        )
        from mobile.family.settings import SettingsScreen

        Window.clearcolor = theme.BACKGROUND
        root = BoxLayout(orientation="vertical")
        self.top = Bar()
        self.child_button = Button(
            text="",
            font_size=sp(theme.size(theme.FONT_BODY)),
            background_normal="",
            background_color=theme.BAR,
            color=theme.ON_PRIMARY,
            halign="left",
            valign="middle",
        )
        self.child_button.bind(
            size=lambda b, *_: setattr(b, "text_size", (b.width - dp(8), None)),
            on_release=self.open_children,
        )
        self.inbox_button = Button(
            text=t("family.nav.inbox"),
            size_hint_x=None,
            width=dp(theme.size(120)),
            font_size=sp(theme.size(theme.FONT_SMALL)),
            background_normal="",
            background_color=theme.BAR,
            color=theme.ON_PRIMARY,
        )
        self.inbox_button.bind(on_release=lambda *_: self.show("inbox"))
        self.top.add_widget(self.child_button)
        self.top.add_widget(self.inbox_button)
        self.status = Label(
            text="",
            size_hint_y=None,
            height=dp(theme.size(24)),
            font_size=sp(theme.size(theme.FONT_SMALL)),
            color=theme.TEXT_MUTED,
        )
        self.screens = ScreenManager(transition=NoTransition())
        for screen in (
            SignInScreen(self),
            TodayScreen(self),
            DiaryScreen(self),
            LessonScreen(self),
            MarksScreen(self),
            HomeworkScreen(self),
            TimetableScreen(self),
            InboxScreen(self),
            SettingsScreen(self),
            MealsScreen(self),
            EntriesScreen(self),
            MoreScreen(self),
        ):
            self.screens.add_widget(screen)
        self.nav = Bar(padding=(0, 0), spacing=dp(1))
        self.nav_buttons: dict[str, NavButton] = {}
        for name in NAV:
            button = NavButton(name, t(f"family.nav.{name}"))
            button.bind(on_release=lambda b: self.show(b.name))
            self.nav_buttons[name] = button
            self.nav.add_widget(button)
        for widget in (self.top, self.status, self.screens, self.nav):
            root.add_widget(widget)
        self.root_box = root
        return root

    def chrome(self, visible: bool) -> None:
        """The bars are for a signed-in person; the sign-in screen has the whole window."""
        for widget in (self.top, self.status, self.nav):
            widget.opacity = 1 if visible else 0
            widget.disabled = not visible
            widget.size_hint_y = None
            widget.height = (
                0 if not visible else dp(theme.size(24 if widget is self.status else theme.TOUCH))
            )

    def on_start(self) -> None:
        if self.api.signed_in:
            kept = self.data.kept("children", list[FamilyChild])
            if kept is not None:
                self._set_children(kept.value)
            self.chrome(True)
            self.show(self.cfg_start())
            self.spawn(self.load_children())
            self.start_push()
        else:
            self.chrome(False)
            self.show("signin")
        if self.script is not None:
            self.spawn(self._run_script(self.script))

    def cfg_start(self) -> str:
        import os

        return os.environ.get("PARTA_START_SCREEN", "today")

    # ------------------------------------------------------------------ children

    def _set_children(self, children: list[FamilyChild]) -> None:
        self.children = children
        chosen = self.cache.choice("child")
        by_id = {c.student_id: c for c in children}
        self.child = by_id.get(int(chosen)) if chosen else None
        if self.child is None and children:
            self.child = children[0]
        self.child_button.text = self.child_title()

    def child_title(self) -> str:
        child = self.child
        if child is None:
            return t("family.children.none")
        if child.role == "pupil":
            return t("family.children.me", name=child.first_name, cls=child.class_name or "")
        more = " ›" if len(self.children) > 1 else ""
        return t("family.children.one", name=child.first_name, cls=child.class_name or "") + more

    async def load_children(self) -> None:
        try:
            read = await self.data.children()
        except NothingKept:
            self.note(t("error.unreachable_family"))
            return
        self._set_children(read.value)
        self.reload_current()
        self.spawn(self.load_unread())

    def open_children(self, *_: Any) -> None:
        if len(self.children) < 2:
            return
        menu = DropDown(auto_width=False, width=self.child_button.width)
        for child in self.children:
            item = Button(
                text=t("family.children.one", name=child.first_name, cls=child.class_name or ""),
                size_hint_y=None,
                height=dp(theme.size(theme.TOUCH)),
                font_size=sp(theme.size(theme.FONT_BODY)),
                background_normal="",
                background_color=theme.PRIMARY
                if self.child and child.student_id == self.child.student_id
                else theme.BAR,
                color=theme.ON_PRIMARY,
            )
            item.bind(on_release=lambda _, c=child: self._picked(menu, c))
            menu.add_widget(item)
        self.child_menu = menu
        menu.open(self.child_button)

    def _picked(self, menu: DropDown, child: FamilyChild) -> None:
        menu.dismiss()
        self.choose_child(child)

    def choose_child(self, child: FamilyChild) -> None:
        self.child = child
        self.cache.choose("child", str(child.student_id))
        self.child_button.text = self.child_title()
        if self.screens.current == "lesson":
            self.show("diary")
        self.reload_current()

    # ------------------------------------------------------------------ navigation, status

    def show(self, name: str) -> None:
        self.screens.current = name
        for key, button in self.nav_buttons.items() if hasattr(self, "nav_buttons") else ():
            button.select(key == name)
        if name != "signin":
            self.reload_current()

    def reload_current(self) -> None:
        screen = self.screens.current_screen
        if screen is not None and hasattr(screen, "reload"):
            self.spawn(screen.reload())

    def shown(self, read: Read[Any] | None) -> None:
        """A screen drew `read`: say how fresh it is («обновлено в 14:32»)."""
        name = self.screens.current
        self.shown_at.setdefault(name, time.perf_counter() - self.started)
        if read is None:
            return
        at = datetime.fromtimestamp(read.fetched_at).strftime("%H:%M")
        if read.offline:
            self.status.text = t("family.offline.updated", time=at)
            self.status.color = theme.ABSENT
        else:
            self.status.text = t("family.status.updated", time=at)
            self.status.color = theme.TEXT_MUTED

    def note(self, text: str) -> None:
        self.status.text = text
        self.status.color = theme.ABSENT

    async def load_unread(self) -> None:
        try:
            read = await self.data.inbox()
        except ApiError:
            return
        self.set_unread(read.value.unread)

    def set_unread(self, unread: int) -> None:
        self.unread = unread
        self.inbox_button.text = (
            t("family.nav.inbox_unread", count=unread) if unread else t("family.nav.inbox")
        )

    # ------------------------------------------------------------------ session

    async def signed_in(self) -> None:
        self.chrome(True)
        await self.load_children()
        self.show("today")
        self.start_push()

    # ------------------------------------------------------------------ push

    def start_push(self) -> None:
        """Register the device's push token and confirm each push received (decision 0502)."""
        from kivy.clock import Clock

        from mobile.common import platform

        if self.platform is None:
            self.platform = platform.current()
            self.platform.listen_pushes(
                lambda data: Clock.schedule_once(lambda *_: self.spawn(self.push_received(data)))
            )
        self.spawn(self._register_push(self.platform))

    async def _register_push(self, where: Platform) -> None:
        from mobile.common.platform import register_push

        try:
            await register_push(self.api, where)
        except ApiError as exc:
            log.warning("push registration failed: %s", exc.message)

    async def push_received(self, data: dict[str, str]) -> None:
        """A push reached the phone: tell the server, then show what it brought."""
        delivery = str(data.get("delivery_id", ""))
        token = self.platform.push_token() if self.platform is not None else None
        if delivery.isdigit() and token:
            try:
                await self.data.confirm_push(int(delivery), token)
                self.receipts.append((int(delivery), 204))
            except ApiError as exc:  # unknown to the server, or no network: nothing to show
                self.receipts.append((int(delivery), exc.status))
                log.info("push receipt %s: %s", delivery, exc.message)
        if self.api.signed_in:
            await self.load_unread()

    async def sign_out(self) -> None:
        try:
            await self.api.logout()
        except ApiError:
            self.api.tokens.clear()  # offline: the server's session ends on its own
        self.cache.forget_all()
        self.children, self.child = [], None
        self.chrome(False)
        self.show("signin")

    # ------------------------------------------------------------------ tasks

    async def _run_script(self, script: Script) -> None:
        try:
            await script(self)
        finally:
            self.stop()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if isinstance(exc, ApiError):
                self.note(exc.message)
                return
            log.error("task failed: %s", "".join(traceback.format_exception(exc)))
            if self.script is not None:
                self.failure = exc

    async def run_async(self) -> None:
        try:
            await self.async_run(async_lib="asyncio")
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.api.aclose()
            self.cache.close()
