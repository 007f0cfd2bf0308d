"""The family app against a real backend (`parta demo`, one per module): every main screen
rendered offscreen at a phone's size in portrait and checked against the server's data, and
the interactions people do (sign-in with an activation code, two children, swipe to the week
before, the pupil's tick, the network gone). Each app run is a fresh interpreter.

Screenshots go to pytest's tmp dir, and to docs/screenshots/ when PARTA_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_server import DEMO_PASSWORD, DemoServer, free_port, start_demo

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")  # as the app writes a day
MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
PHONE = {"PARTA_WINDOW_WIDTH": "720", "PARTA_WINDOW_HEIGHT": "1440", "PARTA_DENSITY": "2"}


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DemoServer]:
    running = os.environ.get("PARTA_UI_DEMO_URL")  # a `parta demo` already running (developing)
    if running:
        yield DemoServer(running, None)
        return
    template = request.getfixturevalue("demo_template")  # the run's seeded demo data
    server = start_demo(tmp_path_factory.mktemp("family-demo"), template=template)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("family-shots")
    yield directory
    if os.environ.get("PARTA_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        for png in directory.glob("family-*.png"):
            shutil.copy(png, target / png.name)


def run_app(
    scenario: str,
    server: str,
    data_dir: Path,
    today: date,
    proxy: bool = False,
    push_token: str = "",
    browser: Path | None = None,
    **args: Any,
) -> dict[str, Any]:
    out = data_dir.parent / f"{data_dir.name}-{scenario}.json"
    opens: dict[str, str] = {}
    if browser is not None:  # the phone's browser: tests/ui/browser.py, recording to `browser`
        wrapper = data_dir.parent / "browser.sh"
        wrapper.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "ui" / "browser.py"}" "$1"\n'
        )
        wrapper.chmod(0o755)
        opens = {"BROWSER": str(wrapper), "PARTA_OPENED_URLS": str(browser)}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_"))},
        **PHONE,
        "PARTA_SERVER": server,
        "PARTA_FAMILY_DATA": str(data_dir),
        "PARTA_TODAY": today.isoformat(),
        "PARTA_SCENARIO_ARGS": json.dumps(args),
        "PARTA_PROXY": "1" if proxy else "0",
        "PARTA_PUSH_TOKEN": push_token,  # the desktop stands in for a phone with this token
        **opens,
    }
    env.pop("DISPLAY", None)  # SDL's offscreen driver
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.family_run", scenario, str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    assert "error" not in result, result["error"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return result


def marked_day(api: httpx.Client, student_id: int) -> date:
    """A school day with marks (the demo fills the journal of the weeks gone by)."""
    news = api.get(f"/api/v1/diary/students/{student_id}/news").json()
    assert news["marks"], "the demo's pupil has no marks"
    return date.fromisoformat(max(m["lesson_date"] for m in news["marks"]))


def week_of(api: httpx.Client, student_id: int, day: date) -> dict[str, Any]:
    response = api.get(f"/api/v1/diary/students/{student_id}/week", params={"date": str(day)})
    response.raise_for_status()
    return dict(response.json())


def lesson_ids(week: dict[str, Any]) -> list[int]:
    return sorted(lesson["lesson_id"] for day in week["days"] for lesson in day["lessons"])


def png_ok(path: str) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000, f"{path} looks empty ({len(data)} bytes)"


def test_every_main_screen_shows_the_servers_data(
    demo: DemoServer, shots: Path, tmp_path: Path
) -> None:
    parent = demo.client("parent")
    child = parent.get("/api/v1/family/children").json()[0]
    student = child["student_id"]
    day = marked_day(parent, student)
    coordinator = demo.client("coordinator")
    school = coordinator.get("/api/v1/accounts/me").json()["grants"][0]["scope_id"]
    sent = coordinator.post(
        "/api/v1/messaging/announcements",
        json={"school_id": school, "title": "Родительское собрание", "text": "В четверг в 18:00."},
    )
    assert sent.status_code == 201, sent.text
    deadline = time.monotonic() + 30
    while parent.get("/api/v1/messaging/inbox").json()["unread"] == 0:
        assert time.monotonic() < deadline, "the announcement did not reach the inbox"
        time.sleep(0.3)

    # the school changes a mark: the lesson's card shows what it was
    news = parent.get(f"/api/v1/diary/students/{student}/news").json()
    changed = max(news["marks"], key=lambda m: (m["lesson_date"], m["id"]))
    new_value = "4" if changed["value"] != "4" else "5"
    synced = coordinator.post(
        f"/api/v1/journal/lessons/{changed['lesson']}/sync",
        json={
            "operations": [
                {
                    "op_id": f"family-ui-{changed['id']}",
                    "kind": "mark",
                    "mark_id": changed["id"],
                    "value": new_value,
                    "base_version": changed["version"],
                }
            ]
        },
    )
    assert synced.status_code == 200 and synced.json()["applied"] == 1, synced.text

    shown = run_app(
        "main_screens",
        demo.base,
        tmp_path / "phone",
        day,
        login="parent",
        password=DEMO_PASSWORD,
        shots=str(shots),
        lesson_id=changed["lesson"],
    )

    assert shown["child_title"].startswith(child["first_name"])
    # today: «Новые отметки» newest first (trial 2026-12-07 listed 01.09, 02.09, ... first):
    # the mark the school just changed, then the marks of the latest lessons
    news = parent.get(f"/api/v1/diary/students/{student}/news").json()["marks"]
    assert news[0]["id"] == changed["id"]
    written = [m["updated_at"] for m in news]
    assert written == sorted(written, reverse=True)
    heading = shown["today_texts"].index("Новые отметки")
    end = shown["today_texts"].index("Задано на ближайшие дни")
    lines = [line.split(" · ") for line in shown["today_texts"][heading + 1 : end]]
    shown_marks = [tuple(line) for line in lines]
    ddmm = [date.fromisoformat(m["lesson_date"]).strftime("%d.%m") for m in news[:12]]
    assert shown_marks == [
        (m["value"], m["subject_name"], d) for m, d in zip(news[:12], ddmm, strict=True)
    ]
    assert all(m["subject_name"] for m in news[:12])
    assert (shown_marks[0][0], shown_marks[0][2]) == (
        new_value,
        date.fromisoformat(changed["lesson_date"]).strftime("%d.%m"),
    )
    later = [date.fromisoformat(m["lesson_date"]) for m in news[1:12]]
    assert len(later) > 3 and later == sorted(later, reverse=True), later
    assert later[0] >= day - timedelta(days=7)  # the latest lessons, not September's
    week = week_of(parent, student, day)
    assert shown["diary_week_start"] == week["week_start"]
    assert shown["diary_lessons"] == lesson_ids(week)
    subjects = {lesson["subject"] for d in week["days"] for lesson in d["lessons"]}
    diary_text = "\n".join(shown["diary_texts"])
    assert all(subject in diary_text for subject in subjects)
    assert shown["status"].startswith("обновлено в")
    # the lesson opened: its marks as the server has them
    lesson = next(
        lesson
        for d in week["days"]
        for lesson in d["lessons"]
        if lesson["lesson_id"] == shown["lesson_id"]
    )
    assert lesson["marks"], "the scenario opens a lesson with a mark"
    lesson_text = "\n".join(shown["lesson_texts"])
    for mark in lesson["marks"]:
        assert f"{mark['value']} · {mark['work_kind']} · вес {mark['weight']}" in lesson_text
    assert lesson["topic"] in lesson_text
    assert f"было {changed['value']}, стало {new_value} (" in lesson_text
    # swiped to the week before
    before = week_of(parent, student, date.fromisoformat(week["week_start"]) - timedelta(days=7))
    assert shown["swiped_week_start"] == before["week_start"]
    assert shown["swiped_lessons"] == lesson_ids(before)
    # marks: the weighted averages of the server
    marks = parent.get(f"/api/v1/diary/students/{student}/marks").json()
    expected = {
        s["subject"]: f"{s['weighted_average']:.2f}".replace(".", ",")
        for s in marks["subjects"]
        if s["weighted_average"] is not None
    }
    assert expected and {k: shown["averages"][k] for k in expected} == expected
    # homework: everything set in the week before, this week and the next
    homework = {
        hw["id"]
        for offset in (-7, 0, 7)
        for d in week_of(parent, student, day + timedelta(days=offset))["days"]
        for lesson in d["lessons"]
        for hw in lesson["homework"]
    }
    assert shown["homework_ids"] == sorted(homework)
    timetable = "\n".join(shown["timetable_texts"])
    assert all(subject in timetable for subject in subjects)
    assert "Родительское собрание" in "\n".join(shown["inbox_texts"])
    unread = parent.get("/api/v1/messaging/inbox").json()["unread"]
    assert shown["inbox_unread_button"] == f"Уведомления ({unread})"
    delegates = parent.get(f"/api/v1/students/{student}/delegates").json()
    settings = "\n".join(shown["settings_texts"])
    assert delegates and all(d["full_name"] in settings for d in delegates)
    assert "Куда присылать уведомления" in settings
    reports = parent.get(f"/api/v1/diary/students/{student}/illness").json()
    assert [r["comment"] for r in reports][:1] == ["Температура, врач на дому"]
    assert reports[0]["date_from"] == reports[0]["date_to"] == day.isoformat()
    for name in ("today", "diary", "lesson", "marks", "homework", "timetable", "inbox", "settings"):
        png_ok(shown[f"{name}_png"])


def test_activation_code_then_two_children(demo: DemoServer, shots: Path, tmp_path: Path) -> None:
    coordinator = demo.client("coordinator")
    school = coordinator.get("/api/v1/accounts/me").json()["grants"][0]["scope_id"]
    classes = coordinator.get(f"/api/v1/schools/{school}/classes").json()
    pupils = [coordinator.get(f"/api/v1/classes/{c['id']}/pupils").json()[0] for c in classes[2:4]]
    issued = coordinator.post(
        "/api/v1/accounts/activation-codes",
        json={
            "items": [
                {
                    "display_name": "Гарипова Алина Ринатовна",
                    "school_id": school,
                    "grants": [
                        {"role": "guardian", "scope_kind": "student", "scope_id": p["id"]}
                        for p in pupils
                    ],
                }
            ]
        },
    )
    assert issued.status_code == 201, issued.text
    code = issued.json()[0]["code"]
    phone, password = "+79170000018", "семья-парта-18"
    today = date.today()

    shown = run_app(
        "activation",
        demo.base,
        tmp_path / "phone",
        today,
        code=code,
        password=password,
        phone=phone,
        shots=str(shots),
    )

    assert "Активировать и войти" in shown["signin_texts"]
    assert sorted(shown["children"]) == sorted(p["id"] for p in pupils)
    parent = httpx.Client(
        base_url=demo.base,
        headers={
            "Authorization": "Bearer "
            + httpx.post(
                f"{demo.base}/api/v1/auth/login",
                json={"identifier": phone, "password": password},
            ).json()["access_token"]
        },
    )
    for which in ("first", "second"):
        child = shown[which]
        assert child["lessons"] == lesson_ids(week_of(parent, child["student_id"], today))
    assert shown["first"]["student_id"] != shown["second"]["student_id"]
    names = {p["id"]: p["first_name"] for p in pupils}
    assert shown["second_title"].startswith(names[shown["second"]["student_id"]])
    assert shown["remembered"] == str(shown["second"]["student_id"])
    png_ok(shown["signin_png"])


def test_the_pupil_ticks_homework_and_the_server_has_it(
    demo: DemoServer, shots: Path, tmp_path: Path
) -> None:
    pupil = demo.client("pupil")
    student = pupil.get("/api/v1/family/children").json()[0]["student_id"]
    day = marked_day(pupil, student)

    shown = run_app(
        "pupil_ticks",
        demo.base,
        tmp_path / "phone",
        day,
        login="pupil",
        password=DEMO_PASSWORD,
        shots=str(shots),
    )

    assert shown["child_title"].startswith("Я:")
    done = {
        hw["id"]: hw["done"]
        for offset in (-7, 0, 7)
        for d in week_of(pupil, student, day + timedelta(days=offset))["days"]
        for lesson in d["lessons"]
        for hw in lesson["homework"]
    }
    assert done[shown["homework_id"]] is True
    # the parent sees the tick too
    parent = demo.client("parent")
    seen = {
        hw["id"]: hw["done"]
        for offset in (-7, 0, 7)
        for d in week_of(parent, student, day + timedelta(days=offset))["days"]
        for lesson in d["lessons"]
        for hw in lesson["homework"]
    }
    assert seen[shown["homework_id"]] is True


def test_the_network_drops_and_the_last_week_stays_readable(
    demo: DemoServer, shots: Path, tmp_path: Path
) -> None:
    parent = demo.client("parent")
    student = parent.get("/api/v1/family/children").json()[0]["student_id"]
    day = marked_day(parent, student)
    phone = tmp_path / "phone"

    shown = run_app(
        "offline",
        demo.base,
        phone,
        day,
        proxy=True,
        login="parent",
        password=DEMO_PASSWORD,
        shots=str(shots),
    )

    expected = lesson_ids(week_of(parent, student, day))
    assert shown["online_lessons"] == expected
    assert shown["offline_lessons"] == expected
    assert shown["status"].startswith("нет связи · обновлено в ")
    assert shown["marks_offline"] is True
    assert shown["homework_offline"], "the homework list stays readable"
    assert shown["action_status"].startswith("Нет связи с сервером: это действие выполнится")
    png_ok(shown["diary_png"])

    # a fresh start with no server at all: the kept week, the same mark of its age
    gone = f"http://127.0.0.1:{free_port()}"
    again = run_app("offline_restart", gone, phone, day, shots=str(shots))
    assert again["lessons"] == expected
    assert again["status"].startswith("нет связи · обновлено в ")


def school_days_ahead(api: httpx.Client, student_id: int, start: date, days: int) -> list[Any]:
    menus = []
    for n in range(days):
        answer = api.get(
            f"/api/v1/meals/pupils/{student_id}/menu", params={"date": str(start + timedelta(n))}
        )
        assert answer.status_code == 200, answer.text
        menus.append(answer.json())
    return menus


def test_entries_today_and_their_history(demo: DemoServer, shots: Path, tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    parent = demo.client("parent")
    child = parent.get("/api/v1/family/children").json()[0]
    student, zone = child["student_id"], ZoneInfo(child["time_zone"])
    today = date.today()
    seeded = parent.get(
        f"/api/v1/access/students/{student}/entries",
        params={"date_from": str(today - timedelta(days=30)), "date_to": str(today)},
    ).json()
    assert seeded["days"], "the demo seeds the child's passes of the last ten school days"
    day = date.fromisoformat(seeded["days"][-1]["date"])
    # what the app asks for: the two weeks up to that day
    found = parent.get(
        f"/api/v1/access/students/{student}/entries",
        params={"date_from": str(day - timedelta(days=14)), "date_to": str(day)},
    ).json()

    shown = run_app(
        "entries", demo.base, tmp_path / "phone", day,
        login="parent", password=DEMO_PASSWORD, shots=str(shots),
    )  # fmt: skip

    def at(moment: str) -> str:
        return datetime.fromisoformat(moment).astimezone(zone).strftime("%H:%M")

    passes = [p for p in found["passes"] if p["local_date"] == str(day)]
    lines = [
        f"{at(p['occurred_at'])} — {'вход' if p['direction'] == 'in' else 'выход'}" for p in passes
    ]
    assert lines and all(line in shown["today_texts"] for line in lines)
    assert all(line in shown["entries_texts"] for line in lines)
    for d in found["days"][:-1]:
        entered, left = at(d["first_entry_at"]), at(d["last_exit_at"])
        assert any(
            text.endswith(f": пришёл в {entered}, ушёл в {left}") for text in shown["entries_texts"]
        ), d
    png_ok(shown["today_png"])
    png_ok(shown["entries_png"])


def test_order_tomorrows_lunch_and_see_the_hold(
    demo: DemoServer, shots: Path, tmp_path: Path
) -> None:
    from zoneinfo import ZoneInfo

    from mobile.common.money import roubles

    parent = demo.client("parent")
    child = parent.get("/api/v1/family/children").json()[0]
    student = child["student_id"]
    school_today = datetime.now(ZoneInfo(child["time_zone"])).date()
    # The second school day from now: its cut-off (10:00 of the school day before) is ahead.
    ahead = school_days_ahead(parent, student, school_today, 15)
    school = [m for m in ahead[1:] if m["is_school_day"]]
    offered = [m for m in school[1:] if m["sets"]]
    if not offered:  # the winter break and the like: nothing to order within the horizon
        pytest.skip("no school day with a menu in the next two weeks (school holidays)")
    tomorrow = offered[0]
    day = date.fromisoformat(tomorrow["date"])
    # A day the server refuses: today past its cut-off (409), or, on a day without meals,
    # the last school day before (400: the past).
    if ahead[0]["is_school_day"] and ahead[0]["sets"]:
        closed, refused_with = ahead[0], 409
    else:
        behind = school_days_ahead(parent, student, school_today - timedelta(days=10), 10)
        closed, refused_with = [m for m in behind if m["is_school_day"] and m["sets"]][-1], 400
    before = parent.get(f"/api/v1/meals/pupils/{student}/account").json()
    stop_list = parent.get(f"/api/v1/meals/pupils/{student}/buffet").json()["stop_list"]
    assert before["held"] == 0 and before["available"] > 0

    opened = tmp_path / "opened.txt"

    shown = run_app(
        "meals", demo.base, tmp_path / "phone", day - timedelta(days=1), browser=opened,
        login="parent", password=DEMO_PASSWORD, shots=str(shots), closed_day=closed["date"],
    )  # fmt: skip

    # the menu of tomorrow: every set, dish, allergen and price as the server has them
    assert shown["menu_date"] == tomorrow["date"]
    menu_text = "\n".join(shown["menu_texts"])
    for item in tomorrow["sets"]:
        meal = item["meal_set"]
        assert meal["name"] in menu_text and roubles(meal["price"]) in menu_text
        # the set's heading names its meal once («Обед «Борщ и рыба»», not «Обед: Обед «…»»)
        assert meal["title"] == meal["name"] and meal["title"] in shown["menu_texts"]
        assert not any(text.count(meal["kind_name"]) > 1 for text in shown["menu_texts"])
        for dish in meal["dishes"]:
            assert dish["name"] in shown["menu_texts"]
            if dish["allergens"]:
                assert f"Аллергены: {dish['allergen_names']}" in shown["menu_texts"]
    assert shown["balance_before"][0] == f"Доступно: {roubles(before['available'])}"
    # the lunch ordered: the server holds its price, the app shows the hold
    lunch = next(x["meal_set"] for x in tomorrow["sets"] if x["meal_set"]["kind"] == "lunch")
    assert shown["lunch_id"] == lunch["id"]
    orders = parent.get(
        f"/api/v1/meals/pupils/{student}/orders",
        params={"date_from": tomorrow["date"], "date_to": tomorrow["date"]},
    ).json()
    orders = [o for o in orders if o["status"] != "cancelled"]  # (a demo the test ran on before)
    assert [(o["meal_set_id"], o["status"]) for o in orders] == [(lunch["id"], "ordered")]
    after = parent.get(f"/api/v1/meals/pupils/{student}/account").json()
    # a top-up of 500 ₽: its payment page opened in the browser, paid, credited
    payment = parent.get(f"/api/v1/meals/payments/{shown['payment_id']}").json()
    assert payment["amount"] == payment["paid_amount"] == 50_000
    assert payment["status"] == "succeeded", payment
    pages = opened.read_text().split()  # the YooKassa stand-in's payment page, once
    assert len(pages) == 1 and pages[0].endswith(f"/checkout/{payment['provider_payment_id']}")
    assert shown["top_up_message"] == f"Пополнение на {roubles(50_000)}: {payment['status_name']}"
    after = parent.get(f"/api/v1/meals/pupils/{student}/account").json()
    assert after["posted"] == before["posted"] + 50_000
    assert shown["balance_topped_up"][1] == f"На счёте: {roubles(after['posted'])}"
    assert after["held"] == lunch["price"]
    assert after["available"] == after["posted"] - lunch["price"]
    assert shown["balance_after"] == [
        f"Доступно: {roubles(before['available'] - lunch['price'])}",
        f"На счёте: {roubles(before['posted'])}",
        f"В резерве под заказы: {roubles(lunch['price'])}",
    ]
    # (the status alone says «Заказано»: not «Заказано · Заказано»)
    assert f"Ваш заказ · {orders[0]['status_name']}" in shown["ordered_texts"]
    assert not any(text.count("Заказано") > 1 for text in shown["ordered_texts"])
    # Today: tomorrow's order and the balance
    assert (
        f"завтра: {lunch['name']} · {roubles(lunch['price'])} · {orders[0]['status_name']}"
        in shown["today_texts"]
    )
    assert f"Доступно: {roubles(after['available'])}" in shown["today_texts"]
    # a day closed for orders: refused, nothing saved, the server's words on the screen
    again = parent.post(
        f"/api/v1/meals/pupils/{student}/orders",
        json={"date": closed["date"], "meal_set_id": shown["refused_set"]},
    )
    assert again.status_code == refused_with, again.text
    assert shown["refusal"] == again.json()["message"]
    closed_orders = parent.get(
        f"/api/v1/meals/pupils/{student}/orders",
        params={"date_from": closed["date"], "date_to": closed["date"]},
    ).json()
    assert [o for o in closed_orders if o["status"] != "cancelled"] == []
    # the statement: the server's entries with their sums
    statement = parent.get(f"/api/v1/meals/pupils/{student}/statement").json()
    statement_text = "\n".join(shown["statement_texts"])
    seen = [e for e in statement["items"] if e["id"] in set(shown["statement_ids"])]
    # (the standing order's days came after: the screen had the cash, the hold, the card)
    assert len(seen) == len(shown["statement_ids"]) >= 3
    for entry in seen:
        assert f"{entry['kind_name']} · {roubles(entry['amount'], sign=True)}" in statement_text
        assert entry["basis"] and entry["basis"] in statement_text  # «Обед на …», not order:N
    assert "order:" not in statement_text and "payment:" not in statement_text
    # the buffet's rules reached the server
    buffet = parent.get(f"/api/v1/meals/pupils/{student}/buffet").json()
    assert buffet["daily_limit"] == 15_050 and buffet["stop_list"] == sorted(
        [*stop_list, shown["stopped"]]
    )
    assert f"Дневной лимит: {roubles(15_050)}" in shown["buffet_texts"]
    # lunch every school day: what the server booked for each day was shown, then stopped
    standing = parent.get(f"/api/v1/meals/pupils/{student}/standing-orders").json()
    mine = next(o for o in standing if o["id"] == shown["standing_id"])
    assert mine["meal_kind"] == "lunch" and mine["weekdays"] == [1, 2, 3, 4, 5]
    assert mine["active"] is False and mine["days"]
    for d in mine["days"]:
        when = date.fromisoformat(d["date"])
        title = f"{WEEKDAYS[when.weekday()]}, {when.day} {MONTHS[when.month - 1]}"
        assert any(text.startswith(f"{title}: ") for text in shown["standing_texts"]), d
    assert "Обед каждый учебный день — заказывается" in shown["standing_texts"]
    assert shown["standing_stopped"].startswith("Постоянный заказ отменён")
    for name in ("menu", "ordered", "account", "buffet", "standing"):
        png_ok(shown[f"{name}_png"])


def test_a_push_received_is_confirmed_then_settings_link_the_bot_and_grant_a_delegate(
    demo: DemoServer, shots: Path, tmp_path: Path
) -> None:
    token = f"ui-phone-{time.time_ns()}"
    parent = demo.client("parent")
    devices = len(parent.get("/api/v1/messaging/devices").json())
    student = parent.get("/api/v1/family/children").json()[0]["student_id"]
    delegates = {d["id"] for d in parent.get(f"/api/v1/students/{student}/delegates").json()}

    shown = run_app(
        "push_receipt", demo.base, tmp_path / "phone", date.today(), push_token=token,
        login="parent", password=DEMO_PASSWORD, token=token, announcer="coordinator",
        shots=str(shots),
    )  # fmt: skip

    # the app registered this phone at sign-in
    assert len(parent.get("/api/v1/messaging/devices").json()) == devices + 1
    delivery = int(shown["push"]["delivery_id"])
    # the server took the receipt of the push that came to this token, and refused the one
    # naming a delivery never pushed here
    assert shown["receipts"] == [[delivery, 204], [delivery + 1_000_000, 404]]
    # connect Telegram: the server's one-time code is shown (redeemed by the bot in
    # tests/integration/mobile/test_family_data.py; the demo names no bot, so no deep link)
    assert re.fullmatch(
        r"Telegram: отправьте боту код [A-Z2-9]{4}-[A-Z2-9]{4} \(действует до \d\d:\d\d\)\. .+",
        shown["link_message"],
    ), shown["link_message"]
    png_ok(shown["link_png"])
    # the delegate granted with the parts chosen on the screen
    granted = [
        d
        for d in parent.get(f"/api/v1/students/{student}/delegates").json()
        if d["id"] not in delegates
    ]
    assert [d["full_name"] for d in granted] == ["Сабирова Гульнара Ильдаровна"]
    assert sorted(granted[0]["parts"]) == ["access.read", "diary.read"]
    assert shown["delegate_parts"] == ["access.read", "diary.read"]
