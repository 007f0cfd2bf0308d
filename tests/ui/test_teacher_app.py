"""The teacher app against a real backend (`parta demo`), rendered offscreen at a landscape
tablet size: the day and the lesson screen match the server; a lesson marked with no network,
across a restart of the app, reaches the server once and the family hears once; a conflicting
change made meanwhile is settled by the teacher and her value wins."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

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
    lesson = lessons[0]
    sheet = demo.get("teacher", f"/api/v1/journal/lessons/{lesson['id']}")
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
    )
    assert {x["id"] for x in lessons} <= set(out["day_lessons"])
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
    assert sheet["subject"] in out["title"]
    assert out["scale"] == ["1", "2", "3", "4", "5"]
    marking = demo.get("teacher", "/api/v1/journal/schools/1/marking")
    assert out["kinds"] == sorted(k["code"] for k in marking["work_kinds"])
    for key in ("day_png", "lesson_png", "marks_png"):
        for path in out[key]:
            check_png(path)


def test_a_lesson_marked_offline_reaches_the_server_once_after_a_restart(
    demo: Demo, tmp_path: Path
) -> None:
    day, lessons = teaching_day(demo)
    child = demo.get("parent", "/api/v1/family/children")[0]["student_id"]
    sheet = next(
        s
        for s in (demo.get("teacher", f"/api/v1/journal/lessons/{x['id']}") for x in lessons)
        if child in {p["id"] for p in s["pupils"]}
    )
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
    deadline = time.monotonic() + 60
    while len(_pushes(demo)) == len(pushes_before) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # anything sent twice would have arrived by now
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
