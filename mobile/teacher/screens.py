"""Sign-in, the teacher's day and the class teacher's attendance view."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from mobile.common import theme
from mobile.common.api import ApiError, SignedOut
from mobile.common.i18n import t
from mobile.teacher.widgets import Box, Flat, Text, field

if TYPE_CHECKING:
    from mobile.teacher.app import TeacherApp

WEEKDAYS = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"]
MONTHS = [
    "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
    "октября", "ноября", "декабря",
]  # fmt: skip


def day_name(d: date) -> str:
    return f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]}"


def state_text(state: str) -> str:
    return t(f"sync.{state}")


def bar(*children: Any) -> Box:
    row = Box(
        theme.BAR,
        orientation="horizontal",
        size_hint_y=None,
        height=dp(theme.size(64)),
        padding=[dp(12), dp(6)],
        spacing=dp(10),
    )
    for child in children:
        row.add_widget(child)
    return row


def scroll(content: Any) -> ScrollView:
    view = ScrollView(do_scroll_x=False, bar_width=dp(6))
    content.size_hint_y = None
    content.bind(minimum_height=content.setter("height"))
    view.add_widget(content)
    return view


class SignInScreen(Screen):
    def __init__(self, app: TeacherApp) -> None:
        super().__init__(name="signin")
        self.app = app
        outer = Box(theme.BACKGROUND, orientation="vertical", padding=[dp(340), dp(90)])
        card = Box(theme.SURFACE, radius=12, orientation="vertical", padding=dp(28), spacing=dp(14))
        card.add_widget(Text(t("signin.title"), theme.FONT_HUGE, size_hint_y=None, height=dp(56)))
        self.server = field(t("signin.server"), text=app.cfg.server)
        self.login = field(t("signin.login"))
        self.password = field(t("signin.password"), password=True)
        self.submit = Flat(t("signin.submit"))
        self.submit.bind(on_release=lambda *_: app.spawn(self.sign_in()))
        self.message = Text("", theme.FONT_SMALL, color=theme.ABSENT, size_hint_y=None)
        for w in (self.login, self.password, self.submit, self.message, self.server):
            card.add_widget(w)
        card.add_widget(Widget())
        outer.add_widget(card)
        self.add_widget(outer)

    async def sign_in(self) -> None:
        if not self.login.text.strip() or not self.password.text:
            self.message.text = t("signin.empty")
            return
        self.message.text = t("signin.wait")
        if self.server.text.strip():
            self.app.api.base_url = self.server.text.strip()
        try:
            await self.app.api.login(self.login.text.strip(), self.password.text)
            await self.app.engine.refresh_day(self.app.today())
        except ApiError as exc:
            self.message.text = exc.message
            return
        self.password.text = ""
        self.message.text = ""
        self.app.show("day")
        await self.app.screens.get_screen("day").reload()


class DayScreen(Screen):
    """Today's lessons (replacements marked), the week ahead, past lessons left unmarked."""

    def __init__(self, app: TeacherApp) -> None:
        super().__init__(name="day")
        self.app = app
        self.root_box = Box(theme.BACKGROUND, orientation="vertical")
        self.title = Text("", theme.FONT_TITLE, color=theme.ON_PRIMARY)
        self.status = Text("", theme.FONT_SMALL, color=theme.ON_PRIMARY, size_hint_x=0.45)
        self.my_class = Flat("", colour=theme.PRIMARY, size_hint_x=None, width=dp(210))
        self.my_class.bind(on_release=lambda *_: self.open_class())
        refresh = Flat(t("day.refresh"), size_hint_x=None, width=dp(130))
        refresh.bind(on_release=lambda *_: app.spawn(self.reload(network=True)))
        sign_out = Flat(t("day.sign_out"), colour=theme.BAR, size_hint_x=None, width=dp(100))
        sign_out.bind(on_release=lambda *_: app.spawn(self.sign_out()))
        self.root_box.add_widget(bar(self.title, self.status, self.my_class, refresh, sign_out))
        columns = Box(orientation="horizontal", padding=dp(14), spacing=dp(14))
        self.today_list = GridLayout(cols=1, spacing=dp(10))
        self.week_list = GridLayout(cols=1, spacing=dp(4))
        left = Box(orientation="vertical", size_hint_x=0.58, spacing=dp(8))
        self.today_title = Text("", theme.FONT_TITLE, size_hint_y=None, height=dp(40))
        left.add_widget(self.today_title)
        left.add_widget(scroll(self.today_list))
        right = Box(
            theme.SURFACE, radius=10, orientation="vertical", padding=dp(12), size_hint_x=0.42
        )
        right.add_widget(Text(t("day.week"), theme.FONT_TITLE, size_hint_y=None, height=dp(40)))
        right.add_widget(scroll(self.week_list))
        columns.add_widget(left)
        columns.add_widget(right)
        self.root_box.add_widget(columns)
        self.add_widget(self.root_box)
        self.lesson_buttons: dict[int, Flat] = {}
        self.unmarked_ids: list[int] = []
        self.week_ids: list[int] = []

    async def sign_out(self) -> None:
        try:
            await self.app.api.logout()
        except ApiError:
            self.app.api.tokens.clear()
        self.app.show("signin")

    def open_class(self) -> None:
        self.app.show("class")
        self.app.spawn(self.app.screens.get_screen("class").reload(network=True))

    async def reload(self, network: bool = False) -> None:
        app = self.app
        if network:
            try:
                await app.engine.refresh_day(app.today())
            except SignedOut:
                app.show("signin")
                return
            except ApiError:
                pass  # offline: the tablet shows what it has
        today = app.today()
        lessons = await app.db(
            app.store.lessons_between, today - timedelta(days=7), today + timedelta(days=7)
        )
        me = await app.db(app.store.meta, "me", {})
        own = await app.db(app.store.meta, "own_class")
        updated = await app.db(app.store.meta, "updated_at")
        pending = await app.db(app.store.pending_count)
        self.render(lessons, me, own, updated, pending)

    def render(
        self,
        lessons: list[dict[str, Any]],
        me: dict[str, Any],
        own: dict[str, Any] | None,
        updated: float | None,
        pending: int,
    ) -> None:
        app = self.app
        today = app.today()
        self.title.text = me.get("name", "")
        link = t("sync.online") if app.engine.online else t("sync.offline")
        when = (
            t("day.updated", time=datetime.fromtimestamp(updated).strftime("%H:%M"))
            if updated
            else t("day.never_updated")
        )
        queue = t("sync.pending", count=pending) if pending else t("sync.all_synced")
        self.status.text = f"{link} · {queue}\n{when}"
        self.my_class.opacity = 1 if own else 0
        self.my_class.disabled = own is None
        self.my_class.text = t("day.my_class", name=own["name"]) if own else ""
        self.today_title.text = t("day.today", date=day_name(today))
        self.today_list.clear_widgets()
        self.week_list.clear_widgets()
        self.lesson_buttons = {}
        todays = [x for x in lessons if x["date"] == today.isoformat()]
        unmarked = [x for x in lessons if self._unmarked(x, today)]
        self.unmarked_ids = [x["id"] for x in unmarked]
        self.week_ids = [x["id"] for x in lessons if x["date"] > today.isoformat()]
        if not todays:
            self.today_list.add_widget(
                Text(t("day.no_lessons"), color=theme.TEXT_MUTED, size_hint_y=None, height=dp(48))
            )
        for x in todays:
            self.today_list.add_widget(self._card(x, big=True))
        if unmarked:
            self.today_list.add_widget(
                Text(
                    t("day.unmarked_count", count=len(unmarked)),
                    theme.FONT_TITLE,
                    color=theme.ABSENT,
                    size_hint_y=None,
                    height=dp(44),
                )
            )
            for x in unmarked:
                self.today_list.add_widget(self._card(x, big=False))
        current = ""
        for x in lessons:
            if x["date"] <= today.isoformat():
                continue
            if x["date"] != current:
                current = x["date"]
                self.week_list.add_widget(
                    Text(
                        day_name(date.fromisoformat(current)),
                        theme.FONT_BODY,
                        bold=True,
                        size_hint_y=None,
                        height=dp(34),
                    )
                )
            self.week_list.add_widget(
                Text(
                    self._line(x),
                    theme.FONT_SMALL,
                    color=theme.TEXT_MUTED,
                    size_hint_y=None,
                    height=dp(26),
                )
            )

    def _unmarked(self, x: dict[str, Any], today: date) -> bool:
        if x["date"] > today.isoformat() or x["status"] == "cancelled":
            return False
        if x["date"] == today.isoformat():
            return False  # today's lessons show above, flagged on their card
        return x["attendance_taken"] == 0 and x["sync"] == "synced"

    def _line(self, x: dict[str, Any]) -> str:
        line = t("day.lesson_line", number=x["number"], subject=x["subject"], group=x["group_name"])
        if x["starts"]:
            line = f"{line}  {t('day.time_range', start=x['starts'], end=x['ends'])}"
        if x["replacement"]:
            line += f" · {t('day.replacement')}"
        if x["status"] == "cancelled":
            line += f" · {t('day.cancelled')}"
        return line

    def _card(self, x: dict[str, Any], big: bool) -> Flat:
        lines = [self._line(x)]
        if not big:
            lines.insert(0, day_name(date.fromisoformat(x["date"])))
        flags = []
        if x["sync"] != "synced":
            flags.append(state_text(x["sync"]))
        if not x["attendance_taken"] and x["status"] != "cancelled" and x["sync"] == "synced":
            flags.append(t("day.unmarked"))
        if x["topic"]:
            lines.append(x["topic"])
        if flags:
            lines.append(" · ".join(flags))
        colour: tuple[float, ...] = theme.SURFACE
        if x["replacement"]:
            colour = (0.99, 0.95, 0.85, 1)
        if x["status"] == "cancelled":
            colour = theme.DIVIDER
        card = Flat(
            "\n".join(lines),
            colour=colour,
            text_colour=theme.TEXT,
            size=theme.FONT_BODY if big else theme.FONT_SMALL,
            height=dp(theme.size(104 if big else 78)),
            halign="left",
        )
        card.padding = [dp(14), dp(8)]
        card.lesson_id = x["id"]
        card.bind(on_release=lambda *_: self.app.spawn(self.open_lesson(x["id"])))
        self.lesson_buttons[x["id"]] = card
        return card

    async def open_lesson(self, lesson_id: int) -> None:
        screen = self.app.screens.get_screen("lesson")
        self.app.show("lesson")
        await screen.open(lesson_id)


class ClassScreen(Screen):
    """The class teacher's view: the class's attendance for the day (per lesson) or the week
    (per day), and the pupils marked absent while the entry log says they are inside."""

    def __init__(self, app: TeacherApp) -> None:
        super().__init__(name="class")
        self.app = app
        self.mode = "day"
        box = Box(theme.BACKGROUND, orientation="vertical")
        back = Flat(t("class_view.back"), size_hint_x=None, width=dp(130))
        back.bind(on_release=lambda *_: app.show("day"))
        self.title = Text("", theme.FONT_TITLE, color=theme.ON_PRIMARY)
        self.day_button = Flat(t("class_view.day"), size_hint_x=None, width=dp(120))
        self.week_button = Flat(t("class_view.week"), size_hint_x=None, width=dp(120))
        self.day_button.bind(on_release=lambda *_: self.show_mode("day"))
        self.week_button.bind(on_release=lambda *_: self.show_mode("week"))
        box.add_widget(bar(back, self.title, self.day_button, self.week_button))
        self.inside = Text("", theme.FONT_BODY, color=theme.ABSENT, size_hint_y=None)
        self.inside.padding = [dp(12), dp(6)]
        box.add_widget(self.inside)
        self.caption = Text("", theme.FONT_BODY, bold=True, size_hint_y=None, height=dp(36))
        self.caption.padding = [dp(12), 0]
        box.add_widget(self.caption)
        self.table = GridLayout(cols=1, spacing=dp(2), padding=dp(12))
        box.add_widget(scroll(self.table))
        self.add_widget(box)
        self.grid: dict[str, Any] = {}
        self.absent_inside: list[dict[str, Any]] = []
        self.shown_day = ""

    async def reload(self, network: bool = False) -> None:
        app = self.app
        own = await app.db(app.store.meta, "own_class")
        if own is None:
            self.title.text = t("class_view.no_class")
            return
        self.title.text = t("class_view.title", name=own["name"])
        today = app.today()
        monday = today - timedelta(days=today.weekday())
        if network:
            try:
                grid = await app.engine.class_week(own["id"], monday, today)
                await app.db(app.store.put_meta, "class_week", grid)
            except ApiError:
                pass  # offline: the tablet shows what it had
            try:
                inside = await app.engine.absent_inside(own["id"], today)
                await app.db(
                    app.store.put_meta, "class_absent_inside", {"date": str(today), "items": inside}
                )
            except ApiError:
                pass
        self.grid = await app.db(app.store.meta, "class_week", {}) or {}
        kept = await app.db(app.store.meta, "class_absent_inside", {}) or {}
        self.absent_inside = kept.get("items", []) if kept.get("date") == str(today) else []
        self.render()

    def show_mode(self, mode: str) -> None:
        self.mode = mode
        self.render()

    def render(self) -> None:
        for button, mode in ((self.day_button, "day"), (self.week_button, "week")):
            button.fill(theme.PRIMARY if self.mode == mode else theme.BAR)
        self.inside.text = (
            t("class_view.absent_inside")
            + "\n"
            + "\n".join(
                t(
                    "class_view.absent_inside_line",
                    name=x["name"],
                    number=x["lesson_number"],
                    subject=x["subject"],
                )
                for x in self.absent_inside
            )
            if self.absent_inside
            else ""
        )
        self.inside.texture_update()
        self.inside.height = self.inside.texture_size[1] + dp(12) if self.absent_inside else 0
        self.table.clear_widgets()
        if self.mode == "day":
            self.render_day(self.grid)
        else:
            self.render_week(self.grid)
        self.loaded_at = time.time()

    def _cell(self, text: str, colour: tuple[float, ...] = theme.TEXT, **kw: Any) -> Text:
        return Text(text, color=colour, size_hint_y=None, height=dp(38), **kw)

    def render_day(self, grid: dict[str, Any]) -> None:
        """The latest school day up to today: each pupil's status in each lesson."""
        lessons: dict[str, list[dict[str, Any]]] = grid.get("lessons", {})
        days = [d for d in grid.get("days", []) if lessons.get(d)]
        if not days:
            self.caption.text = t("class_view.no_lessons")
            self.shown_day = ""
            return
        day = days[-1]
        self.shown_day = day
        self.caption.text = t("class_view.day_title", date=day_name(date.fromisoformat(day)))
        todays = lessons[day]
        self.table.cols = len(todays) + 2
        self.table.add_widget(self._cell(t("class_view.pupil"), bold=True))
        for x in todays:
            self.table.add_widget(
                Text(f"{x['number']}. {x['subject']}", theme.FONT_SMALL, bold=True,
                     size_hint_y=None, height=dp(40))
            )  # fmt: skip
        self.table.add_widget(self._cell(t("class_view.missed"), bold=True))
        for pupil in grid.get("pupils", []):
            self.table.add_widget(self._cell(pupil["name"]))
            missed = 0
            for x in todays:
                status = pupil.get("lessons", {}).get(str(x["id"]), "present")
                missed += status in ("absent", "sick", "excused")
                shown = "·" if status == "present" else t(f"status.{status}")
                self.table.add_widget(
                    self._cell(shown, theme.TEXT_MUTED if shown == "·" else theme.ABSENT)
                )
            self.table.add_widget(self._cell(str(missed)))

    def render_week(self, grid: dict[str, Any]) -> None:
        days: list[str] = grid.get("days", [])
        if not days:
            self.caption.text = t("class_view.no_lessons")
            return
        self.caption.text = t("class_view.week_title")
        self.table.cols = len(days) + 2
        header = [t("class_view.pupil")] + [day_name(date.fromisoformat(d)) for d in days]
        header.append(t("class_view.missed"))
        for text in header:
            self.table.add_widget(
                Text(text, theme.FONT_SMALL, bold=True, size_hint_y=None, height=dp(40))
            )
        for pupil in grid.get("pupils", []):
            self.table.add_widget(self._cell(pupil["name"]))
            missed = 0
            for d in days:
                marks = pupil["days"].get(d, [])
                missed += sum(1 for m in marks if m in ("absent", "sick", "excused"))
                text = " ".join(t(f"status.{m}") for m in marks if m != "present") or "·"
                self.table.add_widget(
                    self._cell(text, theme.ABSENT if text != "·" else theme.TEXT_MUTED)
                )
            self.table.add_widget(self._cell(str(missed)))
