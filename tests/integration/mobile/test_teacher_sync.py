"""The teacher app's offline store and sync engine against the real backend: actions saved on
the tablet while the network is down reach the server once after a restart; answers lost on
the way are safe to resend; the server's changes never overwrite unsent cells; conflicts wait
for the teacher and the chosen value wins."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from backend.events.tables import OutboxEvent
from backend.journal.tables import AttendanceRecord, Mark
from mobile.common.api import ApiClient, MemoryTokens
from mobile.teacher.store import CONFLICT, LOCAL, SYNCED, Db, Store
from mobile.teacher.sync import SyncEngine
from tests.conftest import Backend
from tests.integration.journal.arrange import JournalWorld, make_journal_world
from tests.integration.mobile.test_client import _session_of, transport


class Network(httpx.AsyncBaseTransport):
    """The school's Wi-Fi: up, down, or up but losing the answers of sync calls."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.up = True
        self.lose_sync_answers = False
        self.syncs = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("network is unreachable", request=request)
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/sync"):
            self.syncs += 1
            if self.lose_sync_answers:
                raise httpx.ReadError("connection reset", request=request)
        return response


async def tablet(world: Backend, jw: JournalWorld, path: Path, network: Network) -> SyncEngine:
    api = ApiClient("http://parta.test", MemoryTokens(), transport=network, retries=0)
    api.tokens.save(_session_of(jw.teacher))
    return SyncEngine(api, Db(Store(path)))


async def close(engine: SyncEngine) -> None:
    await engine.api.aclose()
    engine.db.close()


async def events_of(lesson_id: int) -> list[tuple[str, int]]:
    rows = await OutboxEvent.select(OutboxEvent.kind, OutboxEvent.student_id, OutboxEvent.payload)
    out = []
    for row in rows:
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        if payload.get("lesson_id") == lesson_id:
            out.append((row["kind"], row["student_id"]))
    return sorted(out)


async def test_marks_made_offline_reach_the_server_once_after_a_restart(
    world: Backend, tmp_path: Path
) -> None:
    jw = await make_journal_world(world, pupils=6)
    lesson = jw.lessons["today"]
    network = Network(transport(world))
    engine = await tablet(world, jw, tmp_path / "t.sqlite", network)
    await engine.pull_lesson(lesson)
    store = engine.db.store
    network.up = False
    p = jw.pupils
    for pupil in p[:3]:
        store.set_attendance(lesson, pupil, "absent")
    store.set_attendance(lesson, p[3], "late", 5)
    store.add_mark(lesson, p[4], "5", "answer")
    store.add_mark(lesson, p[5], "4", "test", "устно")
    outcome = await engine.sync_all()
    assert outcome.offline and outcome.sent == 0
    assert store.lesson_state(lesson) == LOCAL
    await close(engine)  # the app is closed
    network.up = True
    engine = await tablet(world, jw, tmp_path / "t.sqlite", network)  # and started again
    store = engine.db.store
    assert store.pending_count(lesson) == 6
    network.lose_sync_answers = True  # the first call is applied but its answer is lost
    outcome = await engine.sync_all()
    assert outcome.offline
    network.lose_sync_answers = False
    outcome = await engine.sync_all()
    assert outcome.sent == 6 and outcome.applied == 0  # every operation answered 'repeat'
    assert store.pending_count() == 0
    assert store.lesson_state(lesson) == SYNCED
    records = await AttendanceRecord.select(
        AttendanceRecord.student, AttendanceRecord.status
    ).where(AttendanceRecord.lesson == lesson)
    assert sorted((r["student"], r["status"]) for r in records) == sorted(
        [(x, "absent") for x in p[:3]] + [(p[3], "late")]
    )
    marks = await Mark.select(Mark.student, Mark.value).where(Mark.lesson == lesson)
    assert sorted((m["student"], m["value"]) for m in marks) == sorted([(p[4], "5"), (p[5], "4")])
    assert await events_of(lesson) == sorted(
        [("attendance.absent", x) for x in p[:3]]
        + [("attendance.late", p[3]), ("mark.created", p[4]), ("mark.created", p[5])]
    )
    assert network.syncs == 2
    cells = {c.student_id: c for c in store.roster(lesson)}
    assert cells[p[3]].status == "late" and cells[p[3]].late_minutes == 5
    assert [m["value"] for m in cells[p[5]].marks] == ["4"]
    await close(engine)


async def test_a_tap_taken_back_before_sending_sends_nothing(
    world: Backend, tmp_path: Path
) -> None:
    jw = await make_journal_world(world, pupils=2)
    lesson = jw.lessons["today"]
    engine = await tablet(world, jw, tmp_path / "t.sqlite", Network(transport(world)))
    await engine.pull_lesson(lesson)
    store = engine.db.store
    store.set_attendance(lesson, jw.pupils[0], "absent")
    store.set_attendance(lesson, jw.pupils[0], "late", 5)
    assert store.pending_count(lesson) == 1  # one operation per cell waits
    store.set_attendance(lesson, jw.pupils[0], "present")
    assert store.pending_count(lesson) == 0
    client_id = store.add_mark(lesson, jw.pupils[1], "3", "answer")
    store.change_mark(client_id, value="4")
    assert store.undo(lesson)  # back to 3
    assert store.pending_count(lesson) == 1
    assert store.undo(lesson)  # the mark goes
    assert store.pending_count(lesson) == 0
    assert store.undo(lesson) and store.undo(lesson) and store.undo(lesson)
    assert not store.undo(lesson)
    assert store.pending_count(lesson) == 0
    outcome = await engine.sync_all()
    assert outcome.sent == 0
    assert await events_of(lesson) == []
    await close(engine)


async def test_changes_from_elsewhere_never_overwrite_unsent_cells(
    world: Backend, tmp_path: Path
) -> None:
    jw = await make_journal_world(world, pupils=3)
    lesson = jw.lessons["today"]
    network = Network(transport(world))
    engine = await tablet(world, jw, tmp_path / "t.sqlite", network)
    await engine.pull_lesson(lesson)
    store = engine.db.store
    p = jw.pupils
    store.set_attendance(lesson, p[0], "absent")  # waits on the tablet
    # Meanwhile the coordinator marks two pupils from the web.
    await coordinator_sync(
        world,
        jw,
        lesson,
        [
            {"op_id": uuid.uuid4().hex, "kind": "attendance", "student_id": p[0], "status": "sick"},
            {"op_id": uuid.uuid4().hex, "kind": "attendance", "student_id": p[1], "status": "sick"},
        ],
    )
    await engine.pull_lesson(lesson)
    cells = {c.student_id: c for c in store.roster(lesson)}
    assert cells[p[0]].status == "absent" and cells[p[0]].state == LOCAL  # the teacher's own
    assert cells[p[1]].status == "sick" and cells[p[1]].state == SYNCED  # came down
    await close(engine)


async def coordinator_sync(
    world: Backend, jw: JournalWorld, lesson: int, ops: list[dict[str, Any]]
) -> dict[str, Any]:
    sheet = await world.client.get(
        f"/api/v1/journal/lessons/{lesson}", headers=jw.coordinator.headers
    )
    response = await world.client.post(
        f"/api/v1/journal/lessons/{lesson}/sync",
        json={"operations": ops, "base_version": sheet.json()["version"]},
        headers=jw.coordinator.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_conflict_is_shown_with_both_values_and_the_teachers_choice_wins(
    world: Backend, tmp_path: Path
) -> None:
    jw = await make_journal_world(world, pupils=2)
    lesson = jw.lessons["today"]
    network = Network(transport(world))
    engine = await tablet(world, jw, tmp_path / "t.sqlite", network)
    store = engine.db.store
    await engine.pull_lesson(lesson)
    p = jw.pupils
    client_id = store.add_mark(lesson, p[0], "4", "answer")
    store.set_attendance(lesson, p[1], "absent")
    await engine.sync_all()
    network.up = False
    store.change_mark(client_id, value="5")  # offline
    store.set_attendance(lesson, p[1], "late", 10)
    mark_id = store.roster(lesson)[0].marks[0]["server_id"]
    await coordinator_sync(
        world,
        jw,
        lesson,
        [
            {"op_id": uuid.uuid4().hex, "kind": "mark", "mark_id": mark_id, "value": "3"},
            {"op_id": uuid.uuid4().hex, "kind": "attendance", "student_id": p[1], "status": "sick"},
        ],
    )
    network.up = True
    outcome = await engine.sync_all()
    assert outcome.conflicts == 2
    conflicts = {c["entity"]: c for c in store.conflicts(lesson)}
    assert conflicts["mark"]["server"]["value"] == "3"
    assert conflicts["mark"]["client"]["value"] == "5"
    assert conflicts["mark"]["who"].startswith("Тестовый Пользователь")
    assert conflicts["mark"]["at"]
    assert conflicts["attendance"]["server"]["status"] == "sick"
    # The server names who changed each cell and when (the coordinator, just now).
    assert conflicts["attendance"]["who"] == "Тестовый Пользователь, Школьный координатор"
    assert conflicts["mark"]["who"] == "Тестовый Пользователь, Школьный координатор"
    for c in conflicts.values():
        moment = datetime.fromisoformat(c["at"])
        assert abs((datetime.now(UTC) - moment).total_seconds()) < 60
    assert {c.student_id: c.state for c in store.roster(lesson)} == {
        p[0]: CONFLICT,
        p[1]: CONFLICT,
    }
    store.resolve(conflicts["mark"]["op_id"], keep_mine=True)
    store.resolve(conflicts["attendance"]["op_id"], keep_mine=False)
    outcome = await engine.sync_all()
    assert outcome.conflicts == 0 and outcome.applied == 1
    assert store.pending_count() == 0 and store.conflicts() == []
    value = await Mark.select(Mark.value).where(Mark.id == mark_id).first()
    assert value is not None and value["value"] == "5"
    status = (
        await AttendanceRecord.select(AttendanceRecord.status)
        .where((AttendanceRecord.lesson == lesson) & (AttendanceRecord.student == p[1]))
        .first()
    )
    assert status is not None and status["status"] == "sick"
    cells = {c.student_id: c for c in store.roster(lesson)}
    assert cells[p[1]].status == "sick" and cells[p[1]].state == SYNCED
    assert [m["value"] for m in cells[p[0]].marks] == ["5"]
    await close(engine)


async def test_an_operation_the_server_refuses_is_set_aside_and_the_rest_go(
    world: Backend, tmp_path: Path
) -> None:
    jw = await make_journal_world(world, pupils=2)
    lesson = jw.lessons["today"]
    engine = await tablet(world, jw, tmp_path / "t.sqlite", Network(transport(world)))
    await engine.pull_lesson(lesson)
    store = engine.db.store
    store.add_mark(lesson, jw.pupils[0], "7", "answer")  # not on the five-point scale
    store.set_attendance(lesson, jw.pupils[1], "absent")
    outcome = await engine.sync_all()
    assert outcome.rejected == 1 and outcome.applied == 1
    cells = {c.student_id: c for c in store.roster(lesson)}
    assert cells[jw.pupils[0]].state == "failed"
    assert cells[jw.pupils[1]].state == SYNCED
    assert any("а" <= ch <= "я" for ch in outcome.errors[0])
    await close(engine)
