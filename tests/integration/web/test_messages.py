"""The staff web's messages page (/admin/web/messages) through the real app: an announcement
to the school goes to the outbox through the messaging service, the delivery statistics and
the dead letters are the API's, a dead letter is replayed; bad input gets the API's Russian
message and nothing is sent; CSRF and rights (a teacher, a guardian, a pupil are refused)."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.core.rights import Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.messaging.tables import Delivery
from tests.conftest import Backend
from tests.integration.web.test_year_timetable import csrf, signed_in
from tests.support import grant, make_tenancy, sign_in, staff_account


async def _delivery(school_id: int, status: str, channel: str = "telegram", parts: int = 0) -> int:
    now = datetime.now(UTC)
    event = await Delivery.count() + 1
    row = Delivery(
        notification_id=event,
        event_id=event,
        user_id=77,
        school_id=school_id,
        channel=channel,
        status=status,
        reason="chat not found" if status == "failed" else "",
        attempts=5 if status == "failed" else 1,
        dead=status == "failed",
        parts=parts,
        created_at=now,
        updated_at=now,
    )
    await row.save()
    return int(row.id)


async def test_announce_stats_dead_letters_and_replay(world: Backend) -> None:
    ids = await make_tenancy(world)
    school = ids["school_a"]
    coordinator = await staff_account(world, Role.SCHOOL_COORDINATOR, school)
    failed = await _delivery(school, "failed")
    await _delivery(school, "delivered", "push")
    await _delivery(school, "delivered", "sms", parts=2)
    await _delivery(school, "delivered", "sms", parts=3)
    await _delivery(ids["school_b"], "failed")  # another school's: not shown
    url = f"/admin/web/messages?school={school}"
    async with signed_in(world, coordinator, url) as client:
        r = await client.get(url)
        assert r.status_code == 200, r.text
        assert "Недоставленные уведомления: 1" in r.text and "chat not found" in r.text
        assert "<td>push-уведомление</td><td>доставлено</td><td>1</td><td></td>" in r.text
        assert "<td>SMS</td><td>доставлено</td><td>2</td><td>5</td>" in r.text

        events = await OutboxEvent.count()
        form = {
            "csrf": csrf(client),
            "what": "announce",
            "title": "Собрание",
            "text": "В четверг в 18:00.",
        }
        r = await client.post(url, data={**form, "title": ""})
        assert r.status_code == 400 and "Поле «заголовок» не может быть пустым." in r.text, r.text
        assert 'value="" ' not in r.text and "В четверг в 18:00." in r.text  # the text kept
        r = await client.post(url, data={k: v for k, v in form.items() if k != "csrf"})
        assert r.status_code == 403
        assert await OutboxEvent.count() == events  # nothing sent
        r = await client.post(url, data=form)
        assert r.status_code == 303, r.text
        assert "Объявление отправлено" in (await client.get(r.headers["location"])).text
        (event,) = (
            await OutboxEvent.select(OutboxEvent.kind, OutboxEvent.payload)
            .where(OutboxEvent.kind == "announcement.created")
            .output(load_json=True)
        )
        assert event["payload"]["title"] == "Собрание" and event["payload"]["school_id"] == school

        r = await client.post(
            url, data={"csrf": csrf(client), "what": "replay", "delivery_id": failed}
        )
        assert r.status_code == 303, r.text
        (row,) = await Delivery.select(Delivery.status, Delivery.dead).where(Delivery.id == failed)
        assert row == {"status": "queued", "dead": False}
        # A delivery that has not failed is not replayed: the service's message.
        r = await client.post(
            url, data={"csrf": csrf(client), "what": "replay", "delivery_id": failed}
        )
        assert (
            r.status_code == 400
            and "Повторить можно только доставку, которая не удалась." in r.text
        )


async def test_rights_on_messages(world: Backend) -> None:
    ids = await make_tenancy(world)
    school = ids["school_a"]
    failed = await _delivery(school, "failed")
    url = f"/admin/web/messages?school={school}"
    guardian = await sign_in(world, grant(Role.GUARDIAN, ScopeKind.STUDENT, 1))
    pupil = await sign_in(world, grant(Role.PUPIL, ScopeKind.STUDENT, 1))
    teacher = await staff_account(world, Role.TEACHER, school)
    other = await staff_account(world, Role.SCHOOL_COORDINATOR, ids["school_b"])
    for who, words in (
        (guardian, "только сотрудникам школы"),
        (pupil, "только сотрудникам школы"),
        (teacher, "Сообщения школы ведут завуч и администратор"),
    ):
        async with signed_in(world, who, url) as client:
            r = await client.get(url)
            assert r.status_code == 403 and words in r.text
            assert "chat not found" not in r.text
            r = await client.post(
                url, data={"csrf": csrf(client), "what": "replay", "delivery_id": failed}
            )
            assert r.status_code == 403
    async with signed_in(world, other, url) as client:
        r = await client.get(url)  # another school's coordinator
        assert r.status_code == 403 and "chat not found" not in r.text
        r = await client.post(
            url, data={"csrf": csrf(client), "what": "replay", "delivery_id": failed}
        )
        assert r.status_code == 403
    (row,) = await Delivery.select(Delivery.status).where(Delivery.id == failed)
    assert row["status"] == "failed"
