"""Final marks: proposed from the weighted average, confirmed or overridden, locked when closed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from backend.events.tables import OutboxEvent
from backend.schools.tables import StudyPeriod
from tests.conftest import Backend
from tests.integration.journal.arrange import make_journal_world, mark, today


async def test_period_mark_is_proposed_confirmed_and_locked(world: Backend) -> None:
    jw = await make_journal_world(world)
    period = StudyPeriod(
        academic_year=jw.year_id,
        kind="quarter",
        number=2,
        name="2 четверть",
        starts_on=today() - timedelta(days=40),
        ends_on=today() + timedelta(days=5),
        grades=[],
    )
    await period.save()
    pupil = jw.pupils[0]
    ops = [mark(uuid.uuid4().hex, pupil, "5"), mark(uuid.uuid4().hex, pupil, "4", work_kind="test")]
    response = await world.client.post(
        f"/api/v1/journal/lessons/{jw.lessons['today']}/sync",
        json={"operations": ops},
        headers=jw.teacher.headers,
    )
    assert response.status_code == 200
    url = f"/api/v1/journal/classes/{jw.class_id}/final-marks"
    query = f"?subject_id={jw.subject_id}&kind=period&study_period_id={period.id}"
    sheet = await world.client.get(url + query, headers=jw.teacher.headers)
    assert sheet.status_code == 200, sheet.text
    row = next(r for r in sheet.json()["rows"] if r["student_id"] == pupil)
    assert row["weighted_average"] == 4.33 and row["proposed"] == "4" and row["value"] is None
    body = {
        "student_id": pupil,
        "subject_id": jw.subject_id,
        "kind": "period",
        "study_period_id": period.id,
        "value": "5",
    }
    saved = await world.client.post(url, json=body, headers=jw.teacher.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["proposed"] == "4" and saved.json()["value"] == "5"
    assert await OutboxEvent.count().where(OutboxEvent.kind == "final_mark.set") == 1
    stale = await world.client.post(
        url, json={**body, "value": "4", "base_version": 0}, headers=jw.teacher.headers
    )
    assert stale.status_code == 409
    await StudyPeriod.update({StudyPeriod.closed_at: datetime.now(UTC)}).where(
        StudyPeriod.id == period.id
    )
    locked = await world.client.post(
        url, json={**body, "value": "4"}, headers=jw.coordinator.headers
    )
    assert locked.status_code == 409 and locked.json()["error"] == "period_closed"
