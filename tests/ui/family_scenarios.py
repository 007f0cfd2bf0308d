"""What the family app's UI tests do inside the running app: taps on real widgets, swipes,
screenshots, readings. Each scenario is an async function of the app (and keyword arguments
from the test) returning a JSON-able dict; `family_run.py` runs it in a fresh interpreter."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kivy.core.window import Window
from kivy.graphics import ClearBuffers, ClearColor, Fbo
from kivy.tests.common import UnitTestTouch
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from mobile.common import theme
from mobile.family.app import FamilyApp


def snapshot(path: str | Path) -> str:
    """The whole window (screen and any menu) rendered offscreen into a PNG."""
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


async def until(check: Any, seconds: float = 30.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {check}")
        await asyncio.sleep(step)


def texts(widget: Widget) -> list[str]:
    """Every text shown under `widget` (labels and buttons), in drawing order."""
    found = [w.text for w in widget.walk() if isinstance(w, Label) and w.text]
    return found


async def shot(app: FamilyApp, shots: str, name: str) -> str:
    await asyncio.sleep(0.3)  # let a frame be drawn: the first frames are black
    return snapshot(Path(shots) / f"family-{name}.png")


async def sign_in_with_login(app: FamilyApp, login: str, password: str) -> None:
    screen = app.screens.get_screen("signin")
    await until(lambda: app.screens.current in ("signin", "today"))
    if app.screens.current == "signin":
        screen.set_mode("login")
        screen.identifier.text = login
        screen.password.text = password
        screen.submit.dispatch("on_release")
    await until(lambda: app.screens.current == "today" and app.child is not None, seconds=60)


async def open_screen(app: FamilyApp, name: str, ready: Any) -> Any:
    if name in app.nav_buttons:
        app.nav_buttons[name].dispatch("on_release")
    else:
        app.show(name)
    screen = app.screens.get_screen(name)
    await until(lambda: app.screens.current == name and ready(screen), seconds=30)
    await asyncio.sleep(0.15)  # the screen manager puts the screen in the window next frame
    return screen


def swipe(widget: Widget, dx: float) -> None:
    """A finger across the widget: down in the middle, moved by dx, lifted."""
    x, y = widget.center_x, widget.center_y
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    for step in range(1, 6):
        touch.touch_move(x + dx * step / 5, y)
    touch.touch_up()


async def main_screens(
    app: FamilyApp, login: str, password: str, shots: str, lesson_id: int | None = None
) -> dict[str, Any]:
    """Every main screen of a parent, photographed, with what each shows."""
    result: dict[str, Any] = {}
    await sign_in_with_login(app, login, password)
    today = app.screens.get_screen("today")
    await until(lambda: len(today.column.box.children) > 2)
    result["child_title"] = app.child_button.text
    result["today_texts"] = texts(today)
    result["today_png"] = await shot(app, shots, "today")
    diary = await open_screen(app, "diary", lambda s: bool(s.lesson_rows))
    result["diary_week_start"] = diary.week.week_start.isoformat()
    result["diary_lessons"] = sorted(diary.lesson_rows)
    result["diary_texts"] = texts(diary)
    result["status"] = app.status.text
    result["diary_png"] = await shot(app, shots, "diary")
    # a lesson with a mark opens its card
    if lesson_id is None:
        with_marks = [i for i, row in diary.lesson_rows.items() if "отметки:" in row.text]
        lesson_id = with_marks[0] if with_marks else next(iter(diary.lesson_rows))
    diary.lesson_rows[lesson_id].dispatch("on_release")
    lesson = app.screens.get_screen("lesson")
    await until(lambda: app.screens.current == "lesson" and lesson.lesson is not None)
    # a changed mark shows its history (loaded from the server when the card opens)
    await until(
        lambda: all(len(box.children) > 0 for box in lesson.history_rows.values()), seconds=30
    )
    await asyncio.sleep(0.3)
    result["lesson_id"] = lesson_id
    result["lesson_texts"] = texts(lesson)
    result["lesson_png"] = await shot(app, shots, "lesson")
    diary = await open_screen(app, "diary", lambda s: bool(s.lesson_rows))
    # swipe right: the week before
    swipe(diary, diary.width * 0.6)
    await until(lambda: diary.week.week_start.isoformat() < result["diary_week_start"])
    result["swiped_week_start"] = diary.week.week_start.isoformat()
    result["swiped_lessons"] = sorted(diary.lesson_rows)
    marks = await open_screen(app, "marks", lambda s: bool(s.averages))
    result["averages"] = marks.averages
    result["marks_texts"] = texts(marks)
    result["marks_png"] = await shot(app, shots, "marks")
    homework = await open_screen(app, "homework", lambda s: bool(s.rows))
    result["homework_ids"] = sorted(homework.rows)
    result["homework_texts"] = texts(homework)
    result["homework_png"] = await shot(app, shots, "homework")
    timetable = await open_screen(app, "timetable", lambda s: s.read is not None)
    timetable.pick(None)
    await asyncio.sleep(0.1)
    result["timetable_texts"] = texts(timetable)
    result["timetable_png"] = await shot(app, shots, "timetable")
    inbox = await open_screen(app, "inbox", lambda s: len(s.column.box.children) > 0)
    result["inbox_texts"] = texts(inbox)
    result["inbox_unread_button"] = app.inbox_button.text
    result["inbox_png"] = await shot(app, shots, "inbox")
    settings = await open_screen(app, "settings", lambda s: bool(s.channel_buttons))
    await asyncio.sleep(0.3)
    result["settings_texts"] = texts(settings)
    result["settings_png"] = await shot(app, shots, "settings")
    # the child is ill: the parent tells the school
    settings.ill_comment.text = "Температура, врач на дому"
    settings.ill_button.dispatch("on_release")
    await until(lambda: "получила" in settings.ill_message.text)
    result["illness_message"] = settings.ill_message.text
    result["draw_ms"] = diary.draw_ms
    return result


async def activation(
    app: FamilyApp, code: str, password: str, phone: str, shots: str
) -> dict[str, Any]:
    """First sign-in with an activation code, then the switch between two children."""
    result: dict[str, Any] = {}
    screen = app.screens.get_screen("signin")
    await until(lambda: app.screens.current == "signin")
    await asyncio.sleep(0.2)
    result["signin_texts"] = texts(screen)
    screen.code.text = code
    screen.identifier.text = phone
    screen.password.text = password
    result["signin_png"] = await shot(app, shots, "signin")
    screen.submit.dispatch("on_release")
    await until(lambda: app.screens.current == "today" and len(app.children) == 2, seconds=60)
    result["children"] = [c.student_id for c in app.children]
    first = app.child
    assert first is not None
    diary = await open_screen(
        app, "diary", lambda s: bool(s.lesson_rows) and s.week.student_id == first.student_id
    )
    result["first"] = {"student_id": first.student_id, "lessons": sorted(diary.lesson_rows)}
    result["first_title"] = app.child_button.text
    app.child_button.dispatch("on_release")
    await asyncio.sleep(0.2)
    result["switcher_png"] = await shot(app, shots, "children")
    menu = app.child_menu
    other = next(c for c in app.children if c.student_id != first.student_id)
    items = [w for w in menu.container.children if other.first_name in w.text]
    items[0].dispatch("on_release")
    await until(lambda: bool(diary.lesson_rows) and diary.week.student_id == other.student_id)
    result["second"] = {"student_id": other.student_id, "lessons": sorted(diary.lesson_rows)}
    result["second_title"] = app.child_button.text
    result["remembered"] = app.cache.choice("child")
    return result


async def pupil_ticks(app: FamilyApp, login: str, password: str, shots: str) -> dict[str, Any]:
    """The pupil's own account ticks a homework done."""
    await sign_in_with_login(app, login, password)
    homework = await open_screen(app, "homework", lambda s: bool(s.ticks))
    hw_id = next(i for i, hw in homework.rows.items() if not hw.done)
    homework.ticks[hw_id].dispatch("on_release")
    await until(lambda: homework.rows.get(hw_id) is not None and homework.rows[hw_id].done)
    png = await shot(app, shots, "homework-pupil")
    return {
        "homework_id": hw_id,
        "child_title": app.child_button.text,
        "png": png,
        "student_id": app.child.student_id if app.child else None,
    }


async def offline(app: FamilyApp, login: str, password: str, shots: str) -> dict[str, Any]:
    """Read the week with a network, lose it: the week stays readable, marked with the time
    of its copy, and an action that needs the server says so."""
    result: dict[str, Any] = {}
    await sign_in_with_login(app, login, password)
    diary = await open_screen(app, "diary", lambda s: bool(s.lesson_rows))
    online = sorted(diary.lesson_rows)
    await open_screen(app, "marks", lambda s: bool(s.averages))
    homework = await open_screen(app, "homework", lambda s: bool(s.rows))
    app.proxy.cut()  # type: ignore[attr-defined]
    diary = await open_screen(app, "diary", lambda s: "нет связи" in app.status.text)
    result["online_lessons"] = online
    result["offline_lessons"] = sorted(diary.lesson_rows)
    result["status"] = app.status.text
    result["diary_png"] = await shot(app, shots, "offline")
    marks = await open_screen(app, "marks", lambda s: bool(s.averages))
    result["marks_offline"] = bool(marks.averages)
    homework = await open_screen(app, "homework", lambda s: bool(s.rows))
    result["homework_offline"] = sorted(homework.rows)
    inbox = await open_screen(app, "inbox", lambda s: len(s.column.box.children) > 0)
    inbox.read_all.dispatch("on_release")
    await until(lambda: "действие" in app.status.text)
    result["action_status"] = app.status.text
    return result


async def offline_restart(app: FamilyApp, shots: str) -> dict[str, Any]:
    """A fresh start with no server at all: the kept week is drawn, marked as old."""
    diary = await open_screen(app, "diary", lambda s: bool(s.lesson_rows))
    await until(lambda: "нет связи" in app.status.text)
    return {
        "lessons": sorted(diary.lesson_rows),
        "status": app.status.text,
        "png": await shot(app, shots, "offline-restart"),
    }


async def bench(app: FamilyApp, t0: float, turns: int = 10) -> dict[str, Any]:
    """Figures of one start (tokens and copies already on the phone): process start to the
    diary drawn, the week view built and drawn while turning weeks, the process's memory."""
    diary = app.screens.get_screen("diary")
    await until(lambda: bool(diary.draw_ms), seconds=60)
    first = time.time() - t0
    first_cpu = time.process_time()  # this process's CPU time from its start: less load-bound
    me = asyncio.current_task()
    await until(lambda: all(t.done() for t in app.tasks if t is not me), seconds=30)
    await asyncio.sleep(0.5)
    built, drawn = [], []
    for step in range(turns):
        before = len(diary.draw_ms)
        diary.turn(-1 if step % 2 == 0 else 1)
        await until(lambda before=before: len(diary.draw_ms) > before, seconds=30)
        built.append(diary.build_ms[-1])
        drawn.append(diary.draw_ms[-1])
        await asyncio.sleep(0.2)
    screens = ("today", "marks", "homework", "timetable", "inbox", "settings", "meals", "entries")
    for name in (*screens, "diary"):
        app.show(name)
        await asyncio.sleep(0.6)
    rss_kib = resident_kib()
    return {
        "start_to_diary_s": first,
        "start_cpu_s": first_cpu,
        "built_ms": built,
        "drawn_ms": drawn,
        "rss_mib": rss_kib / 1024,
    }


def resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def first_day(app: FamilyApp, login: str, password: str) -> dict[str, Any]:
    """Sign in and read the week once (what a phone holds after its first day)."""
    await sign_in_with_login(app, login, password)
    diary = await open_screen(app, "diary", lambda s: bool(s.lesson_rows))
    return {"lessons": len(diary.lesson_rows)}


async def entries(app: FamilyApp, login: str, password: str, shots: str) -> dict[str, Any]:
    """A day with passes: Today shows them; the entries screen, today's log and the history."""
    from mobile.family.screens_entries import EntriesScreen

    result: dict[str, Any] = {}
    await sign_in_with_login(app, login, password)
    today = app.screens.get_screen("today")
    await until(lambda: today.extras is not None and len(today.extras.children) > 0)
    await asyncio.sleep(0.2)
    result["today_texts"] = texts(today)
    today.column.scroll_y = 0  # the day's passes are at the bottom
    result["today_png"] = await shot(app, shots, "today-entries")
    screen: EntriesScreen = await open_screen(app, "entries", lambda s: s.read is not None)
    result["entries_texts"] = texts(screen)
    result["entries_png"] = await shot(app, shots, "entries")
    return result


async def meals(
    app: FamilyApp, login: str, password: str, shots: str, closed_day: str
) -> dict[str, Any]:
    """The menu of tomorrow, tomorrow's lunch ordered and the balance's hold shown; a day
    whose cut-off passed refused in the server's words; the statement; the buffet's rules."""
    from datetime import date

    from mobile.family.screens_meals import MealsScreen

    result: dict[str, Any] = {}
    await sign_in_with_login(app, login, password)
    screen: MealsScreen = await open_screen(
        app, "meals", lambda s: s.menu is not None and s.account is not None
    )
    assert screen.menu is not None and screen.account is not None
    result["menu_date"] = screen.menu.date.isoformat()
    result["menu_texts"] = texts(screen)
    result["balance_before"] = list(screen.balance_texts)
    lunch = next(x.meal_set for x in screen.menu.sets if x.meal_set.kind == "lunch")
    result["lunch_id"] = lunch.id
    result["menu_png"] = await shot(app, shots, "meals-menu")
    screen.order_buttons[lunch.id].dispatch("on_release")
    await until(lambda: screen.account is not None and screen.account.held > 0)
    await asyncio.sleep(0.2)
    result["balance_after"] = list(screen.balance_texts)
    result["ordered_texts"] = texts(screen)
    result["ordered_png"] = await shot(app, shots, "meals-ordered")
    # a day whose cut-off has passed: the server refuses, the app shows its words
    screen.day = date.fromisoformat(closed_day)
    await screen.reload()
    first = next(iter(screen.order_buttons))
    screen.order_buttons[first].dispatch("on_release")
    await until(lambda: bool(screen.message.text))
    result["refusal"] = screen.message.text
    result["refused_set"] = first
    screen.pick("account")
    await until(lambda: screen.statement is not None and screen.tab == "account")
    await asyncio.sleep(0.3)
    result["statement_texts"] = texts(screen)
    # a top-up: the payment page opens in the browser, the family pays, the balance follows
    posted = screen.account.posted if screen.account else 0
    screen.amount_field.text = "500"
    screen.contact_field.text = "roditel@example.ru"
    screen.top_up_button.dispatch("on_release")
    await until(
        lambda: screen.account is not None and screen.account.posted > posted and
        screen.statement is not None, seconds=60,
    )  # fmt: skip
    await asyncio.sleep(0.3)
    result["statement_texts"] = texts(screen)  # with the top-up in it
    result["statement_ids"] = [e.id for e in screen.statement.items] if screen.statement else []
    result["top_up_message"] = screen.message.text
    result["balance_topped_up"] = list(screen.balance_texts)
    result["payment_id"] = screen.payment.id if screen.payment else None
    result["account_png"] = await shot(app, shots, "meals-account")
    screen.pick("buffet")
    await until(lambda: screen.buffet is not None and bool(screen.stop_buttons))
    await asyncio.sleep(0.2)
    screen.limit_field.text = "150,50"
    stopped = next(p for p in screen.stop_buttons if p not in screen.stopped)
    screen.stop_buttons[stopped].dispatch("on_release")
    screen.app.spawn(screen.save_buffet())
    await until(lambda: screen.message.text == "Сохранено")
    await asyncio.sleep(0.3)
    result["stopped"] = stopped
    result["buffet_texts"] = texts(screen)
    result["buffet_png"] = await shot(app, shots, "meals-buffet")
    app.screens.get_screen("today").extras = None  # (the card drawn at sign-in is stale)
    today = await open_screen(
        app, "today", lambda s: s.extras is not None and len(s.extras.children) > 2
    )
    await asyncio.sleep(0.2)
    result["today_texts"] = texts(today)
    # lunch every school day: booked a week ahead, then stopped (its open days cancelled)
    screen = await open_screen(app, "meals", lambda s: s.account is not None)
    screen.pick("standing")
    await until(lambda: screen.standing is not None and "lunch" in screen.standing_buttons)

    def lunches() -> list[Any]:
        return [o for o in screen.standing or [] if o.active and o.meal_kind == "lunch"]

    screen.standing_buttons["lunch"].dispatch("on_release")
    await until(lambda: bool(lunches()))
    await asyncio.sleep(0.3)
    result["standing_id"] = lunches()[0].id
    result["standing_texts"] = texts(screen)
    result["standing_png"] = await shot(app, shots, "meals-standing")
    screen.standing_buttons["lunch"].dispatch("on_release")
    await until(lambda: screen.standing is not None and not lunches() and bool(screen.message.text))
    result["standing_stopped"] = screen.message.text
    return result


async def push_receipt(
    app: FamilyApp, login: str, password: str, token: str, announcer: str, shots: str
) -> dict[str, Any]:
    """A push received on the device is confirmed to the server. The desktop stands in for
    the phone: its token (PARTA_PUSH_TOKEN) is registered at sign-in, the school sends an
    announcement, and the push the FCM stand-in got for this token is handed to the app as
    FCM hands it to a phone; one naming a delivery that never came here is refused."""
    import httpx

    from mobile.common.platform import DesktopPlatform

    await sign_in_with_login(app, login, password)
    await until(lambda: app.platform is not None and not any(
        getattr(t.get_coro(), "__name__", "") == "_register_push" for t in app.tasks
    ))  # fmt: skip
    server = app.api.base_url
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        signed = await http.post(
            "/api/v1/auth/login", json={"identifier": announcer, "password": password}
        )
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        me = (await http.get("/api/v1/accounts/me", headers=headers)).json()
        school = next(g["scope_id"] for g in me["grants"] if g["scope_kind"] == "school")
        sent = await http.post(
            "/api/v1/messaging/announcements",
            headers=headers,
            json={
                "school_id": school,
                "title": "Проверка push",
                "text": "Завтра сокращённые уроки.",
            },
        )
        assert sent.status_code == 201, sent.text
        pushes: list[dict[str, Any]] = []

        async def arrived() -> bool:
            got = (await http.get("/demo/deliveries.json")).json()
            pushes[:] = [p for p in got.get("push", []) if p.get("token") == token]
            return bool(pushes)

        deadline = time.monotonic() + 60
        while not await arrived():
            assert time.monotonic() < deadline, "no push reached the FCM stand-in for this phone"
            await asyncio.sleep(0.5)
    data = {str(k): str(v) for k, v in pushes[-1]["data"].items()}
    platform = app.platform
    assert isinstance(platform, DesktopPlatform)
    platform.receive_push(data)
    await until(lambda: len(app.receipts) == 1)
    stranger = {**data, "delivery_id": str(int(data["delivery_id"]) + 1_000_000)}
    platform.receive_push(stranger)
    await until(lambda: len(app.receipts) == 2)
    # connect Telegram: the settings' button asks the server for the bot's one-time code
    settings = await open_screen(app, "settings", lambda s: bool(s.channel_buttons))
    settings.link_buttons["telegram"].dispatch("on_release")
    await until(lambda: bool(settings.link_message.text))
    await asyncio.sleep(0.2)
    settings.column.scroll_to(settings.link_message)
    await asyncio.sleep(0.3)
    result = {
        "push": data,
        "receipts": app.receipts,
        "link_message": settings.link_message.text,
        "link_png": await shot(app, shots, "settings-telegram"),
    }
    # a delegate trusted with the diary and the entries, until a month from now
    from datetime import date, timedelta

    settings.delegate_name.text = "Сабирова Гульнара Ильдаровна"
    settings.delegate_phone.text = "+79170000077"
    settings.delegate_until.text = (date.today() + timedelta(days=30)).strftime("%d.%m.%Y")
    settings.part_buttons["access.read"].dispatch("on_release")
    result["delegate_parts"] = sorted(settings.parts_chosen)
    known = {d.id for d in settings.delegates}
    app.spawn(settings.grant())
    await until(lambda: any(d.id not in known for d in settings.delegates))
    return result
