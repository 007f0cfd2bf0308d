"""What the UI tests do inside the running app: taps on real widgets, screenshots, readings.

Each scenario is an async function of the app (and keyword arguments from the test) returning
a JSON-able dict; `run_app.py` runs it in a fresh interpreter."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kivy.core.window import Window
from kivy.graphics import ClearBuffers, ClearColor, Fbo

from mobile.common import theme
from mobile.teacher.app import TeacherApp
from mobile.teacher.lesson import ConflictPopup, LessonScreen, QuickMarks


async def frames(seconds: float = 0.4) -> None:
    """Let Kivy lay out and draw (the first frames of a window are black)."""
    await asyncio.sleep(seconds)


def snapshot(path: str | Path) -> str:
    """The whole window (screen and any popup) rendered offscreen into a PNG."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fbo = Fbo(size=Window.size, with_stencilbuffer=True)
    with fbo:
        ClearColor(*theme.BACKGROUND)
        ClearBuffers()
    for child in reversed(Window.children):
        fbo.add(child.canvas)
    fbo.draw()
    fbo.texture.save(str(path), flipped=True)
    for child in reversed(Window.children):
        fbo.remove(child.canvas)
    return str(path)


async def until(check: Any, seconds: float = 30.0, step: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {check}")
        await asyncio.sleep(step)


async def sign_in(app: TeacherApp, login: str, password: str) -> None:
    screen = app.screens.get_screen("signin")
    await until(lambda: app.screens.current in ("signin", "day"))
    if app.screens.current == "day":
        return
    screen.login.text = login
    screen.password.text = password
    screen.submit.dispatch("on_release")
    await until(lambda: app.screens.current == "day", seconds=60)


async def day_shown(app: TeacherApp) -> Any:
    day = app.screens.get_screen("day")
    await until(lambda: bool(day.lesson_buttons), seconds=60)
    return day


async def open_lesson(app: TeacherApp, lesson_id: int) -> LessonScreen:
    day = await day_shown(app)
    await until(lambda: lesson_id in day.lesson_buttons)
    day.lesson_buttons[lesson_id].dispatch("on_release")
    screen: LessonScreen = app.screens.get_screen("lesson")
    await until(lambda: app.screens.current == "lesson" and bool(screen.cells), seconds=30)
    return screen


async def tap(screen: LessonScreen, student_id: int, times: int = 1) -> None:
    """A tap on the pupil's status, as a finger would (the button's release), committed."""
    for _ in range(times):
        before = len(screen.app.tap_ms)
        screen.cells[student_id].status_button.dispatch("on_release")
        await until(lambda n=before: len(screen.app.tap_ms) > n, step=0.002)


async def give_mark(screen: LessonScreen, student_id: int, value: str, kind: str) -> None:
    screen.cells[student_id].name_button.dispatch("on_release")
    popup = next(w for w in Window.children if isinstance(w, QuickMarks))
    popup.kind_buttons[kind].dispatch("on_release")
    before = len(screen.cells[student_id].cell.marks)
    popup.value_buttons[value].dispatch("on_release")
    await popup.saving
    assert len(screen.cells[student_id].cell.marks) == before + 1


def roster_of(screen: LessonScreen) -> list[dict[str, Any]]:
    return [
        {
            "id": w.cell.student_id,
            "name": w.cell.name,
            "status": w.cell.status,
            "marks": [m["value"] for m in w.cell.marks],
            "state": w.cell.state,
            "shown": w.name_button.text,
            "initials": w.avatar.label.text,
            "state_text": w.state_label.text,
        }
        for w in screen.grid.children[::-1]
    ]


async def synced(app: TeacherApp, seconds: float = 30.0) -> None:
    await until(lambda: app.store.pending_count() == 0, seconds=seconds)


# ---------------------------------------------------------------------- scenarios


async def screens(
    app: TeacherApp,
    login: str,
    password: str,
    lesson_id: int,
    shots: list[str],
    mark_for: int,
    undo_pupil: int,
    homework: str,
    homework_file: str,
) -> dict[str, Any]:
    """Sign in, the day, the lesson, quick marks: each drawn and saved."""
    await sign_in(app, login, password)
    day = await day_shown(app)
    await frames()
    out: dict[str, Any] = {
        "day_lessons": sorted(day.lesson_buttons),
        "cards": {str(k): b.text for k, b in day.lesson_buttons.items()},
        "unmarked": day.unmarked_ids,
        "week": day.week_ids,
    }
    out["day_png"] = [snapshot(Path(d) / "teacher-day.png") for d in shots]
    screen = await open_lesson(app, lesson_id)
    await frames()
    out["roster"] = roster_of(screen)
    out["title"] = screen.title.text
    out["lesson_png"] = [snapshot(Path(d) / "teacher-lesson.png") for d in shots]
    screen.cells[mark_for].name_button.dispatch("on_release")
    await frames()
    out["marks_png"] = [snapshot(Path(d) / "teacher-quick-marks.png") for d in shots]
    popup = next(w for w in Window.children if isinstance(w, QuickMarks))
    out["scale"] = sorted(popup.value_buttons)
    out["kinds"] = sorted(popup.kind_buttons)
    popup.dismiss()
    # A tap taken back with «Отменить»: the cell is as before.
    before = screen.cells[undo_pupil].cell.status
    await tap(screen, undo_pupil)
    out["undo"] = {"before": before, "tapped": screen.cells[undo_pupil].cell.status}
    screen.undo_button.dispatch("on_release")
    await until(lambda: screen.cells[undo_pupil].cell.status == before)
    # Homework with a file from the tablet, sent with the lesson.
    screen.homework.text = homework
    screen.attach_file(homework_file)
    out["attach_button"] = screen.attach_button.text
    screen.save_hw.dispatch("on_release")
    await until(lambda: homework in screen.homework_list.text)
    await synced(app, seconds=60)
    await screen.reload()
    out["undo"]["after"] = screen.cells[undo_pupil].cell.status
    out["undo"]["state"] = screen.cells[undo_pupil].cell.state
    return out


async def prepare(app: TeacherApp, login: str, password: str, lesson_id: int) -> dict[str, Any]:
    """Online: sign in, the day and the lesson come down to the tablet."""
    await sign_in(app, login, password)
    screen = await open_lesson(app, lesson_id)
    return {"roster": roster_of(screen), "online": app.engine.online}


async def mark_offline(
    app: TeacherApp, lesson_id: int, absent: list[int], late: int, marks: list[list[Any]]
) -> dict[str, Any]:
    """No server: the lesson opens from the tablet and every tap is kept there."""
    screen = await open_lesson(app, lesson_id)
    for pupil in absent:
        await tap(screen, pupil)
    await tap(screen, late, times=2)
    for pupil, value, kind in marks:
        await give_mark(screen, pupil, value, kind)
    # The sync loop tries, finds no server and puts the batch back on the tablet: read the
    # screen between two tries.
    seen: dict[str, Any] = {}

    async def settled() -> bool:
        await screen.reload()
        seen.update(
            roster=roster_of(screen),
            pending=app.store.pending_count(lesson_id),
            lesson_state=app.store.lesson_state(lesson_id),
            online=app.engine.online,
            state_text=screen.state.text,
        )
        states = {r["state"] for r in seen["roster"]}
        return not seen["online"] and seen["lesson_state"] == "local" and "sending" not in states

    await until(settled)
    return {**seen, "tap_ms": app.tap_ms}


async def come_back(app: TeacherApp, lesson_id: int, shots: list[str]) -> dict[str, Any]:
    """The server is back: the outbox goes up, the conflict waits, the teacher keeps hers."""
    screen = await open_lesson(app, lesson_id)
    await until(lambda: bool(app.store.conflicts(lesson_id)), seconds=60)
    await until(
        lambda: app.store.pending_count(lesson_id) == len(app.store.conflicts(lesson_id)),
        seconds=60,
    )
    await screen.reload()
    await frames()
    out: dict[str, Any] = {"roster": roster_of(screen)}
    out["conflict_lesson_png"] = [snapshot(Path(d) / "teacher-conflict-cell.png") for d in shots]
    # The cell itself shows both values; a tap on it asks the teacher to choose.
    disputed = next(w for w in screen.cells.values() if w.conflict is not None)
    before = len(screen.app.tap_ms)
    disputed.status_button.dispatch("on_release")
    popup = next(w for w in Window.children if isinstance(w, ConflictPopup))
    out["tap_changed_nothing"] = len(screen.app.tap_ms) == before
    await frames()
    out["conflict_png"] = [snapshot(Path(d) / "teacher-conflict.png") for d in shots]
    out["conflict"] = {
        "server": popup.server_text,
        "mine": popup.mine_text,
        "who": popup.who_text,
        "entity": popup.conflict["entity"],
    }
    popup.keep.dispatch("on_release")
    await synced(app)
    await screen.reload()
    out["after"] = roster_of(screen)
    out["conflicts_left"] = len(app.store.conflicts())
    return out


async def bench(
    app: TeacherApp, login: str, password: str, lesson_id: int, nowhere: str, real: str
) -> dict[str, Any]:
    """The figures of docs/performance.md: a whole lesson entered (30 attendance taps and 30
    marks through the widgets) with no network, each tap's commit on the tablet, then the
    lesson's sync once the server is back."""
    await sign_in(app, login, password)
    screen = await open_lesson(app, lesson_id)
    app.sync_task.cancel()  # the figure times one sync, started below
    app.api.base_url = nowhere
    app.engine.online = False
    pupils = list(screen.cells)
    app.tap_ms.clear()
    started = time.perf_counter()
    cpu = time.process_time()  # the app's own CPU (every thread, the GL driver's included)
    for n in range(30):
        await tap(screen, pupils[n % len(pupils)])
    taps = list(app.tap_ms)
    for n in range(30):
        await give_mark(screen, pupils[n % len(pupils)], "5" if n % 2 else "4", "answer")
    entered = time.perf_counter() - started
    entered_cpu = time.process_time() - cpu
    pending = app.store.pending_count(lesson_id)
    app.api.base_url = real
    outcome = await app.engine.sync_lesson(lesson_id)
    return {
        "pupils": len(pupils),
        "tap_ms": taps,
        "mark_ms": app.tap_ms[len(taps) :],
        "entered_s": entered,
        "entered_cpu_s": entered_cpu,
        "pending": pending,
        "sync_s": outcome.seconds,
        "sent": outcome.sent,
        "conflicts": outcome.conflicts,
        "left": app.store.pending_count(lesson_id),
    }


async def class_view(
    app: TeacherApp, login: str, password: str, shots: list[str]
) -> dict[str, Any]:
    """The class teacher's «Мой класс»: the day per lesson, the week per day, and the pupils
    marked absent while the entry log says they are inside."""
    await sign_in(app, login, password)
    day = await day_shown(app)
    await until(lambda: day.my_class.opacity == 1)
    day.my_class.dispatch("on_release")
    screen = app.screens.get_screen("class")
    await until(lambda: app.screens.current == "class" and bool(screen.grid), seconds=120)
    await frames()
    out: dict[str, Any] = {
        "title": screen.title.text,
        "inside_text": screen.inside.text,
        "absent_inside": screen.absent_inside,
        "shown_day": screen.shown_day,
        "day_cells": [w.text for w in screen.table.children[::-1]],
        "day_cols": screen.table.cols,
    }
    out["day_png"] = [snapshot(Path(d) / "teacher-class-day.png") for d in shots]
    screen.week_button.dispatch("on_release")
    await frames()
    out["week_cells"] = [w.text for w in screen.table.children[::-1]]
    out["week_cols"] = screen.table.cols
    out["week_png"] = [snapshot(Path(d) / "teacher-class-week.png") for d in shots]
    out["grid"] = screen.grid
    return out


async def tap_and_hang(
    app: TeacherApp, lesson_id: int, absent: list[int], ready: str
) -> dict[str, Any]:
    """Taps sent to a server whose answers never come back: once the batch is in flight, say
    so in `ready` and wait to be killed."""
    screen = await open_lesson(app, lesson_id)
    app.sync_task.cancel()  # the three taps go up in one batch
    for pupil in absent:
        await tap(screen, pupil)
    app.sync_task = app.spawn(app.engine.run(0.5))
    app.engine.poke()
    await until(lambda: app.store.lesson_state(lesson_id) == "sending", seconds=120)
    await asyncio.to_thread(Path(ready).write_text, "sending", encoding="utf-8")
    await asyncio.sleep(3600)
    return {}


async def settle(app: TeacherApp, lesson_id: int) -> dict[str, Any]:
    """Started again with the server reachable: what the tablet holds goes up."""
    screen = await open_lesson(app, lesson_id)
    await synced(app, seconds=60)
    await screen.reload()
    return {"roster": roster_of(screen), "pending": app.store.pending_count()}
