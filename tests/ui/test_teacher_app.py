"""The teacher app against a real backend (`parta demo`), rendered offscreen at a landscape
tablet size: the day and the lesson screen match the server; a lesson marked with no network,
across a restart of the app, reaches the server once and the family hears once; a conflicting
change made meanwhile is settled by the teacher and her value wins."""

from __future__ import annotations

import re
import time as time_module
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.ui.conftest import Demo, free_port, run_app, shot_dirs, teaching_day

pytestmark = pytest.mark.ui

STATUS_SHOWN = {"absent": "н", "late": "оп", "sick": "б", "excused": "у"}


def check_png(path: str) -> None:
    with Image.open(path) as image:
        assert image.size == (1280, 800)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    # A black first frame or an empty window has a handful of colours; a drawn screen many.
    assert colours is None or len(colours) > 50, f"{path} looks empty"


def test_the_day_and_the_lesson_show_what_the_server_holds(demo: Demo, tmp_path: Path) -> None:
    day, lessons = teaching_day(demo)
    child = demo.get("parent", "/api/v1/family/children")[0]["student_id"]
    # A lesson without the demo parent's child: the homework sent here must not reach the
    # parent's phone, which the next test counts.
    sheets = [demo.get("teacher", f"/api/v1/journal/lessons/{x['id']}") for x in lessons]
    sheet = next(s for s in sheets if child not in {p["id"] for p in s["pupils"]})
    lesson = next(x for x in lessons if x["id"] == sheet["id"])
    # A colleague's lesson that day, taken over by the demo teacher, shows on her day.
    mine = demo.get("teacher", "/api/v1/me/staff")[0]
    school = mine["school"]
    busy = {x["lesson_number"] for x in lessons}
    colleague = next(
        x
        for x in demo.get("coordinator", f"/api/v1/schools/{school}/lessons",
                          date_from=day.isoformat(), date_to=day.isoformat(), limit=500)["items"]
        if x["teacher"] != mine["id"] and x["lesson_number"] not in busy
        and x["status"] != "cancelled"
    )  # fmt: skip
    demo.post("coordinator", f"/api/v1/schools/{school}/lessons/{colleague['id']}/replacement",
              {"teacher_id": mine["id"]})  # fmt: skip
    # The server's week ahead, and its past week's lessons whose register was not taken.
    around = demo.get("teacher", "/api/v1/me/lessons", limit=500,
                      date_from=(day - timedelta(days=7)).isoformat(),
                      date_to=(day + timedelta(days=7)).isoformat())["items"]  # fmt: skip
    ahead = {x["id"] for x in around if x["date"] > day.isoformat()}
    unmarked = {
        x["id"]
        for x in around
        if x["date"] < day.isoformat() and x["status"] != "cancelled"
        and not demo.get("teacher", f"/api/v1/journal/lessons/{x['id']}")["attendance_taken"]
    }  # fmt: skip
    held = {a["student_id"]: a["status"] for a in sheet["attendance"]}
    undo_pupil = next(p["id"] for p in sheet["pupils"] if p["id"] != child)
    task = tmp_path / "задачи.txt"
    task.write_text("1. 2 + 2\n2. 3 × 3\n", encoding="utf-8")
    out = run_app(
        "screens",
        demo.url,
        tmp_path / "tablet",
        day,
        tmp_path / "result.json",
        login="teacher",
        password="parta-demo",
        lesson_id=lesson["id"],
        shots=shot_dirs(tmp_path),
        mark_for=sheet["pupils"][0]["id"],
        undo_pupil=undo_pupil,
        homework="Задачи 1–5 из файла",
        homework_file=str(task),
    )
    assert {x["id"] for x in lessons} <= set(out["day_lessons"])
    assert "замена" in out["cards"][str(colleague["id"])]
    assert all("замена" not in out["cards"][str(x["id"])] for x in lessons)
    assert set(out["week"]) == ahead and ahead
    assert set(out["unmarked"]) == unmarked
    assert [r["name"] for r in out["roster"]] == [p["name"] for p in sheet["pupils"]]
    assert [r["id"] for r in out["roster"]] == [p["id"] for p in sheet["pupils"]]
    statuses = {a["student_id"]: a["status"] for a in sheet["attendance"]}
    assert {r["id"]: r["status"] for r in out["roster"]} == {
        p["id"]: statuses.get(p["id"], "present") for p in sheet["pupils"]
    }
    marks: dict[int, list[str]] = {}
    for m in sheet["marks"]:
        marks.setdefault(m["student_id"], []).append(m["value"])
    assert {r["id"]: sorted(r["marks"]) for r in out["roster"]} == {
        p["id"]: sorted(marks.get(p["id"], [])) for p in sheet["pupils"]
    }
    assert all(r["state"] == "synced" for r in out["roster"])
    # No photos in the API: each pupil's initials in a circle.
    assert [r["initials"] for r in out["roster"]] == [
        "".join(w[0] for w in p["name"].split()[:2]).upper() for p in sheet["pupils"]
    ]
    assert sheet["subject"] in out["title"]
    assert out["scale"] == ["1", "2", "3", "4", "5"]
    marking = demo.get("teacher", "/api/v1/journal/schools/1/marking")
    assert out["kinds"] == sorted(k["code"] for k in marking["work_kinds"])
    # Undo: the tap is taken back on the tablet, and the server holds what it held.
    before = held.get(undo_pupil, "present")
    assert out["undo"]["before"] == before and out["undo"]["tapped"] != before
    assert out["undo"]["after"] == before and out["undo"]["state"] == "synced"
    now = demo.get("teacher", f"/api/v1/journal/lessons/{lesson['id']}")
    assert {a["student_id"]: a["status"] for a in now["attendance"]}.get(
        undo_pupil, "present"
    ) == before
    # The homework went up with its file, uploaded from the tablet.
    assert out["attach_button"] == "Файл: задачи.txt"
    sent = [h for h in now["homework"] if h["text"] == "Задачи 1–5 из файла"]
    assert len(sent) == 1
    assert [f["file_name"] for f in sent[0]["attachments"]] == ["задачи.txt"]
    for key in ("day_png", "lesson_png", "marks_png"):
        for path in out[key]:
            check_png(path)


def test_a_lesson_marked_offline_reaches_the_server_once_after_a_restart(
    demo: Demo, tmp_path: Path
) -> None:
    child = demo.get("parent", "/api/v1/family/children")[0]["student_id"]
    # The latest lesson of the teacher's with the child and nothing recorded for the child yet
    # (the demo's journal is filled up to today, with random absences and marks); that lesson's
    # day is the tablet's "today".
    today = date.today()
    recent = demo.get("teacher", "/api/v1/me/lessons", limit=500,
                      date_from=(today - timedelta(days=14)).isoformat(),
                      date_to=today.isoformat())["items"]  # fmt: skip
    recent.sort(key=lambda x: (x["date"], x["lesson_number"]), reverse=True)
    sheet = next(
        s
        for s in (
            demo.get("teacher", f"/api/v1/journal/lessons/{x['id']}")
            for x in recent
            if x["status"] != "cancelled"
        )
        if child in {p["id"] for p in s["pupils"]}
        and child not in {a["student_id"] for a in s["attendance"]}
        and child not in {m["student_id"] for m in s["marks"]}
    )
    day = date.fromisoformat(sheet["date"])
    lesson_id = sheet["id"]
    busy = {a["student_id"] for a in sheet["attendance"]} | {
        m["student_id"] for m in sheet["marks"]
    }
    free = [p["id"] for p in sheet["pupils"] if p["id"] not in busy and p["id"] != child]
    assert child not in busy, "the demo child already has a record on this lesson"
    absent = [child, free[0], free[1]]
    late = free[2]
    marks = [[free[3], "5", "answer"], [free[4], "4", "test"]]
    disputed = free[0]  # the coordinator marks this pupil sick while the tablet is offline
    tablet = tmp_path / "tablet"
    shots = shot_dirs(tmp_path)
    pushes_before = _pushes(demo)

    run_app("prepare", demo.url, tablet, day, tmp_path / "r1.json",
            login="teacher", password="parta-demo", lesson_id=lesson_id)  # fmt: skip
    nowhere = f"http://127.0.0.1:{free_port()}"  # the school's Wi-Fi is gone
    offline = run_app("mark_offline", nowhere, tablet, day, tmp_path / "r2.json",
                      lesson_id=lesson_id, absent=absent, late=late, marks=marks)  # fmt: skip
    assert offline["pending"] == 6
    assert offline["lesson_state"] == "local"
    assert offline["online"] is False
    shown = {r["id"]: r for r in offline["roster"]}
    assert [shown[p]["status"] for p in absent] == ["absent"] * 3
    assert shown[late]["status"] == "late"
    assert [shown[p]["marks"] for p, _, _ in marks] == [["5"], ["4"]]
    assert all(shown[p]["state"] == "local" for p in [*absent, late])
    assert _records(demo, lesson_id, [*absent, late]) == []  # nothing reached the server

    # Meanwhile, at school, the coordinator marks one of those pupils sick.
    version = demo.get("coordinator", f"/api/v1/journal/lessons/{lesson_id}")["version"]
    demo.post("coordinator", f"/api/v1/journal/lessons/{lesson_id}/sync", {
        "base_version": version,
        "operations": [{"op_id": "office-1", "kind": "attendance", "student_id": disputed,
                        "status": "sick"}],
    })  # fmt: skip

    back = run_app("come_back", demo.url, tablet, day, tmp_path / "r3.json",
                   lesson_id=lesson_id, shots=shots)  # fmt: skip
    conflict = back["conflict"]
    assert conflict["entity"] == "attendance"
    assert "б" in conflict["server"] and "н" in conflict["mine"]
    # Who changed it and when, as the server names it: the demo coordinator, just now.
    assert "Петрова Елена Викторовна, Школьный координатор" in conflict["who"]
    assert re.search(r"\d\d\.\d\d \d\d:\d\d", conflict["who"]), conflict["who"]
    assert {r["id"]: r["state"] for r in back["roster"]}[disputed] == "conflict"
    # Both values in the cell itself; tapping it opened the choice and changed nothing.
    assert {r["id"]: r["state_text"] for r in back["roster"]}[disputed] == ("сервер б · моё н")
    assert back["tap_changed_nothing"] is True
    assert back["conflicts_left"] == 0
    after = {r["id"]: r for r in back["after"]}
    assert after[disputed]["status"] == "absent" and after[disputed]["state"] == "synced"

    # The server holds each entry once; the teacher's choice won.
    assert sorted(_records(demo, lesson_id, [*absent, late])) == sorted(
        [(p, "absent", None) for p in absent] + [(late, "late", 5)]
    )
    held = demo.query(
        "SELECT student, value FROM mark WHERE lesson=? AND deleted_at IS NULL AND student IN "
        f"({','.join('?' * len(marks))})",
        lesson_id,
        *[p for p, _, _ in marks],
    )
    assert sorted(held) == sorted((p, v) for p, v, _ in marks)
    events = _events(demo, lesson_id)
    assert events == sorted(
        [("attendance.absent", p) for p in absent]
        + [("attendance.absent", disputed)]  # the coordinator's «б»
        + [("attendance.late", late)]
        + [("mark.created", p) for p, _, _ in marks]
    )
    # The family's phone gets the child's absence once.
    deadline = time_module.monotonic() + 60
    while len(_pushes(demo)) == len(pushes_before) and time_module.monotonic() < deadline:
        time_module.sleep(0.5)
    time_module.sleep(3)  # anything sent twice would have arrived by now
    new = _pushes(demo)[len(pushes_before) :]
    assert len(new) == 1, new
    duplicates = demo.query(
        "SELECT event_id, user_id, channel, count(*) FROM delivery GROUP BY 1, 2, 3 "
        "HAVING count(*) > 1"
    )
    assert duplicates == []
    for key in ("conflict_png", "conflict_lesson_png"):
        for path in back[key]:
            check_png(path)


def _records(demo: Demo, lesson_id: int, pupils: list[int]) -> list[tuple[Any, ...]]:
    return demo.query(
        "SELECT student, status, late_minutes FROM attendance_record WHERE lesson=? AND student "
        f"IN ({','.join('?' * len(pupils))})",
        lesson_id,
        *pupils,
    )


def _events(demo: Demo, lesson_id: int) -> list[tuple[str, int]]:
    rows = demo.query(
        "SELECT kind, student_id FROM outbox_event WHERE json_extract(payload, '$.lesson_id')=?",
        lesson_id,
    )
    return sorted((str(k), int(s)) for k, s in rows)


def _pushes(demo: Demo) -> list[dict[str, Any]]:
    import httpx

    received = httpx.get(f"{demo.url}/demo/deliveries.json", timeout=30).json()
    return [p for p in received["push"] if p["token"] == "demo-phone-of-the-parent"]


STATUS_SYMBOL = {"present": "·", **STATUS_SHOWN}
ABSENCES = ("absent", "sick", "excused")


def test_the_class_teacher_sees_the_day_the_week_and_who_is_inside_but_marked_absent(
    demo: Demo, tmp_path: Path
) -> None:
    import json

    import httpx

    from backend.access.ingest import sign

    staff = demo.get("classteacher", "/api/v1/me/staff")[0]
    school = staff["school"]
    classes = demo.get("classteacher", f"/api/v1/schools/{school}/classes")
    own = next(c for c in classes if c["class_teacher"] == staff["id"])
    today = date.today()
    found = demo.get("coordinator", f"/api/v1/schools/{school}/lessons", class_id=own["id"],
                     date_from=(today - timedelta(days=10)).isoformat(),
                     date_to=today.isoformat(), limit=500)["items"]  # fmt: skip
    lessons = [x for x in found if x["status"] != "cancelled" and x["study_group"] is None]
    # The latest school day before today on the school's clock: its lessons have all begun.
    zone = ZoneInfo(demo.query("SELECT time_zone FROM school WHERE id=?", school)[0][0])
    local_today = datetime.now(zone).date().isoformat()
    day = max(x["date"] for x in lessons if x["date"] < local_today)
    todays = sorted((x for x in lessons if x["date"] == day), key=lambda x: x["lesson_number"])
    first = todays[0]
    sheet = demo.get("coordinator", f"/api/v1/journal/lessons/{first['id']}")
    # A pupil with no record in any of the day's lessons (other tests of this module mark some).
    marked = {
        a["student_id"]
        for x in todays
        for a in demo.get("coordinator", f"/api/v1/journal/lessons/{x['id']}")["attendance"]
    }
    pupil = next(p for p in sheet["pupils"] if p["id"] not in marked)
    # The office marks the pupil absent in the first lesson...
    demo.post("coordinator", f"/api/v1/journal/lessons/{first['id']}/sync", {
        "base_version": sheet["version"],
        "operations": [{"op_id": "office-absent-inside", "kind": "attendance",
                        "student_id": pupil["id"], "status": "absent"}],
    })  # fmt: skip
    # ... while the turnstile let them in half an hour before it began.
    starts = time.fromisoformat(first["starts_at"])
    entered = datetime.combine(date.fromisoformat(day), starts, tzinfo=zone) - timedelta(minutes=30)
    point = demo.post("security", f"/api/v1/access/schools/{school}/points",
                      {"name": "Вход", "direction": "in", "lane": 1}, 201)["id"]  # fmt: skip
    gateway = demo.post(
        "security", f"/api/v1/access/schools/{school}/gateways", {"name": "Шлюз"}, 201
    )
    demo.post("security", f"/api/v1/access/schools/{school}/cards", {
        "raw_value": "77,7777", "card_format": "wiegand26", "holder_kind": "student",
        "holder_id": pupil["id"],
    }, 201)  # fmt: skip
    raw = json.dumps({"events": [{
        "device_event_id": "ui-1", "card": "77,7777", "card_format": "wiegand26",
        "access_point_id": point, "direction": "in", "result": "granted",
        "controller_time": entered.isoformat(),
    }]}).encode()  # fmt: skip
    stamp = int(time_module.time())
    sent = httpx.post(f"{demo.url}/api/v1/access/ingest", content=raw, timeout=30, headers={
        "X-Parta-Gateway": str(gateway["id"]), "X-Parta-Timestamp": str(stamp),
        "X-Parta-Signature": sign(gateway["signing_key"], stamp, raw),
        "Content-Type": "application/json",
    })  # fmt: skip
    assert sent.status_code == 200 and sent.json()["stored"] == 1, sent.text

    sheets = [demo.get("coordinator", f"/api/v1/journal/lessons/{x['id']}") for x in todays]
    names = sorted({p["id"]: p["name"] for s in sheets for p in s["pupils"]}.items(),
                   key=lambda item: item[1])  # fmt: skip
    out = run_app("class_view", demo.url, tmp_path / "tablet", date.fromisoformat(day),
                  tmp_path / "result.json", login="classteacher", password="parta-demo",
                  shots=shot_dirs(tmp_path))  # fmt: skip
    assert own["name"] in out["title"]
    listed = [(x["student_id"], x["lesson_id"]) for x in out["absent_inside"]]
    assert (pupil["id"], first["id"]) in listed
    # The whole list is what the server's records say (the demo's own passes, e.g. for the
    # parent's child, and other tests' absences may add pupils): absent in a lesson of the
    # class's pupils that day, and inside by the log 5 minutes into it.
    assert sorted(listed) == _absent_inside(demo, school, day, zone, {p for p, _ in names})
    assert "В здании, но отмечены отсутствующими" in out["inside_text"]
    assert f"{first['lesson_number']}-й урок" in out["inside_text"]
    # The day's table is the server's attendance, lesson by lesson.
    assert out["shown_day"] == day
    status = {(s["id"], a["student_id"]): a["status"] for s in sheets for a in s["attendance"]}
    expected = ["Обучающийся", *[f"{x['lesson_number']}. {x['subject_name']}" for x in todays],
                "Пропуски"]  # fmt: skip
    for pid, name in names:
        row = [STATUS_SYMBOL[status.get((x["id"], pid), "present")] for x in todays]
        missed = sum(1 for x in todays if status.get((x["id"], pid)) in ABSENCES)
        expected += [name, *row, str(missed)]
    assert out["day_cols"] == len(todays) + 2
    assert out["day_cells"] == expected
    assert status[(first["id"], pupil["id"])] == "absent"
    # The week: one column per day from Monday, the pupil's «н» on that day.
    monday = date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())
    days = (date.fromisoformat(day) - monday).days + 1
    assert out["week_cols"] == days + 2
    cells = out["week_cells"]
    at = cells.index(pupil["name"], days + 2)
    assert "н" in cells[at + days].split()
    for key in ("day_png", "week_png"):
        for path in out[key]:
            check_png(path)


class Swallow:
    """Between the app and the server: requests go through, answers never come back (the
    Wi-Fi died after the request left), so the app's batch stays in flight."""

    def __init__(self, server: str) -> None:
        import socket
        from urllib.parse import urlsplit

        parts = urlsplit(server)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[Any] = []
        import threading

        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=30)
            self.held += [client, upstream]
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._drain, args=(upstream,), daemon=True).start()

    @staticmethod
    def _forward(client: Any, upstream: Any) -> None:
        try:
            while chunk := client.recv(65536):
                upstream.sendall(chunk)
        except OSError:
            pass

    @staticmethod
    def _drain(upstream: Any) -> None:
        try:
            while upstream.recv(65536):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for s in [self.listener, *self.held]:
            s.close()


def test_a_tablet_killed_with_its_batch_in_flight_sends_it_once_on_restart(
    demo: Demo, tmp_path: Path
) -> None:
    import json
    import os
    import sqlite3
    import subprocess
    import sys

    from tests.ui.conftest import ROOT

    day, lessons = teaching_day(demo)
    child = demo.get("parent", "/api/v1/family/children")[0]["student_id"]
    sheet = demo.get("teacher", f"/api/v1/journal/lessons/{lessons[-1]['id']}")
    lesson_id = sheet["id"]
    # Pupils with nothing on this lesson yet (other tests of the module share the demo).
    busy = {a["student_id"] for a in sheet["attendance"]} | {
        m["student_id"] for m in sheet["marks"]
    }
    absent = [p["id"] for p in sheet["pupils"] if p["id"] not in busy and p["id"] != child][:3]
    tablet = tmp_path / "tablet"
    run_app("prepare", demo.url, tablet, day, tmp_path / "r1.json",
            login="teacher", password="parta-demo", lesson_id=lesson_id)  # fmt: skip

    swallow = Swallow(demo.url)
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_"))}
    env.pop("DISPLAY", None)
    env.update(
        PARTA_SERVER=swallow.url, PARTA_TEACHER_DATA=str(tablet), PARTA_TODAY=day.isoformat(),
        PARTA_SYNC_INTERVAL="0.5",
        PARTA_SCENARIO_ARGS=json.dumps(
            {"lesson_id": lesson_id, "absent": absent, "ready": str(ready)}
        ),
    )  # fmt: skip
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.run_app", "tap_and_hang", str(tmp_path / "r2.json")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time_module.monotonic() + 240
        while not ready.exists():
            assert app.poll() is None, (tmp_path / "r2.json").read_text(encoding="utf-8")
            assert time_module.monotonic() < deadline, "the app never sent its batch"
            time_module.sleep(0.2)
        # The server applied the batch; its answer is lost on the way back. Then the app dies.
        while len(_records(demo, lesson_id, absent)) < len(absent):
            assert time_module.monotonic() < deadline, "the batch never reached the server"
            time_module.sleep(0.2)
        app.kill()
        app.wait(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
        swallow.close()
    with sqlite3.connect(tablet / "teacher.sqlite") as db:
        left = db.execute(
            "SELECT state = 'sending' OR maybe_sent = 1 FROM outbox WHERE lesson_id=?",
            (lesson_id,),
        ).fetchall()
    # Every tap is still on the tablet, known to be in flight (or, had the client's own
    # timeout come first, marked as maybe sent): none may be dropped or compacted away.
    assert left == [(1,)] * len(absent)

    out = run_app("settle", demo.url, tablet, day, tmp_path / "r3.json", lesson_id=lesson_id)
    assert out["pending"] == 0
    shown = {r["id"]: r for r in out["roster"]}
    assert [(shown[p]["status"], shown[p]["state"]) for p in absent] == [
        ("absent", "synced")
    ] * len(absent)
    # Sent twice (before the kill and after the restart), held once.
    assert sorted(_records(demo, lesson_id, absent)) == sorted((p, "absent", None) for p in absent)
    absences = [
        (k, s) for k, s in _events(demo, lesson_id) if s in absent and k.startswith("attendance.")
    ]
    assert absences == sorted(("attendance.absent", p) for p in absent)


def _absent_inside(
    demo: Demo, school: int, day: str, zone: ZoneInfo, pupils: set[int]
) -> list[tuple[int, int]]:
    """From the demo's tables: the pupils marked absent in a lesson of `day` whose last
    granted pass before 5 minutes into it was an entry."""
    starts = {
        x["id"]: x["starts_at"]
        for x in demo.get("coordinator", f"/api/v1/schools/{school}/lessons",
                          date_from=day, date_to=day, limit=500)["items"]
        if x["starts_at"] and x["status"] != "cancelled"
    }  # fmt: skip
    passes = demo.query(
        "SELECT holder_id, direction, occurred_at FROM access_event WHERE holder_kind='student'"
        " AND local_date=? AND result='granted' ORDER BY occurred_at, id",
        day,
    )
    found = []
    for student, lesson in demo.query(
        "SELECT student, lesson FROM attendance_record WHERE lesson_date=? AND status='absent'",
        day,
    ):
        if student not in pupils or lesson not in starts:
            continue
        moment = datetime.combine(
            date.fromisoformat(day), time.fromisoformat(starts[lesson]), tzinfo=zone
        ) + timedelta(minutes=5)
        last = [d for h, d, at in passes if h == student and datetime.fromisoformat(at) <= moment]
        if last and last[-1] == "in":
            found.append((student, lesson))
    return sorted(found)
