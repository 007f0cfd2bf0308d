"""The bot's diary: the day, the week (paged in place), marks with averages, homework,
attendance, the timetable, and "the child is ill today". Reads go through the journal's diary
services with the linked person's actor, so the rights are the API's.

Child-bound buttons carry the child's id first (`week:<id>:<offset>`); an id that is not one
of the person's children answers "no such child" and reads nothing.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from backend.core.errors import DomainError
from backend.i18n import t
from backend.journal import diary, illness
from backend.journal.lessons import week_start
from backend.meals import orders as meal_orders
from backend.meals.schemas import AbsenceReport
from backend.schools.people import movement
from bots.core import Button, Child, Turn

if TYPE_CHECKING:
    from bots.core import FamilyBot

Rows = tuple[tuple[Button, ...], ...]
ATTENDANCE_WEEKS = 4
MARKS_SHOWN = 8  # the latest marks per subject in a message


def install(bot: FamilyBot) -> None:
    def command(then: str, handler: Any) -> Any:
        async def run(turn: Turn, args: list[str]) -> None:
            child = await bot.current_child(turn, then)
            if child is not None:
                await handler(turn, child, then.split(":")[1:])

        return run

    def button(handler: Any) -> Any:
        async def run(turn: Turn, args: list[str]) -> None:
            child = await bot.visible_child(turn, args[0] if args else None)
            if child is None:
                return
            await turn.put(child=str(child.id))
            await handler(turn, child, args[1:])

        return run

    for name, then, handler in (
        ("today", "day:0", show_day),
        ("tomorrow", "day:1", show_day),
        ("week", "week:0", show_week),
        ("timetable", "tt:0", show_timetable),
        ("marks", "marks", show_marks),
        ("homework", "hw", show_homework),
        ("attendance", "att", show_attendance),
        ("ill", "ill", ask_ill),
    ):
        bot.commands[name] = command(then, handler)
    for prefix, handler in (
        ("day", show_day),
        ("week", show_week),
        ("tt", show_timetable),
        ("marks", show_marks),
        ("hw", show_homework),
        ("att", show_attendance),
        ("ill", ask_ill),
        ("illok", report_ill),
        ("illno", ill_cancelled),
    ):
        bot.buttons[prefix] = button(handler)


def _offset(args: list[str]) -> int:
    try:
        return max(-52, min(52, int(args[0]))) if args else 0
    except ValueError:
        return 0


def _back(child: Child) -> Button:
    return Button(t("bot.menu.back"), f"menu:{child.id}")


def _when(day: date) -> str:
    return day.strftime("%d.%m")


async def _week(turn: Turn, child: Child, monday: date) -> dict[str, Any]:
    assert turn.actor is not None
    answer = await diary.read_week(turn.actor, child.id, monday, turn.bot.diary_weeks, None)
    return json.loads(answer.body)


def _days(week: dict[str, Any]) -> list[tuple[date, list[dict[str, Any]]]]:
    return [(date.fromisoformat(str(d["date"])[:10]), d["lessons"]) for d in week["days"]]


def _lesson_lines(lesson: dict[str, Any], *, full: bool) -> list[str]:
    head = t("bot.diary.lesson", number=lesson["number"], subject=lesson["subject"])
    if lesson.get("room"):
        head += t("bot.diary.room", room=lesson["room"])
    if lesson.get("status") == "cancelled":
        head += t("bot.diary.cancelled")
    lines = [head]
    if lesson.get("replacement_teacher"):
        lines.append(t("bot.diary.replacement", teacher=lesson["replacement_teacher"]))
    if not full:
        return lines
    if lesson.get("topic"):
        lines.append(t("bot.diary.topic", topic=lesson["topic"]))
    if lesson.get("marks"):
        marks = ", ".join(str(m["value"]) for m in lesson["marks"])
        lines.append(t("bot.diary.marks", marks=marks))
    attendance = lesson.get("attendance")
    if attendance:
        lines.append(t("bot.diary.attendance", status=_attendance(attendance)))
    for hw in lesson.get("homework_due") or []:
        lines.append(t("bot.diary.homework", text=hw["text"]))
    return lines


def _attendance(row: dict[str, Any]) -> str:
    if row["status"] == "late" and row.get("late_minutes"):
        return t("bot.attendance.late", minutes=row["late_minutes"])
    key = f"bot.attendance.status.{row['status']}"
    return t(key) if row["status"] in ("absent", "sick", "excused", "late") else row["status"]


def _day_text(child: Child, day: date, lessons: list[dict[str, Any]], *, full: bool) -> str:
    lines = [
        t(
            "bot.diary.day_title",
            name=child.name,
            weekday=t(f"bot.weekday.{day.weekday()}"),
            date=_when(day),
        )
    ]
    if not lessons:
        lines.append(t("bot.diary.no_lessons"))
    for lesson in sorted(lessons, key=lambda x: x["number"]):
        lines.extend(_lesson_lines(lesson, full=full))
    return "\n".join(lines)


async def show_day(turn: Turn, child: Child, args: list[str]) -> None:
    """`day:<id>:<days from today>` (today, tomorrow)."""
    day = await movement.pupil_today(child.id) + timedelta(days=_offset(args))
    week = await _week(turn, child, week_start(day))
    lessons = next((items for d, items in _days(week) if d == day), [])
    rows: Rows = (
        (
            Button(t("bot.menu.today"), f"day:{child.id}:0"),
            Button(t("bot.menu.tomorrow"), f"day:{child.id}:1"),
        ),
        (_back(child),),
    )
    await turn.say(_day_text(child, day, lessons, full=True), rows)


def _pager(prefix: str, child: Child, offset: int) -> Rows:
    return (
        (
            Button(t("bot.menu.previous"), f"{prefix}:{child.id}:{offset - 1}"),
            Button(t("bot.menu.next"), f"{prefix}:{child.id}:{offset + 1}"),
        ),
        (_back(child),),
    )


async def _monday(child: Child, offset: int) -> date:
    return week_start(await movement.pupil_today(child.id)) + timedelta(weeks=offset)


async def show_week(turn: Turn, child: Child, args: list[str]) -> None:
    """`week:<id>:<weeks from this one>`: the whole week, with previous/next buttons that
    edit the same message."""
    offset = _offset(args)
    monday = await _monday(child, offset)
    week = await _week(turn, child, monday)
    parts = [
        t(
            "bot.diary.week_title",
            name=child.name,
            start=_when(monday),
            end=_when(monday + timedelta(days=6)),
        )
    ]
    for day, lessons in _days(week):
        if lessons:
            parts.append(_day_text(child, day, lessons, full=True).split("\n", 1)[1])
            parts[-1] = (
                f"{t(f'bot.weekday.{day.weekday()}').capitalize()}, {_when(day)}:\n" + (parts[-1])
            )
    if len(parts) == 1:
        parts.append(t("bot.diary.no_lessons"))
    await turn.say("\n\n".join(parts), _pager("week", child, offset))


async def show_timetable(turn: Turn, child: Child, args: list[str]) -> None:
    offset = _offset(args)
    monday = await _monday(child, offset)
    week = await _week(turn, child, monday)
    parts = [
        t(
            "bot.timetable.title",
            name=child.name,
            start=_when(monday),
            end=_when(monday + timedelta(days=6)),
        )
    ]
    for day, lessons in _days(week):
        if not lessons:
            continue
        lines = [t("bot.timetable.day", weekday=t(f"bot.weekday.{day.weekday()}"), date=_when(day))]
        for lesson in sorted(lessons, key=lambda x: x["number"]):
            lines.extend(_lesson_lines(lesson, full=False))
        parts.append("\n".join(lines))
    if len(parts) == 1:
        parts.append(t("bot.diary.no_lessons"))
    await turn.say("\n\n".join(parts), _pager("tt", child, offset))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


async def show_marks(turn: Turn, child: Child, args: list[str]) -> None:
    assert turn.actor is not None
    found = await diary.marks_by_subject(turn.actor, child.id, None, None, None)
    lines = [
        t(
            "bot.marks.title",
            name=child.name,
            start=_when(_as_date(found["date_from"])),
            end=_when(_as_date(found["date_to"])),
        )
    ]
    shown = 0
    for subject in found["subjects"]:
        marks = subject["marks"][-MARKS_SHOWN:]
        if not marks:
            continue
        shown += 1
        line = t(
            "bot.marks.subject",
            subject=subject["subject"],
            marks=" ".join(m["value"] for m in marks),
        )
        average = subject.get("weighted_average") or subject.get("average")
        if average is not None:
            line += t("bot.marks.average", average=_number(average))
        lines.append(line)
    if not shown:
        lines.append(t("bot.marks.none"))
    await turn.say("\n".join(lines), ((_back(child),),))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def show_homework(turn: Turn, child: Child, args: list[str]) -> None:
    """Homework due from today over this week and the next."""
    today = await movement.pupil_today(child.id)
    seen: set[int] = set()
    lines = [t("bot.homework.title", name=child.name)]
    for monday in (week_start(today), week_start(today) + timedelta(weeks=1)):
        for day, lessons in _days(await _week(turn, child, monday)):
            if day < today:
                continue
            for lesson in sorted(lessons, key=lambda x: x["number"]):
                for hw in lesson.get("homework_due") or []:
                    if hw["id"] in seen:
                        continue
                    seen.add(hw["id"])
                    lines.append(
                        t(
                            "bot.homework.item",
                            date=_when(day),
                            subject=lesson["subject"],
                            text=hw["text"],
                        )
                    )
    if not seen:
        lines.append(t("bot.homework.none"))
    await turn.say("\n".join(lines), ((_back(child),),))


async def show_attendance(turn: Turn, child: Child, args: list[str]) -> None:
    """Absences and lateness over the last four weeks, newest first."""
    today = await movement.pupil_today(child.id)
    lines = [t("bot.attendance.title", name=child.name)]
    found: list[str] = []
    for back in range(ATTENDANCE_WEEKS):
        monday = week_start(today) - timedelta(weeks=back)
        for day, lessons in reversed(_days(await _week(turn, child, monday))):
            if day > today:
                continue
            for lesson in sorted(lessons, key=lambda x: x["number"]):
                if lesson.get("attendance"):
                    found.append(
                        t(
                            "bot.attendance.item",
                            date=_when(day),
                            number=lesson["number"],
                            subject=lesson["subject"],
                            status=_attendance(lesson["attendance"]),
                        )
                    )
    lines.extend(found or [t("bot.attendance.none")])
    await turn.say("\n".join(lines), ((_back(child),),))


async def ask_ill(turn: Turn, child: Child, args: list[str]) -> None:
    today = await movement.pupil_today(child.id)
    rows: Rows = (
        (
            Button(t("bot.ill.confirm"), f"illok:{child.id}"),
            Button(t("bot.ill.cancel"), f"illno:{child.id}"),
        ),
    )
    await turn.say(t("bot.ill.ask", name=child.name, date=_when(today)), rows)


async def report_ill(turn: Turn, child: Child, args: list[str]) -> None:
    """The guardian confirmed: the illness service checks the right (guardians only) and
    tells the school through the outbox, as the app's report does."""
    assert turn.actor is not None
    today = await movement.pupil_today(child.id)
    await illness.report_illness(turn.actor, child.id, today, today, t("bot.ill.comment"))
    lines = [t("bot.ill.done", name=child.name, date=_when(today))]
    try:  # the day's meals are cancelled as the app's meals illness does (before the cut-off)
        absence = await meal_orders.report_absence(
            turn.actor, child.id, AbsenceReport(date_from=today, date_to=today), by_school=False
        )
    except DomainError as exc:  # the school reported ill all the same: say why meals stayed
        lines.append(exc.message)
    else:
        if absence.cancelled:
            lines.append(t("bot.meals.illness_cancelled", count=len(absence.cancelled)))
        if absence.kept_past_cutoff:
            lines.append(t("bot.meals.illness_kept", count=len(absence.kept_past_cutoff)))
    await turn.say("\n".join(lines), ((_back(child),),))


async def ill_cancelled(turn: Turn, child: Child, args: list[str]) -> None:
    await turn.say(t("bot.ill.cancelled"), ((_back(child),),))
