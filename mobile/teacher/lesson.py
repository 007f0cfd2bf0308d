"""The lesson screen: the roster grid, quick marks, topic, homework, undo, conflicts.

Everyone is present until tapped. A tap on a pupil's status cycles absent -> late -> present
and is committed to the tablet's store at once (timed: `TeacherApp.tap_ms`); a tap on the name
opens quick marks. Each cell shows its sync state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout
from kivy.uix.popup import Popup
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from mobile.common import theme
from mobile.common.api import ApiError
from mobile.common.i18n import t
from mobile.teacher.screens import bar, day_name, scroll, state_text
from mobile.teacher.store import Cell
from mobile.teacher.widgets import Box, Flat, Text, field

if TYPE_CHECKING:
    from mobile.teacher.app import TeacherApp

NEXT_STATUS = {"present": "absent", "absent": "late", "late": "present"}
STATUS_COLOURS = {
    "present": theme.PRESENT,
    "absent": theme.ABSENT,
    "late": theme.LATE,
    "sick": theme.SICK,
    "excused": theme.SICK,
}
DEFAULT_LATE_MINUTES = 5


def initials(name: str) -> str:
    parts = name.split()
    return "".join(p[0] for p in parts[:2]).upper()


def status_label(status: str, late: int | None) -> str:
    if status == "present":
        return ""
    if status == "late":
        return f"{t('status.late')} {late or ''}".strip()
    return t(f"status.{status}")


class PupilCell(Box):
    def __init__(self, screen: LessonScreen, cell: Cell) -> None:
        super().__init__(
            theme.SURFACE,
            radius=8,
            orientation="vertical",
            size_hint_y=None,
            height=dp(theme.size(128)),
            padding=dp(6),
            spacing=dp(4),
        )
        self.screen = screen
        self.student_id = cell.student_id
        self.status_button = Flat("", size=theme.FONT_TITLE, height=dp(theme.size(56)))
        self.status_button.bind(on_release=lambda *_: screen.tap_status(self))
        self.name_button = Flat(
            "", colour=theme.SURFACE, text_colour=theme.TEXT, size=theme.FONT_SMALL
        )
        self.name_button.bind(on_release=lambda *_: screen.open_marks(self.student_id))
        self.state_label = Text("", 13, size_hint_y=None, height=dp(18), halign="center")
        self.add_widget(self.status_button)
        self.add_widget(self.name_button)
        self.add_widget(self.state_label)
        self.show(cell)

    def show(self, cell: Cell) -> None:
        self.cell = cell
        label = status_label(cell.status, cell.late_minutes)
        self.status_button.text = f"{initials(cell.name)}  {label}".strip()
        self.status_button.fill(STATUS_COLOURS.get(cell.status, theme.PRESENT))
        self.status_button.color = theme.TEXT if cell.status == "present" else theme.ON_PRIMARY
        marks = " ".join(m["value"] for m in cell.marks)
        self.name_button.text = f"{cell.name}\n{marks}" if marks else cell.name
        self.state_label.text = state_text(cell.state) if cell.state != "synced" else ""
        self.state_label.color = theme.STATE_COLOURS[cell.state]


class LessonScreen(Screen):
    def __init__(self, app: TeacherApp) -> None:
        super().__init__(name="lesson")
        self.app = app
        self.lesson_id: int | None = None
        self.cells: dict[int, PupilCell] = {}
        self._header = Clock.create_trigger(self._redraw_header, 0)
        root = Box(theme.BACKGROUND, orientation="vertical")
        back = Flat(t("lesson.back"), size_hint_x=None, width=dp(120))
        back.bind(on_release=lambda *_: self.leave())
        self.title = Text("", theme.FONT_BODY, color=theme.ON_PRIMARY)
        self.state = Text("", theme.FONT_SMALL, color=theme.ON_PRIMARY, size_hint_x=0.3)
        self.undo_button = Flat(t("lesson.undo"), size_hint_x=None, width=dp(140))
        self.undo_button.bind(on_release=lambda *_: app.spawn(self.undo()))
        root.add_widget(bar(back, self.title, self.state, self.undo_button))
        body = Box(orientation="horizontal", padding=dp(10), spacing=dp(10))
        self.grid = GridLayout(cols=6, spacing=dp(8))
        left = Box(orientation="vertical", size_hint_x=0.72, spacing=dp(6))
        self.hint = Text(
            t("lesson.all_present"), theme.FONT_SMALL, color=theme.TEXT_MUTED,
            size_hint_y=None, height=dp(24),
        )  # fmt: skip
        left.add_widget(self.hint)
        left.add_widget(scroll(self.grid))
        side = Box(
            theme.SURFACE,
            radius=10,
            orientation="vertical",
            padding=dp(12),
            spacing=dp(8),
            size_hint_x=0.28,
        )
        self.counts = Text("", theme.FONT_SMALL, size_hint_y=None, height=dp(48))
        self.conflicts_button = Flat("", colour=theme.STATE_COLOURS["conflict"])
        self.conflicts_button.bind(on_release=lambda *_: app.spawn(self.show_conflict()))
        self.topic = field(t("lesson.topic"))
        self.topic.bind(on_text_validate=lambda *_: app.spawn(self.save_topic()))
        self.topic.bind(focus=lambda _, focused: focused or app.spawn(self.save_topic()))
        self.homework = field(t("lesson.homework_hint"), multiline=True, height=dp(110))
        self.attach_button = Flat(t("lesson.attach"), colour=theme.DIVIDER, text_colour=theme.TEXT)
        self.attach_button.bind(on_release=lambda *_: self.choose_file())
        self.save_hw = Flat(t("lesson.save_homework"))
        self.save_hw.bind(on_release=lambda *_: app.spawn(self.save_homework()))
        self.homework_list = Text("", theme.FONT_SMALL, color=theme.TEXT_MUTED, size_hint_y=None)
        self.file_path: str | None = None
        side.add_widget(self.counts)
        side.add_widget(self.conflicts_button)
        side.add_widget(Text(t("lesson.topic"), bold=True, size_hint_y=None, height=dp(28)))
        side.add_widget(self.topic)
        side.add_widget(Text(t("lesson.homework"), bold=True, size_hint_y=None, height=dp(28)))
        side.add_widget(self.homework_list)
        side.add_widget(self.homework)
        side.add_widget(self.attach_button)
        side.add_widget(self.save_hw)
        side.add_widget(Widget())
        body.add_widget(left)
        body.add_widget(side)
        root.add_widget(body)
        self.add_widget(root)

    def leave(self) -> None:
        self.app.show("day")
        self.app.spawn(self.app.screens.get_screen("day").reload())

    async def open(self, lesson_id: int) -> None:
        app = self.app
        self.lesson_id = lesson_id
        if not await app.db(app.store.has_sheet, lesson_id):
            with contextlib.suppress(ApiError):
                await app.engine.pull_lesson(lesson_id)
        self.grid.clear_widgets()
        self.cells = {}
        await self.reload()

    async def reload(self, network: bool = False) -> None:
        app = self.app
        if self.lesson_id is None:
            return
        lesson = await app.db(app.store.lesson, self.lesson_id)
        if lesson is None:
            self.title.text = t("lesson.not_in_lesson")
            return
        roster = await app.db(app.store.roster, self.lesson_id)
        state = await app.db(app.store.lesson_state, self.lesson_id)
        conflicts = await app.db(app.store.conflicts, self.lesson_id)
        self.title.text = t(
            "lesson.title",
            subject=lesson["subject"],
            group=lesson["group_name"],
            date=day_name(date.fromisoformat(lesson["date"])),
            number=lesson["number"],
        )
        link = t("sync.online") if app.engine.online else t("sync.offline")
        self.state.text = f"{state_text(state)}\n{link}"
        self.state.color = theme.ON_PRIMARY
        if not self.topic.focus:
            self.topic.text = lesson["topic"]
        hw = json.loads(lesson["homework"] or "[]")
        self.homework_list.text = "\n".join(
            h["text"] + (f" ({t('lesson.due', date=h['due_date'])})" if h.get("due_date") else "")
            for h in hw
        )
        self.homework_list.texture_update()
        self.homework_list.height = max(dp(4), self.homework_list.texture_size[1])
        self.conflicts_button.opacity = 1 if conflicts else 0
        self.conflicts_button.disabled = not conflicts
        self.conflicts_button.text = f"{t('sync.conflict')}: {len(conflicts)}" if conflicts else ""
        seen = set()
        for cell in roster:
            seen.add(cell.student_id)
            widget = self.cells.get(cell.student_id)
            if widget is None:
                widget = PupilCell(self, cell)
                self.cells[cell.student_id] = widget
                self.grid.add_widget(widget)
            else:
                widget.show(cell)
        for gone in set(self.cells) - seen:
            self.grid.remove_widget(self.cells.pop(gone))
        self._counts(roster)

    def _counts(self, roster: list[Cell]) -> None:
        absent = sum(1 for c in roster if c.status in ("absent", "sick", "excused"))
        late = sum(1 for c in roster if c.status == "late")
        marks = sum(len(c.marks) for c in roster)
        self.counts.text = t("lesson.counts", absent=absent, late=late, marks=marks)

    # ------------------------------------------------------------------ actions

    def tap_status(self, widget: PupilCell) -> asyncio.Task[None]:
        started = time.perf_counter()
        status = NEXT_STATUS.get(widget.cell.status, "present")
        late = DEFAULT_LATE_MINUTES if status == "late" else None
        widget.cell.status, widget.cell.late_minutes = status, late
        widget.cell.state = "local"
        widget.show(widget.cell)  # the tap shows at once; the store confirms below
        return self.app.spawn(self._commit_status(widget.student_id, status, late, started))

    async def _commit_status(
        self, student_id: int, status: str, late: int | None, started: float
    ) -> None:
        app = self.app
        assert self.lesson_id is not None
        await app.db(app.store.set_attendance, self.lesson_id, student_id, status, late)
        app.tap_ms.append((time.perf_counter() - started) * 1000)
        app.engine.poke()
        await self.redraw(student_id)

    async def add_mark(self, student_id: int, value: str, kind: str, comment: str) -> None:
        app = self.app
        assert self.lesson_id is not None
        started = time.perf_counter()
        await app.db(app.store.add_mark, self.lesson_id, student_id, value, kind, comment)
        app.tap_ms.append((time.perf_counter() - started) * 1000)
        app.engine.poke()
        await self.redraw(student_id)

    async def redraw(self, student_id: int) -> None:
        """The cell just changed, from the store; the header follows once per frame."""
        assert self.lesson_id is not None
        cell = await self.app.db(self.app.store.cell, self.lesson_id, student_id)
        widget = self.cells.get(student_id)
        if cell is not None and widget is not None:
            widget.show(cell)
        self._header()

    def _redraw_header(self, *_: Any) -> None:
        self.app.spawn(self.refresh_header())

    async def refresh_header(self) -> None:
        if self.lesson_id is None:
            return
        app = self.app
        state = await app.db(app.store.lesson_state, self.lesson_id)
        link = t("sync.online") if app.engine.online else t("sync.offline")
        self.state.text = f"{state_text(state)}\n{link}"
        self._counts([w.cell for w in self.cells.values()])

    async def delete_mark(self, client_id: str) -> None:
        await self.app.db(self.app.store.delete_mark, client_id)
        self.app.engine.poke()
        await self.reload()

    async def undo(self) -> None:
        if self.lesson_id is None:
            return
        await self.app.db(self.app.store.undo, self.lesson_id)
        self.app.engine.poke()
        await self.reload()

    async def save_topic(self) -> None:
        if self.lesson_id is None:
            return
        await self.app.db(self.app.store.set_topic, self.lesson_id, self.topic.text.strip())
        self.app.engine.poke()
        await self.reload()

    async def save_homework(self) -> None:
        text = self.homework.text.strip()
        if self.lesson_id is None or (not text and not self.file_path):
            return
        await self.app.db(self.app.store.add_homework, self.lesson_id, text, None, self.file_path)
        self.homework.text = ""
        self.file_path = None
        self.attach_button.text = t("lesson.attach")
        self.app.engine.poke()
        await self.reload()

    def choose_file(self) -> None:
        from kivy.uix.filechooser import FileChooserListView

        chooser = FileChooserListView(path=str(self.app.cfg.data_dir.parent))
        popup = Popup(title=t("lesson.attach"), content=chooser, size_hint=(0.8, 0.8))

        def chosen(_: Any, selection: list[str], *__: Any) -> None:
            if selection:
                self.attach_file(selection[0])
            popup.dismiss()

        chooser.bind(on_submit=chosen)
        popup.open()

    def attach_file(self, path: str) -> None:
        from pathlib import Path

        self.file_path = path
        self.attach_button.text = t("lesson.attached", name=Path(path).name)

    # ------------------------------------------------------------------ popups

    def open_marks(self, student_id: int) -> QuickMarks:
        popup = QuickMarks(self, self.cells[student_id].cell)
        popup.open()
        return popup

    async def show_conflict(self) -> ConflictPopup | None:
        if self.lesson_id is None:
            return None
        conflicts = await self.app.db(self.app.store.conflicts, self.lesson_id)
        if not conflicts:
            return None
        popup = ConflictPopup(self, conflicts[0])
        popup.open()
        return popup


class QuickMarks(Popup):
    """The school's scale as big buttons; the kind of work (with its weight) chosen first; an
    optional comment. A tap on a value saves the mark and closes."""

    def __init__(self, screen: LessonScreen, cell: Cell) -> None:
        self.screen = screen
        self.cell = cell
        marking = screen.app.store.meta("marking", {}) or {}
        lesson = screen.app.store.lesson(screen.lesson_id or 0) or {}
        scales = {s["code"]: s for s in marking.get("scales", [])}
        scale = scales.get(lesson.get("scale") or marking.get("default_scale", "five"), {})
        self.kinds = marking.get("work_kinds", []) or [
            {"code": "answer", "name": "Ответ на уроке", "weight": 1}
        ]
        self.kind = self.kinds[0]["code"]
        content = Box(theme.SURFACE, orientation="vertical", padding=dp(12), spacing=dp(10))
        content.add_widget(
            Text(
                t("marks.scale", name=scale.get("name", "")),
                theme.FONT_SMALL,
                color=theme.TEXT_MUTED,
                size_hint_y=None,
                height=dp(24),
            )
        )
        values = GridLayout(cols=min(10, max(1, len(scale.get("symbols", [])))), spacing=dp(8))
        values.size_hint_y = None
        values.bind(minimum_height=values.setter("height"))
        self.value_buttons: dict[str, Flat] = {}
        for symbol in scale.get("symbols", [])[:20]:
            b = Flat(symbol, size=theme.FONT_HUGE, height=dp(theme.size(72)))
            b.bind(on_release=lambda btn: self.choose(btn.text))
            self.value_buttons[symbol] = b
            values.add_widget(b)
        content.add_widget(values)
        content.add_widget(Text(t("marks.kind"), bold=True, size_hint_y=None, height=dp(26)))
        kinds = GridLayout(cols=4, spacing=dp(6), size_hint_y=None)
        kinds.bind(minimum_height=kinds.setter("height"))
        self.kind_buttons: dict[str, Flat] = {}
        for k in self.kinds:
            b = Flat(
                f"{k['name']}\n{t('marks.weight', weight=k['weight'])}",
                colour=theme.DIVIDER,
                text_colour=theme.TEXT,
                size=theme.FONT_SMALL,
                height=dp(theme.size(60)),
            )
            b.bind(on_release=lambda _, code=k["code"]: self.pick_kind(code))
            self.kind_buttons[k["code"]] = b
            kinds.add_widget(b)
        content.add_widget(kinds)
        self.comment = field(t("marks.comment"))
        content.add_widget(self.comment)
        content.add_widget(Text(t("marks.existing"), bold=True, size_hint_y=None, height=dp(26)))
        existing = GridLayout(cols=1, spacing=dp(4), size_hint_y=None)
        existing.bind(minimum_height=existing.setter("height"))
        kind_names = {k["code"]: k["name"] for k in self.kinds}
        for m in cell.marks:
            row = Box(orientation="horizontal", size_hint_y=None, height=dp(48), spacing=dp(8))
            row.add_widget(
                Text(f"{m['value']} · {kind_names.get(m['work_kind'], m['work_kind'])} "
                     f"{m['comment']}".strip())
            )  # fmt: skip
            delete = Flat(
                t("marks.delete"), colour=theme.ABSENT, size_hint_x=None, width=dp(120),
                height=dp(44),
            )  # fmt: skip
            delete.bind(on_release=lambda _, cid=m["client_id"]: self.delete(cid))
            row.add_widget(delete)
            existing.add_widget(row)
        if not cell.marks:
            existing.add_widget(
                Text(t("marks.none_yet"), color=theme.TEXT_MUTED, size_hint_y=None, height=dp(30))
            )
        content.add_widget(existing)
        close = Flat(t("marks.close"), colour=theme.BAR)
        close.bind(on_release=lambda *_: self.dismiss())
        content.add_widget(close)
        super().__init__(
            title=t("marks.title", name=cell.name),
            title_size=dp(theme.size(theme.FONT_TITLE)),
            content=content,
            size_hint=(0.72, 0.9),
        )
        self.pick_kind(self.kind)

    def pick_kind(self, code: str) -> None:
        self.kind = code
        for k, b in self.kind_buttons.items():
            b.fill(theme.PRIMARY if k == code else theme.DIVIDER)
            b.color = theme.ON_PRIMARY if k == code else theme.TEXT

    def choose(self, value: str) -> None:
        comment = self.comment.text.strip()
        self.dismiss()
        self.saving = self.screen.app.spawn(
            self.screen.add_mark(self.cell.student_id, value, self.kind, comment)
        )

    def delete(self, client_id: str) -> None:
        self.dismiss()
        self.screen.app.spawn(self.screen.delete_mark(client_id))


def describe(entity: str, values: dict[str, Any] | None) -> str:
    if values is None:
        return t("conflict.deleted")
    if entity == "attendance":
        status = values.get("status", "present")
        if status == "present":
            return t("conflict.present")
        if status == "late":
            return t("status.late_long", minutes=values.get("late_minutes") or "")
        return f"{t('status.' + status)} ({t('status.absent_long')})"
    if entity == "mark":
        if values.get("deleted"):
            return t("conflict.deleted")
        return str(values.get("value", ""))
    return str(values.get("topic") or values.get("text") or "")


class ConflictPopup(Popup):
    """Both values, who changed the server's and when; the teacher chooses."""

    def __init__(self, screen: LessonScreen, conflict: dict[str, Any]) -> None:
        self.screen = screen
        self.conflict = conflict
        entity = conflict["entity"]
        content = Box(theme.SURFACE, orientation="vertical", padding=dp(16), spacing=dp(12))
        content.add_widget(Text(t("conflict.explain"), size_hint_y=None, height=dp(56)))
        self.server_text = t("conflict.server", value=describe(entity, conflict["server"]))
        self.mine_text = t("conflict.mine", value=describe(entity, conflict["client"]))
        content.add_widget(
            Text(self.server_text, theme.FONT_TITLE, size_hint_y=None, height=dp(44))
        )
        if conflict["at"]:
            at = datetime.fromisoformat(conflict["at"]).astimezone()
            name, _, role = conflict["who"].partition(", ")
            who = t("conflict.who", name=name, role=role, when=at.strftime("%d.%m %H:%M"))
        else:
            who = t("conflict.who_source", source=conflict["who"] or "—")
        self.who_text = who
        content.add_widget(
            Text(who, theme.FONT_SMALL, color=theme.TEXT_MUTED, size_hint_y=None, height=dp(30))
        )
        content.add_widget(Text(self.mine_text, theme.FONT_TITLE, size_hint_y=None, height=dp(44)))
        buttons = Box(orientation="horizontal", spacing=dp(12), size_hint_y=None, height=dp(64))
        self.keep = Flat(t("conflict.keep_mine"))
        self.take = Flat(t("conflict.take_server"), colour=theme.BAR)
        self.keep.bind(on_release=lambda *_: self.choose(True))
        self.take.bind(on_release=lambda *_: self.choose(False))
        buttons.add_widget(self.keep)
        buttons.add_widget(self.take)
        content.add_widget(buttons)
        super().__init__(
            title=t("conflict.title", name=conflict.get("name") or ""),
            title_size=dp(theme.size(theme.FONT_TITLE)),
            content=content,
            size_hint=(0.6, 0.6),
        )

    def choose(self, keep_mine: bool) -> None:
        self.dismiss()
        self.screen.app.spawn(self._resolve(keep_mine))

    async def _resolve(self, keep_mine: bool) -> None:
        app = self.screen.app
        await app.db(app.store.resolve, self.conflict["op_id"], keep_mine)
        app.engine.poke()
        await self.screen.reload()
