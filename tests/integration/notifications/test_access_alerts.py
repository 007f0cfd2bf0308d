"""Entry alerts through the worker: refused cards reach the school's security staff (and only
them); a re-entry (`access.passed`) reaches only a family that asked for every pass."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.core.db import transaction
from backend.events.services import emit
from backend.events.tables import OutboxEvent
from backend.messaging.tables import Delivery, DeviceToken, Notification, NotificationPreference
from backend.schools.tables import School
from tests.integration.access.arrange import turnstiles
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import make_family, wait_for
from tests.support import staff_record


async def test_refused_cards_reach_the_schools_security_staff(notify: Notify) -> None:
    t = await turnstiles(notify.world, pupils=1)
    # The worker's clock stands at midday in Moscow (tests/integration/notifications/conftest).
    await School.update({School.time_zone: "Europe/Moscow"}).where(School.id == t.school_id)
    await staff_record(
        t.school_id, "Охранов", "Пётр", user_id=t.security.user_id, positions=("security",)
    )
    now = datetime.now(UTC)
    token = f"fcm-security-{notify.world.unique('t')}"
    await DeviceToken(
        user_id=t.security.user_id, token=token, created_at=now, last_seen_at=now
    ).save()
    family = await make_family(notify.world, school_id=t.school_id, channels=["push"])
    await notify.start()
    posted = await t.post([t.event(None, now, card="200,200", result="denied")])
    assert posted.status_code == 200, posted.text
    event_id = (
        await OutboxEvent.select(OutboxEvent.id)
        .where(OutboxEvent.kind == "access.card_refused")
        .first()
    )

    async def pushed() -> bool:
        return any(i["token"] == token for i in notify.standins.fcm.received.items)

    await wait_for(pushed)
    rows = await Delivery.select(Delivery.user_id, Delivery.status).where(
        Delivery.event_id == event_id["id"]
    )
    assert {r["user_id"] for r in rows} == {t.security.user_id}  # not the family
    assert family.token not in {i["token"] for i in notify.standins.fcm.received.items}
    note = (
        await Notification.select(Notification.title, Notification.body)
        .where(Notification.user_id == t.security.user_id)
        .first()
    )
    assert note["title"] == "Отказ в проходе по карте"
    assert "неизвестная карта" in note["body"] and "200,200" in note["body"]

    # A gateway whose controllers' clock runs seven minutes fast: security hears of it too.
    skewed = datetime.now(UTC) + timedelta(minutes=7)
    assert (await t.post([], sent_at=skewed)).status_code == 200

    async def told() -> bool:
        return bool(
            await Notification.count().where(
                (Notification.user_id == t.security.user_id)
                & (Notification.kind == "access.clock_skew")
            )
        )

    await wait_for(told)
    skew_note = (
        await Notification.select(Notification.body)
        .where(Notification.kind == "access.clock_skew")
        .first()
    )
    assert "Шлюз" in skew_note["body"] and " с." in skew_note["body"]
    assert await Notification.count().where(Notification.user_id == family.user_id) == 0


async def passed(school_id: int, student_id: int) -> int:
    async with transaction():
        return await emit(
            "access.passed",
            {"student_id": student_id, "time": "12:40", "date": "2026-11-20"},
            school_id=school_id,
            student_id=student_id,
        )


async def test_a_re_entry_reaches_only_a_family_that_asked_for_every_pass(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["push"])
    await notify.start()
    quiet = await passed(family.school_id, family.student_id)
    # A mark after it (the relay takes events in order): once its push is out, and a moment
    # more, the re-entry before it has been fanned out too.
    async with transaction():
        mark = await emit(
            "mark.created",
            {"student_id": family.student_id, "subject": "Физика", "value": "5"},
            school_id=family.school_id,
            student_id=family.student_id,
        )
    await wait_for(lambda: notify.standins.fcm.received.items)
    assert await Delivery.count().where(Delivery.event_id == mark) == 1
    await asyncio.sleep(0.5)
    # Not asked for: no delivery, and not even in the inbox.
    assert await Delivery.count().where(Delivery.event_id == quiet) == 0
    assert await Notification.count().where(Notification.event_id == quiet) == 0
    notify.standins.fcm.received.clear()

    await NotificationPreference(
        user_id=family.user_id,
        kind="access.passed",
        student_id=0,
        channels=["push"],
        updated_at=datetime.now(UTC) - timedelta(seconds=1),
    ).save()
    wanted = await passed(family.school_id, family.student_id)
    await wait_for(lambda: notify.standins.fcm.received.items)
    assert [i["token"] for i in notify.standins.fcm.received.items] == [family.token]
    assert await Delivery.count().where(Delivery.event_id == wanted) == 1
