"""A parent reports the child ill from the family app: kept, audited, the school hears of it
(an outbox event), everyone reading the child's diary sees it; nobody else may report or
read, and bad dates are refused naming the field."""

from __future__ import annotations

from datetime import timedelta

from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.journal.tables import IllnessReport
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world, today
from tests.support import sign_in


def url(student_id: int) -> str:
    return f"/api/v1/diary/students/{student_id}/illness"


async def test_a_parent_reports_the_child_ill_and_the_school_hears(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    parent = await guardian_of(world, pupil)
    body = {
        "date_from": str(today()),
        "date_to": str(today() + timedelta(days=2)),
        "comment": "Температура, врач на дому",
    }
    made = await world.client.post(url(pupil), json=body, headers=parent.headers)
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["student_id"] == pupil and report["date_to"] == body["date_to"]
    assert await IllnessReport.count().where(IllnessReport.student == pupil) == 1
    event = await OutboxEvent.select().where(OutboxEvent.kind == "illness.reported").first()
    assert event is not None and event["student_id"] == pupil
    audit = await AuditEntry.select().where(AuditEntry.object_type == "illness_report").first()
    assert audit is not None and audit["actor_user_id"] == parent.user_id
    # the pupil and the class's readers see it; the parent too
    itself = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, pupil))
    for who in (parent, itself):
        listed = await world.client.get(url(pupil), headers=who.headers)
        assert listed.status_code == 200
        assert [r["id"] for r in listed.json()] == [report["id"]]


async def test_only_the_childs_guardian_may_report(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil, other = jw.pupils[0], jw.pupils[1]
    body = {"date_from": str(today()), "date_to": str(today())}
    itself = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, pupil))
    refused = await world.client.post(url(pupil), json=body, headers=itself.headers)
    assert refused.status_code == 403
    assert "родитель" in refused.json()["message"]
    stranger = await guardian_of(world, other)
    hidden = await world.client.post(url(pupil), json=body, headers=stranger.headers)
    assert hidden.status_code == 404  # another family's child does not exist for them
    assert (await world.client.get(url(pupil), headers=stranger.headers)).status_code == 404
    assert await IllnessReport.count() == 0


async def test_bad_dates_are_refused_naming_the_field(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    parent = await guardian_of(world, pupil)
    cases = [
        ({"date_from": str(today()), "date_to": str(today() - timedelta(days=1))}, "date_to"),
        ({"date_from": str(today()), "date_to": str(today() + timedelta(days=40))}, "date_to"),
        (
            {"date_from": str(today() - timedelta(days=30)), "date_to": str(today())},
            "date_from",
        ),
    ]
    for body, field in cases:
        refused = await world.client.post(url(pupil), json=body, headers=parent.headers)
        assert refused.status_code == 400, refused.text
        assert refused.json()["details"][0]["field"] == field
    missing = await world.client.post(
        url(pupil), json={"date_to": str(today())}, headers=parent.headers
    )
    assert missing.status_code == 400
    assert "дата начала" in missing.json()["message"]
    assert await IllnessReport.count() == 0
