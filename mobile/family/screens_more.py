"""The family app's other screens: marks by subject (averages, a chart, final marks),
homework by due date (the pupil ticks "done"), the timetable, the inbox, settings."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from mobile.common import theme
from mobile.common.api import ApiError
from mobile.common.i18n import t
from mobile.common.models import DiaryHomework, DiaryMarks, DiaryWeek, SubjectMarks
from mobile.family.data import NothingKept, Read, monday
from mobile.family.screens import WEEKDAYS, FamilyScreen, day_title, short_date
from mobile.family.widgets import Btn, Card, Column, MarksChart, Text

if TYPE_CHECKING:
    from mobile.family.app import FamilyApp


def average_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}".replace(".", ",")


def chart_of(subject: SubjectMarks, start: date, end: date) -> MarksChart:
    span = max((end - start).days, 1)
    points: list[tuple[float, float, int]] = []
    averages: list[float] = []
    total = weights = 0.0
    for mark in sorted(subject.marks, key=lambda m: m.date):
        try:
            value = float(mark.value.rstrip("+-").replace(",", "."))
        except ValueError:
            continue  # зачёт and the like are not on the 1..5 line
        total += value * mark.weight
        weights += mark.weight
        points.append(((mark.date - start).days / span, value, mark.weight))
        averages.append(total / weights)
    return MarksChart(points, averages)


class MarksScreen(FamilyScreen):
    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="marks")
        self.column = Column()
        self.add_widget(self.column)
        self.averages: dict[str, str] = {}  # subject -> weighted average as shown

    async def reload(self) -> None:
        child = self.app.child
        if child is None:
            return
        try:
            read = await self.app.data.marks(child.student_id)
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        self.draw(read)

    def draw(self, read: Read[DiaryMarks]) -> None:
        marks = read.value
        col = self.column
        col.clear()
        self.averages = {}
        col.add(
            Text(
                t(
                    "family.marks.title",
                    start=short_date(marks.date_from),
                    end=short_date(marks.date_to),
                ),
                font=theme.FONT_TITLE,
                bold=True,
            )
        )
        if not marks.subjects:
            col.add(Text(t("family.marks.none"), color=theme.TEXT_MUTED))
        for subject in marks.subjects:
            card = col.add(Card())
            head = BoxLayout(size_hint_y=None, height=dp(theme.size(30)))
            head.add_widget(Text(subject.subject, bold=True))
            average = average_text(subject.weighted_average)
            self.averages[subject.subject] = average
            head.add_widget(
                Text(t("family.marks.weighted", value=average), bold=True, halign="right")
            )
            card.add_widget(head)
            card.add_widget(
                Text("  ".join(m.value for m in sorted(subject.marks, key=lambda m: m.date)) or "—")
            )
            card.add_widget(
                Text(
                    t("family.marks.plain", value=average_text(subject.average)),
                    font=theme.FONT_SMALL,
                    color=theme.TEXT_MUTED,
                )
            )
            if subject.marks:
                card.add_widget(chart_of(subject, marks.date_from, marks.date_to))
            for final in subject.final_marks:
                card.add_widget(
                    Text(
                        t(
                            "family.marks.final",
                            kind=t(f"family.final.{final.get('kind', 'period')}"),
                            value=final.get("value", ""),
                        ),
                        bold=True,
                    )
                )
        self.app.shown(read)


class HomeworkScreen(FamilyScreen):
    """Homework of the week before, this week and the next, by due date; the pupil's own
    account ticks it done (the server keeps it; a parent sees the tick)."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="homework")
        self.column = Column()
        self.add_widget(self.column)
        self.ticks: dict[int, Btn] = {}
        self.rows: dict[int, DiaryHomework] = {}

    async def reload(self) -> None:
        child = self.app.child
        if child is None:
            return
        today = self.app.today()
        reads: list[Read[DiaryWeek]] = []
        for weeks in (-1, 0, 1):
            try:
                reads.append(
                    await self.app.data.week(child.student_id, today + timedelta(weeks=weeks))
                )
            except NothingKept:
                continue
        if not reads:
            self.app.note(t("error.unreachable_family"))
            return
        self.draw(reads)

    def draw(self, reads: list[Read[DiaryWeek]]) -> None:
        col = self.column
        col.clear()
        self.ticks, self.rows = {}, {}
        pupil = self.app.child is not None and self.app.child.role == "pupil"
        items = sorted(
            {
                hw.id: (hw.due_date or day.date, lesson.subject, hw)
                for read in reads
                for day in read.value.days
                for lesson in day.lessons
                for hw in lesson.homework
            }.values(),
            key=lambda row: (row[0], row[1]),
        )
        col.add(Text(t("family.homework.title"), font=theme.FONT_TITLE, bold=True))
        current: date | None = None
        card: Card | None = None
        for due, subject, hw in items:
            if due != current or card is None:
                current = due
                col.add(Text(t("family.homework.due_day", date=day_title(due)), bold=True))
                card = col.add(Card())
            self.rows[hw.id] = hw
            card.add_widget(Text(f"{subject}: {hw.text}"))
            for attachment in hw.attachments:
                from mobile.family.screens import open_attachment

                button = Btn(
                    t("family.homework.open", name=attachment.get("file_name", "")),
                    primary=False,
                    font=theme.FONT_SMALL,
                )
                button.bind(
                    on_release=lambda *_, a=attachment: self.app.spawn(open_attachment(self.app, a))
                )
                card.add_widget(button)
            if pupil:
                tick = Btn(self._tick_text(hw.done), primary=not hw.done, font=theme.FONT_SMALL)
                tick.bind(on_release=lambda *_, h=hw: self.app.spawn(self.tick(h)))
                self.ticks[hw.id] = tick
                card.add_widget(tick)
            elif hw.done:
                card.add_widget(
                    Text(
                        t("family.homework.done_by_pupil"),
                        font=theme.FONT_SMALL,
                        color=theme.TEXT_MUTED,
                    )
                )
        if not items:
            col.add(Text(t("family.homework.none"), color=theme.TEXT_MUTED))
        self.app.shown(reads[-1] if len(reads) == 1 else min(reads, key=lambda r: r.fetched_at))

    @staticmethod
    def _tick_text(done: bool) -> str:
        return t("family.homework.done") if done else t("family.homework.tick")

    async def tick(self, hw: DiaryHomework) -> None:
        child = self.app.child
        if child is None:
            return
        try:
            answer = await self.app.data.tick_homework(child.student_id, hw.id, not hw.done)
        except ApiError as exc:
            self.app.note(exc.message)
            return
        hw.done = answer.done
        button = self.ticks.get(hw.id)
        if button is not None:
            button.text = self._tick_text(hw.done)
            button.background_color = theme.DIVIDER if hw.done else theme.PRIMARY
            button.color = theme.TEXT if hw.done else theme.ON_PRIMARY
        await self.reload()


class TimetableScreen(FamilyScreen):
    """Lessons by day (tabs) or the whole week, from the diary week."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="timetable")
        self.mode = "day"
        self.day: date | None = None
        box = BoxLayout(orientation="vertical")
        tabs = BoxLayout(size_hint_y=None, height=dp(theme.size(theme.TOUCH)), spacing=dp(2))
        self.tabs: dict[int, Btn] = {}
        for index in range(6):
            button = Btn(WEEKDAYS[index], primary=False, font=theme.FONT_SMALL)
            button.bind(on_release=lambda *_, i=index: self.pick(i))
            self.tabs[index] = button
            tabs.add_widget(button)
        self.week_button = Btn(t("family.timetable.week"), primary=False, font=theme.FONT_SMALL)
        self.week_button.bind(on_release=lambda *_: self.pick(None))
        tabs.add_widget(self.week_button)
        self.column = Column()
        box.add_widget(tabs)
        box.add_widget(self.column)
        self.add_widget(box)
        self.read: Read[DiaryWeek] | None = None

    def pick(self, weekday: int | None) -> None:
        base = monday(self.app.today())
        if weekday is None:
            self.mode = "week"
        else:
            self.mode, self.day = "day", base + timedelta(days=weekday)
        if self.read is not None:
            self.draw(self.read)

    async def reload(self) -> None:
        child = self.app.child
        if child is None:
            return
        today = self.app.today()
        if self.day is None:
            self.day = today if today.weekday() < 6 else monday(today)
        try:
            self.read = await self.app.data.week(child.student_id, today)
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        self.draw(self.read)

    def draw(self, read: Read[DiaryWeek]) -> None:
        col = self.column
        col.clear()
        for index, button in self.tabs.items():
            on = self.mode == "day" and self.day is not None and self.day.weekday() == index
            button.background_color = theme.PRIMARY if on else theme.DIVIDER
            button.color = theme.ON_PRIMARY if on else theme.TEXT
        self.week_button.background_color = theme.PRIMARY if self.mode == "week" else theme.DIVIDER
        self.week_button.color = theme.ON_PRIMARY if self.mode == "week" else theme.TEXT
        days = [d for d in read.value.days if self.mode == "week" or d.date == self.day]
        for day in days:
            if not day.lessons and self.mode == "week":
                continue
            card = col.add(Card())
            card.add_widget(Text(day_title(day.date), bold=True))
            if not day.lessons:
                card.add_widget(Text(t("family.today.no_lessons"), color=theme.TEXT_MUTED))
            for lesson in day.lessons:
                teacher = lesson.replacement_teacher or lesson.teacher or ""
                line = t(
                    "family.timetable.line",
                    number=lesson.number,
                    subject=lesson.subject,
                    room=lesson.room or "—",
                    teacher=teacher,
                )
                if lesson.status == "cancelled":
                    line += " · " + t("family.lesson.cancelled")
                card.add_widget(Text(line, font=theme.FONT_SMALL))
        self.app.shown(read)


class InboxScreen(FamilyScreen):
    """Notifications, unread first in bold; opening the inbox marks them read. While it is
    open the server's stream (SSE) brings new ones at once."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="inbox")
        box = BoxLayout(orientation="vertical")
        self.read_all = Btn(t("family.inbox.read_all"), primary=False)
        self.read_all.bind(on_release=lambda *_: self.app.spawn(self.mark_all()))
        self.column = Column()
        box.add_widget(self.read_all)
        box.add_widget(self.column)
        self.add_widget(box)
        self.items: list[Any] = []
        self.stream: asyncio.Task[Any] | None = None

    def on_enter(self, *_: Any) -> None:
        if self.stream is None or self.stream.done():
            self.stream = self.app.spawn(self.listen())

    def on_leave(self, *_: Any) -> None:
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None

    async def listen(self) -> None:
        """Reload when the server's stream says something new came (until the screen closes)."""
        try:
            async for event, _ in self.app.api.events("/api/v1/messaging/inbox/stream"):
                if event == "notification":
                    await self.reload()
        except (ApiError, asyncio.CancelledError):
            return

    async def reload(self) -> None:
        try:
            read = await self.app.data.inbox()
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        self.draw(read)

    def draw(self, read: Read[Any]) -> None:
        page = read.value
        self.items = page.items
        self.app.set_unread(page.unread)
        col = self.column
        col.clear()
        col.add(Text(t("family.inbox.title", unread=page.unread), font=theme.FONT_TITLE, bold=True))
        if not page.items:
            col.add(Text(t("family.inbox.empty"), color=theme.TEXT_MUTED))
        for item in page.items:
            card = col.add(Card(colour=theme.SURFACE if item.read_at else theme.PRESENT))
            card.add_widget(Text(item.title, bold=item.read_at is None))
            card.add_widget(Text(item.body, font=theme.FONT_SMALL))
            card.add_widget(
                Text(
                    item.created_at.astimezone().strftime("%d.%m %H:%M"),
                    font=theme.FONT_SMALL,
                    color=theme.TEXT_MUTED,
                )
            )
        self.app.shown(read)

    async def mark_all(self) -> None:
        try:
            await self.app.data.read_inbox()
        except ApiError as exc:
            self.app.note(exc.message)
            return
        await self.reload()


class MoreScreen(FamilyScreen):
    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="more")
        column = Column()
        for name in ("meals", "entries", "timetable", "inbox", "settings"):
            button = Btn(t(f"family.nav.{name}"), primary=False)
            button.bind(on_release=lambda *_, n=name: self.app.show(n))
            column.add(button)
        sign_out = Btn(t("family.settings.sign_out"))
        sign_out.bind(on_release=lambda *_: self.app.spawn(self.app.sign_out()))
        column.add(sign_out)
        self.add_widget(column)

    async def reload(self) -> None:
        self.app.shown(None)
