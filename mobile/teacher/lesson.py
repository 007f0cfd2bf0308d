# Over 600 lines: the lesson screen's widgets share one grid and its prerendered textures.
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
from kivy.graphics import Color, Ellipse
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
from mobile.teacher.widgets import Box, Flat, StampButton, StampLabel, Text, field, set_text

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


def short_name(name: str) -> str:
    parts = name.split()
    return " ".join([parts[0], *(f"{p[0]}." for p in parts[1:2])]) if parts else name


def status_label(status: str, late: int | None) -> str:
    if status == "present":
        return ""
    if status == "late":
        return f"{t('status.late')} {late or ''}".strip()
    return t(f"status.{status}")


# Calm colours for the initials' circles, one per pupil (the API has no photos).
AVATAR_COLOURS = [
    (0.36, 0.55, 0.80, 1),
    (0.30, 0.62, 0.55, 1),
    (0.62, 0.47, 0.75, 1),
    (0.80, 0.50, 0.35, 1),
    (0.45, 0.60, 0.30, 1),
    (0.75, 0.40, 0.55, 1),
    (0.35, 0.50, 0.62, 1),
    (0.68, 0.58, 0.30, 1),
]


class Avatar(Widget):
    """A pupil's initials in a coloured circle, where a photo would be."""

    def __init__(self, student_id: int, name: str, diameter: float) -> None:
        super().__init__(size_hint=(None, None), size=(diameter, diameter))
        self.colour = AVATAR_COLOURS[student_id % len(AVATAR_COLOURS)]
        with self.canvas:
            Color(*self.colour)
            self._circle = Ellipse(pos=self.pos, size=self.size)
        self.label = Text(
            initials(name), theme.FONT_BODY, color=theme.ON_PRIMARY, bold=True, halign="center"
        )
        self.add_widget(self.label)
        self.bind(pos=self._follow, size=self._follow)

    def _follow(self, *_: Any) -> None:
        self._circle.pos, self._circle.size = self.pos, self.size
        self.label.pos, self.label.size = self.pos, self.size


class PupilCell(Box):
    def __init__(self, screen: LessonScreen, cell: Cell) -> None:
        super().__init__(
            theme.SURFACE,
            radius=8,
            orientation="vertical",
            size_hint_y=None,
            # status row 56 + name 48 (a finger) + state 18, padding 2 x 6, spacing 2 x 4
            height=dp(theme.size(56 + 48 + 18) + 12 + 8),
            padding=dp(6),
            spacing=dp(4),
        )
        self.screen = screen
        self.student_id = cell.student_id
        self.conflict: dict[str, Any] | None = None
        top = Box(orientation="horizontal", size_hint_y=None, height=dp(theme.size(56)))
        top.spacing = dp(6)
        self.avatar = Avatar(cell.student_id, cell.name, dp(theme.size(48)))
        holder = Box(orientation="vertical", size_hint_x=None, width=self.avatar.width)
        holder.padding = [0, (dp(theme.size(56)) - self.avatar.height) / 2]
        holder.add_widget(self.avatar)
        self.status_button = StampButton(theme.FONT_TITLE, height=dp(theme.size(56)))
        self.status_button.bind(on_release=lambda *_: screen.tap_status(self))
        top.add_widget(holder)
        top.add_widget(self.status_button)
        self.name_button = Flat(
            "",
            colour=theme.SURFACE,
            text_colour=theme.TEXT,
            size=theme.FONT_SMALL,
            height=dp(theme.size(48)),
        )
        self.name_button.bind(on_release=lambda *_: screen.open_marks(self.student_id))
        self.state_label = StampLabel(13, size_hint_y=None, height=dp(theme.size(18)))
        self.add_widget(top)
        self.add_widget(self.name_button)
        self.add_widget(self.state_label)
        self.show(cell)

    def show(self, cell: Cell, conflict: dict[str, Any] | None = None) -> None:
        self.cell = cell
        self.conflict = conflict if cell.state == "conflict" else None
        self.status_button.stamp(
            status_label(cell.status, cell.late_minutes),
            theme.TEXT if cell.status == "present" else theme.ON_PRIMARY,
        )
        self.status_button.fill(STATUS_COLOURS.get(cell.status, theme.PRESENT))
        marks = " ".join(m["value"] for m in cell.marks)
        # Two lines fit: the name, or with marks the surname and initial above the marks.
        set_text(self.name_button, f"{short_name(cell.name)}\n{marks}" if marks else cell.name)
        if self.conflict is not None:
            # Both values in the cell itself; a tap on it lets the teacher choose.
            state = t(
                "lesson.conflict_cell",
                server=describe_short(self.conflict["entity"], self.conflict["server"]),
                mine=describe_short(self.conflict["entity"], self.conflict["client"]),
            )
        else:
            state = state_text(cell.state) if cell.state != "synced" else ""
        self.state_label.stamp(state, theme.STATE_COLOURS[cell.state])


class LessonScreen(Screen):
    def __init__(self, app: TeacherApp) -> None:
        super().__init__(name="lesson")
        self.app = app
        self.lesson_id: int | None = None
        self.cells: dict[int, PupilCell] = {}
        self.lesson_row: dict[str, Any] = {}
        self.marking: dict[str, Any] = {}
        self.marks_popup: QuickMarks | None = None
        # The header's counts follow a quarter of a second behind a burst of taps: each new
        # text is a texture rendered (slow on a tablet's GPU driver, slower in software).
        self._header = Clock.create_trigger(self._redraw_header, 0.25)
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
        self.marks_popup = None  # built again for this lesson's scale
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
        set_text(
            self.title,
            t(
                "lesson.title",
                subject=lesson["subject"],
                group=lesson["group_name"],
                date=day_name(date.fromisoformat(lesson["date"])),
                number=lesson["number"],
            ),
        )
        link = t("sync.online") if app.engine.online else t("sync.offline")
        set_text(self.state, f"{state_text(state)}\n{link}")
        self.state.color = theme.ON_PRIMARY
        if not self.topic.focus:
            self.topic.text = lesson["topic"]
        hw = json.loads(lesson["homework"] or "[]")
        set_text(
            self.homework_list,
            "\n".join(
                h["text"]
                + (f" ({t('lesson.due', date=h['due_date'])})" if h.get("due_date") else "")
                for h in hw
            ),
        )
        self.homework_list.texture_update()
        self.homework_list.height = max(dp(4), self.homework_list.texture_size[1])
        self.conflicts_button.opacity = 1 if conflicts else 0
        self.conflicts_button.disabled = not conflicts
        set_text(
            self.conflicts_button,
            f"{t('sync.conflict')}: {len(conflicts)}" if conflicts else "",
        )
        self.lesson_row = lesson
        self.marking = await app.db(app.store.meta, "marking", {}) or {}
        by_pupil = {c["student_id"]: c for c in conflicts if c.get("student_id")}
        seen = set()
        for cell in roster:
            seen.add(cell.student_id)
            widget = self.cells.get(cell.student_id)
            if widget is None:
                widget = PupilCell(self, cell)
                self.cells[cell.student_id] = widget
                self.grid.add_widget(widget)
            widget.show(cell, by_pupil.get(cell.student_id))
        for gone in set(self.cells) - seen:
            self.grid.remove_widget(self.cells.pop(gone))
        self._counts(roster)

    def _counts(self, roster: list[Cell]) -> None:
        absent = sum(1 for c in roster if c.status in ("absent", "sick", "excused"))
        late = sum(1 for c in roster if c.status == "late")
        marks = sum(len(c.marks) for c in roster)
        set_text(self.counts, t("lesson.counts", absent=absent, late=late, marks=marks))

    # ------------------------------------------------------------------ actions

    def tap_status(self, widget: PupilCell) -> asyncio.Future[None] | None:
        """One tap: the next status, shown at once and handed to the store's thread at once
        (committed while this frame is drawn). A cell in conflict asks the teacher first."""
        started = time.perf_counter()
        if widget.conflict is not None:
            self.open_conflict(widget.conflict)
            return None
        app = self.app
        assert self.lesson_id is not None
        status = NEXT_STATUS.get(widget.cell.status, "present")
        late = DEFAULT_LATE_MINUTES if status == "late" else None
        widget.cell.status, widget.cell.late_minutes = status, late
        widget.cell.state = "local"
        widget.show(widget.cell)  # the tap shows at once; the store confirms below
        saved = app.db.now(
            app.store.set_attendance,
            self.lesson_id,
            widget.student_id,
            status,
            late,
            started=started,
            timings=app.tap_ms,
        )
        return app.spawn(self._after_commit(saved, widget.student_id))

    async def _after_commit(self, saved: asyncio.Future[Any], student_id: int) -> None:
        await saved
        self.app.engine.poke()
        await self.redraw(student_id)

    def add_mark(self, student_id: int, value: str, kind: str, comment: str) -> asyncio.Task[None]:
        app = self.app
        assert self.lesson_id is not None
        saved = app.db.now(
            app.store.add_mark,
            self.lesson_id,
            student_id,
            value,
            kind,
            comment,
            started=time.perf_counter(),
            timings=app.tap_ms,
        )
        return app.spawn(self._after_commit(saved, student_id))

    async def redraw(self, student_id: int) -> None:
        """The cell just changed, from the store; the header follows once per frame."""
        assert self.lesson_id is not None
        cell = await self.app.db(self.app.store.cell, self.lesson_id, student_id)
        widget = self.cells.get(student_id)
        if cell is not None and widget is not None:
            conflict = None
            if cell.state == "conflict":
                conflicts = await self.app.db(self.app.store.conflicts, self.lesson_id)
                conflict = next((c for c in conflicts if c.get("student_id") == student_id), None)
            widget.show(cell, conflict)
        self._header()

    def _redraw_header(self, *_: Any) -> None:
        self.app.spawn(self.refresh_header())

    async def refresh_header(self) -> None:
        if self.lesson_id is None:
            return
        app = self.app
        state = await app.db(app.store.lesson_state, self.lesson_id)
        link = t("sync.online") if app.engine.online else t("sync.offline")
        set_text(self.state, f"{state_text(state)}\n{link}")
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
        """Quick marks for one pupil: one popup per lesson, filled for the pupil tapped."""
        if self.marks_popup is None:
            self.marks_popup = QuickMarks(self)
        self.marks_popup.show_for(self.cells[student_id].cell)
        return self.marks_popup

    def open_conflict(self, conflict: dict[str, Any]) -> ConflictPopup:
        popup = ConflictPopup(self, conflict)
        popup.open()
        return popup

    async def show_conflict(self) -> ConflictPopup | None:
        if self.lesson_id is None:
            return None
        conflicts = await self.app.db(self.app.store.conflicts, self.lesson_id)
        if not conflicts:
            return None
        return self.open_conflict(conflicts[0])


class QuickMarks(Popup):
    """The school's scale as big buttons; the kind of work (with its weight) chosen first; an
    optional comment. A tap on a value saves the mark and closes. Built once per lesson and
    filled for each pupil (building thirty buttons per tap cost a tenth of a second)."""

    def __init__(self, screen: LessonScreen) -> None:
        self.screen = screen
        marking = screen.marking
        lesson = screen.lesson_row
        scales = {s["code"]: s for s in marking.get("scales", [])}
        scale = scales.get(lesson.get("scale") or marking.get("default_scale", "five"), {})
        self.kinds = marking.get("work_kinds", []) or [
            {"code": "answer", "name": "Ответ на уроке", "weight": 1}
        ]
        self.kind_names = {k["code"]: k["name"] for k in self.kinds}
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
        self._rows: dict[tuple[str, int], Any] = {}
        self.none_yet = Text(
            t("marks.none_yet"), color=theme.TEXT_MUTED, size_hint_y=None, height=dp(30)
        )
        self.existing = GridLayout(cols=1, spacing=dp(4), size_hint_y=None)
        self.existing.bind(minimum_height=self.existing.setter("height"))
        content.add_widget(self.existing)
        close = Flat(t("marks.close"), colour=theme.BAR)
        close.bind(on_release=lambda *_: self.dismiss())
        content.add_widget(close)
        super().__init__(
            title="",
            title_size=dp(theme.size(theme.FONT_TITLE)),
            content=content,
            size_hint=(0.72, 0.9),
        )
        self.pick_kind(self.kind)

    # Opens and closes at once: no frames spent on a fade, and a popup reused for the next
    # pupil is never still fading out (a fading ModalView ignores open()).
    def open(self, *args: Any, **kw: Any) -> None:
        super().open(*args, **{**kw, "animation": False})

    def dismiss(self, *args: Any, **kw: Any) -> None:
        super().dismiss(*args, **{**kw, "animation": False})

    def show_for(self, cell: Cell) -> None:
        self.cell = cell
        self.title = t("marks.title", name=cell.name)
        if self.comment.text:
            self.comment.text = ""
        self.existing.clear_widgets()
        seen: dict[str, int] = {}
        for m in cell.marks:
            text = (
                f"{m['value']} · {self.kind_names.get(m['work_kind'], m['work_kind'])} "
                f"{m['comment']}"
            ).strip()
            seen[text] = seen.get(text, 0) + 1
            row = self._row(text, seen[text])
            row.delete.client_id = m["client_id"]
            self.existing.add_widget(row)
        if not cell.marks:
            self.existing.add_widget(self.none_yet)
        self.open()

    def _row(self, text: str, nth: int) -> Any:
        """A row of the marks already given, kept for the next pupil with the same mark (each
        new text is a texture to render)."""
        row = self._rows.get((text, nth))
        if row is None:
            row = Box(orientation="horizontal", size_hint_y=None, height=dp(48), spacing=dp(8))
            row.add_widget(Text(text))
            row.delete = Flat(
                t("marks.delete"), colour=theme.ABSENT, size_hint_x=None, width=dp(120),
                height=dp(44),
            )  # fmt: skip
            row.delete.bind(on_release=lambda button: self.delete(button.client_id))
            row.add_widget(row.delete)
            self._rows[(text, nth)] = row
        return row

    def pick_kind(self, code: str) -> None:
        self.kind = code
        for k, b in self.kind_buttons.items():
            b.fill(theme.PRIMARY if k == code else theme.DIVIDER)
            b.color = theme.ON_PRIMARY if k == code else theme.TEXT

    def choose(self, value: str) -> None:
        comment = self.comment.text.strip()
        self.dismiss()
        self.saving = self.screen.add_mark(self.cell.student_id, value, self.kind, comment)

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


def describe_short(entity: str, values: dict[str, Any] | None) -> str:
    """A value as the cell shows it: «н», «оп 5», «+» (present), a mark's value."""
    if values is None:
        return "—"
    if entity == "attendance":
        status = values.get("status", "present")
        return "+" if status == "present" else status_label(status, values.get("late_minutes"))
    if entity == "mark":
        return "—" if values.get("deleted") else str(values.get("value", ""))
    return describe(entity, values)[:12]


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
