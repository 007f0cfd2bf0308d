"""The family app's first screens: sign-in, today, the diary week (swipe between weeks) and
one lesson (topic, homework, marks with their history, attendance)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.textinput import TextInput

from mobile.common import theme
from mobile.common.api import ApiError, Unreachable
from mobile.common.i18n import t
from mobile.common.models import DiaryLesson, DiaryMark, DiaryWeek
from mobile.family.data import NothingKept, Read, monday
from mobile.family.widgets import Btn, Card, Column, Text

if TYPE_CHECKING:
    from mobile.family.app import FamilyApp

WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def day_title(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]}, {day.day} {MONTHS[day.month - 1]}"


def short_date(day: date) -> str:
    return f"{day.day:02d}.{day.month:02d}"


def attendance_text(lesson: DiaryLesson) -> str:
    a = lesson.attendance
    if a is None:
        return ""
    if a.status == "late" and a.late_minutes:
        return t("family.attendance.late_minutes", minutes=a.late_minutes)
    return t(f"family.attendance.{a.status}")


def marks_text(marks: list[DiaryMark]) -> str:
    return "  ".join(m.value + ("*" if m.changed else "") for m in marks)


def field(hint: str, password: bool = False) -> TextInput:
    return TextInput(
        hint_text=hint,
        password=password,
        multiline=False,
        write_tab=False,
        size_hint_y=None,
        height=dp(theme.size(theme.TOUCH)),
        font_size=sp(theme.size(theme.FONT_BODY)),
        padding=(dp(10), dp(14)),
    )


class FamilyScreen(Screen):
    def __init__(self, app: FamilyApp, **kw: Any) -> None:
        super().__init__(**kw)
        self.app = app

    async def reload(self) -> None:  # pragma: no cover - each screen draws its own
        return None


class SignInScreen(FamilyScreen):
    """First the activation code from school (with a new password and a phone or e-mail),
    then, on later sign-ins, phone or e-mail and password."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="signin")
        self.mode = "code"
        box = BoxLayout(orientation="vertical", padding=dp(20), spacing=dp(12))
        box.add_widget(Text(t("family.signin.title"), font=theme.FONT_TITLE, bold=True))
        self.explain = Text(t("family.signin.code_explain"), color=theme.TEXT_MUTED)
        box.add_widget(self.explain)
        self.code = field(t("family.signin.code"))
        self.identifier = field(t("family.signin.identifier"))
        self.password = field(t("family.signin.password"), password=True)
        self.message = Text("", color=theme.ABSENT)
        self.submit = Btn(t("family.signin.activate"))
        self.submit.bind(on_release=lambda *_: self.app.spawn(self.go()))
        self.switch = Btn(t("family.signin.have_account"), primary=False)
        self.switch.bind(
            on_release=lambda *_: self.set_mode("login" if self.mode == "code" else "code")
        )
        self.fields = BoxLayout(orientation="vertical", spacing=dp(12), size_hint_y=None)
        self.fields.bind(minimum_height=self.fields.setter("height"))
        box.add_widget(self.fields)
        for widget in (self.message, self.submit, self.switch):
            box.add_widget(widget)
        box.add_widget(BoxLayout())  # the rest of the height
        self.add_widget(box)
        self.set_mode("code")

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.fields.clear_widgets()
        self.message.text = ""
        if mode == "code":
            self.fields.add_widget(self.code)
            self.identifier.hint_text = t("family.signin.identifier_new")
            self.password.hint_text = t("family.signin.password_new")
            self.explain.text = t("family.signin.code_explain")
            self.submit.text = t("family.signin.activate")
            self.switch.text = t("family.signin.have_account")
        else:
            self.identifier.hint_text = t("family.signin.identifier")
            self.password.hint_text = t("family.signin.password")
            self.explain.text = t("family.signin.login_explain")
            self.submit.text = t("family.signin.submit")
            self.switch.text = t("family.signin.have_code")
        self.fields.add_widget(self.identifier)
        self.fields.add_widget(self.password)

    async def go(self) -> None:
        identifier = self.identifier.text.strip()
        password = self.password.text
        if not password or (self.mode == "login" and not identifier):
            self.message.text = t("family.signin.empty")
            return
        if self.mode == "code" and not self.code.text.strip():
            self.message.text = t("family.signin.empty_code")
            return
        self.message.text = t("family.signin.wait")
        self.submit.disabled = True
        try:
            if self.mode == "code":
                email = identifier if "@" in identifier else None
                phone = identifier if identifier and not email else None
                await self.app.api.activate(
                    self.code.text.strip(), password, phone=phone, email=email
                )
            else:
                await self.app.api.login(identifier, password)
        except ApiError as exc:
            self.message.text = exc.message
            return
        finally:
            self.submit.disabled = False
        self.message.text = ""
        self.password.text = ""
        self.code.text = ""
        await self.app.signed_in()


class TodayScreen(FamilyScreen):
    """The day of the child shown: lessons (replacements, cancellations), new marks, the
    homework due next; for a guardian, the day's entries, the next meal order and the
    balance."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="today")
        self.column = Column()
        self.add_widget(self.column)
        self.lesson_rows: dict[int, Card] = {}
        self.extras: Card | None = None

    async def reload(self) -> None:
        child = self.app.child
        if child is None:
            return
        day = self.app.today()
        try:
            week = await self.app.data.week(child.student_id, day)
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        news: Read[Any] | None
        try:
            news = await self.app.data.news(child.student_id)
        except NothingKept:
            news = None
        self.draw(week, news, day)
        # Entries and meals come after the lessons are drawn: they never delay the day.
        from mobile.family.screens_entries import draw_today_extras, may, today_extras

        if may(child, "access.read") or may(child, "meals.order"):
            found = await today_extras(self.app, child, day)
            if self.app.child is child and self.extras is not None:
                draw_today_extras(self.extras, found, child, day)

    def draw(self, week: Read[DiaryWeek], news: Read[Any] | None, day: date) -> None:
        col = self.column
        col.clear()
        self.lesson_rows = {}
        col.add(
            Text(t("family.today.title", date=day_title(day)), font=theme.FONT_TITLE, bold=True)
        )
        lessons = next((d.lessons for d in week.value.days if d.date == day), [])
        card = col.add(Card())
        if not lessons:
            card.add_widget(Text(t("family.today.no_lessons"), color=theme.TEXT_MUTED))
        for lesson in lessons:
            card.add_widget(lesson_line(lesson, self.app))
        marks = news.value.marks if news is not None else []
        col.add(Text(t("family.today.new_marks"), font=theme.FONT_BODY, bold=True))
        card = col.add(Card())
        if not marks:
            card.add_widget(Text(t("family.today.no_new_marks"), color=theme.TEXT_MUTED))
        subjects = {
            lesson.subject_id: lesson.subject for d in week.value.days for lesson in d.lessons
        }
        for mark in marks[:12]:
            card.add_widget(
                Text(
                    t(
                        "family.today.mark_line",
                        value=mark.value,
                        subject=mark.subject_name or subjects.get(mark.subject, ""),
                        date=short_date(mark.lesson_date),
                    )
                )
            )
        col.add(Text(t("family.today.homework_due"), font=theme.FONT_BODY, bold=True))
        card = col.add(Card())
        due = sorted(
            (
                (hw.due_date, lesson.subject, hw.text, hw.done)
                for d in week.value.days
                for lesson in d.lessons
                for hw in lesson.homework
                if hw.due_date is not None and day <= hw.due_date <= day + timedelta(days=3)
            ),
            key=lambda row: (row[0], row[1]),
        )
        if not due:
            card.add_widget(Text(t("family.today.no_homework"), color=theme.TEXT_MUTED))
        for due_date, subject, text, done in due:
            mark = t("family.today.done") + " " if done else ""
            card.add_widget(Text(f"{mark}{short_date(due_date)} · {subject}: {text}"))
        self.extras = col.add(Card())  # the day's entries and meals (filled after)
        self.app.shown(week)


def lesson_line(lesson: DiaryLesson, app: FamilyApp, with_homework: bool = False) -> Btn:
    """One lesson as a tappable row: number, subject, room, replacement, marks, attendance,
    and (in the diary) the homework set at it, on the lines below."""
    parts = [f"{lesson.number}. {lesson.subject}"]
    if lesson.room:
        parts.append(t("family.lesson.room_short", room=lesson.room))
    if lesson.status == "cancelled":
        parts.append(t("family.lesson.cancelled"))
    if lesson.replacement_teacher:
        parts.append(t("family.lesson.replacement", teacher=lesson.replacement_teacher))
    marks = marks_text(lesson.marks)
    if marks:
        parts.append(t("family.lesson.marks_short", marks=marks))
    attendance = attendance_text(lesson)
    if attendance:
        parts.append(attendance)
    lines = [" · ".join(parts)]
    if with_homework:
        for hw in lesson.homework:
            due = t("family.homework.due", date=short_date(hw.due_date)) if hw.due_date else ""
            lines.append(t("family.lesson.homework_line", text=hw.text, due=due))
    button = Btn("\n".join(lines), primary=False, font=theme.FONT_SMALL)
    button.halign = "left"
    button.background_color = (
        theme.LATE if lesson.replacement_teacher or lesson.status == "cancelled" else theme.SURFACE
    )
    button.lesson_id = lesson.lesson_id
    if len(lines) > 1:
        button.bind(
            texture_size=lambda b, size: setattr(
                b, "height", max(dp(theme.size(theme.TOUCH)), size[1] + dp(12))
            )
        )
    button.bind(on_release=lambda *_: app.screens.get_screen("lesson").open(lesson))
    return button


class DiaryScreen(FamilyScreen):
    """A week of the diary, day by day; swipe right for the week before, left for the next."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="diary")
        self.day: date | None = None
        box = BoxLayout(orientation="vertical")
        head = BoxLayout(size_hint_y=None, height=dp(theme.size(theme.TOUCH)), spacing=dp(4))
        self.back = Btn("‹", primary=False, size_hint_x=None, width=dp(theme.size(64)))
        self.forward = Btn("›", primary=False, size_hint_x=None, width=dp(theme.size(64)))
        self.back.bind(on_release=lambda *_: self.turn(-1))
        self.forward.bind(on_release=lambda *_: self.turn(1))
        self.title = Text("", bold=True, halign="center")
        head.add_widget(self.back)
        head.add_widget(self.title)
        head.add_widget(self.forward)
        self.column = Column()
        box.add_widget(head)
        box.add_widget(self.column)
        self.add_widget(box)
        self.week: DiaryWeek | None = None
        self.lesson_rows: dict[int, Btn] = {}
        self.build_ms: list[float] = []  # widgets made, for the figures
        self.draw_ms: list[float] = []  # widgets made and the frame drawn

    def week_day(self) -> date:
        return self.day or self.app.today()

    def turn(self, weeks: int) -> None:
        self.day = monday(self.week_day()) + timedelta(weeks=weeks)
        self.app.spawn(self.reload())

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is None and self.collide_point(*touch.opos):
            dx, dy = touch.x - touch.ox, touch.y - touch.oy
            if abs(dx) > self.width * 0.25 and abs(dx) > 2 * abs(dy):
                self.turn(-1 if dx > 0 else 1)
                return True
        return bool(super().on_touch_up(touch))

    async def reload(self) -> None:
        child = self.app.child
        if child is None:
            return
        key = self.app.data.week_key(child.student_id, self.week_day())
        kept = self.app.data.kept(key, DiaryWeek)
        if kept is not None and (
            self.week is None
            or self.week.week_start != kept.value.week_start
            or self.week.student_id != child.student_id
        ):
            self.draw(kept)  # the phone's copy at once, the server's next
        asked = (child.student_id, self.week_day())
        try:
            read = await self.app.data.week(child.student_id, self.week_day())
        except NothingKept:
            if asked != self._asked():
                return
            self.column.clear()
            self.column.add(Text(t("family.offline.nothing"), color=theme.ABSENT))
            self.app.note(t("error.unreachable_family"))
            return
        if asked == self._asked():  # not a week or child left meanwhile
            self.draw(read)

    def _asked(self) -> tuple[int, date] | None:
        child = self.app.child
        return (child.student_id, self.week_day()) if child else None

    def draw(self, read: Read[DiaryWeek]) -> None:
        import time

        started = time.perf_counter()
        week = read.value
        self.week = week
        end = week.week_start + timedelta(days=5)
        self.title.text = t(
            "family.diary.week", start=short_date(week.week_start), end=short_date(end)
        )
        col = self.column
        col.clear()
        self.lesson_rows = {}
        for day in week.days:
            if not day.lessons and day.date.weekday() >= 5:
                continue
            card = col.add(Card())
            card.add_widget(Text(day_title(day.date), bold=True))
            if not day.lessons:
                card.add_widget(Text(t("family.today.no_lessons"), color=theme.TEXT_MUTED))
            for lesson in day.lessons:
                row = lesson_line(lesson, self.app, with_homework=True)
                self.lesson_rows[lesson.lesson_id] = row
                card.add_widget(row)
        self.build_ms.append((time.perf_counter() - started) * 1000)

        # Called after the next frame is drawn (Kivy's timeout 0): the week on screen.
        Clock.schedule_once(
            lambda *_: self.draw_ms.append((time.perf_counter() - started) * 1000), 0
        )
        self.app.shown(read)


class LessonScreen(FamilyScreen):
    """One lesson: topic, homework (attachments open on the phone), marks (and how a changed
    mark was changed), attendance."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="lesson")
        box = BoxLayout(orientation="vertical")
        back = Btn(t("family.lesson.back"), primary=False)
        back.bind(on_release=lambda *_: self.app.show("diary"))
        self.column = Column()
        box.add_widget(back)
        box.add_widget(self.column)
        self.add_widget(box)
        self.lesson: DiaryLesson | None = None
        self.history_rows: dict[int, Card] = {}

    def open(self, lesson: DiaryLesson) -> None:
        self.lesson = lesson
        self.app.show("lesson")

    async def reload(self) -> None:
        if self.lesson is not None:
            self.draw(self.lesson)

    def draw(self, lesson: DiaryLesson) -> None:
        col = self.column
        col.clear()
        self.history_rows = {}
        col.add(Text(f"{lesson.number}. {lesson.subject}", font=theme.FONT_TITLE, bold=True))
        card = col.add(Card())
        if lesson.teacher:
            card.add_widget(Text(t("family.lesson.teacher", teacher=lesson.teacher)))
        if lesson.replacement_teacher:
            card.add_widget(
                Text(
                    t("family.lesson.replacement", teacher=lesson.replacement_teacher),
                    color=theme.ABSENT,
                )
            )
        if lesson.room:
            card.add_widget(Text(t("family.lesson.room", room=lesson.room)))
        if lesson.status == "cancelled":
            card.add_widget(Text(t("family.lesson.cancelled"), color=theme.ABSENT))
        card.add_widget(Text(t("family.lesson.topic", topic=lesson.topic or "—")))
        attendance = attendance_text(lesson)
        card.add_widget(
            Text(t("family.lesson.attendance", what=attendance or t("family.attendance.present")))
        )
        col.add(Text(t("family.lesson.homework"), bold=True))
        card = col.add(Card())
        if not lesson.homework:
            card.add_widget(Text(t("family.lesson.no_homework"), color=theme.TEXT_MUTED))
        for hw in lesson.homework:
            due = t("family.homework.due", date=short_date(hw.due_date)) if hw.due_date else ""
            card.add_widget(Text(f"{hw.text} {due}"))
            for attachment in hw.attachments:
                button = Btn(
                    t("family.homework.open", name=attachment.get("file_name", "")),
                    primary=False,
                    font=theme.FONT_SMALL,
                )
                button.bind(
                    on_release=lambda *_, a=attachment: self.app.spawn(open_attachment(self.app, a))
                )
                card.add_widget(button)
        col.add(Text(t("family.lesson.marks"), bold=True))
        card = col.add(Card())
        if not lesson.marks:
            card.add_widget(Text(t("family.lesson.no_marks"), color=theme.TEXT_MUTED))
        for mark in lesson.marks:
            line = t(
                "family.lesson.mark_line", value=mark.value, kind=mark.work_kind, weight=mark.weight
            )
            if mark.comment:
                line += f" · {mark.comment}"
            card.add_widget(Text(line, bold=True))
            if mark.changed:
                history = Card(colour=theme.BACKGROUND)
                self.history_rows[mark.id] = history
                card.add_widget(history)
                self.app.spawn(self.load_history(mark.id, history))
        self.app.shown(None)

    async def load_history(self, mark_id: int, box: Card) -> None:
        try:
            changes = await self.app.data.mark_history(mark_id)
        except ApiError as exc:
            box.add_widget(Text(exc.message, font=theme.FONT_SMALL, color=theme.ABSENT))
            return
        box.add_widget(Text(t("family.lesson.history"), font=theme.FONT_SMALL, bold=True))
        for change in changes:
            old = (change.get("old") or {}).get("value", "—")
            new = (change.get("new") or {}).get("value", "—")
            who = (change.get("by") or {}).get("name", "")
            at = str(change.get("at", ""))[:16].replace("T", " ")
            box.add_widget(
                Text(
                    t("family.lesson.change", old=old, new=new, who=who, at=at),
                    font=theme.FONT_SMALL,
                )
            )


async def open_attachment(app: FamilyApp, attachment: dict[str, Any]) -> None:
    """Download a homework file into the app's directory and open it with the phone's viewer."""
    from mobile.common import platform

    attachment_id = int(attachment["id"])
    name = str(attachment.get("file_name") or attachment_id)
    target = app.cfg.data_dir / "files" / f"{attachment_id}-{name}"
    if not target.exists():
        try:
            content = await app.api.download(f"/api/v1/journal/attachments/{attachment_id}")
        except Unreachable:
            app.note(t("family.offline.action"))
            return
        except ApiError as exc:
            app.note(exc.message)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    platform.current().open_file(target)
