"""Quiet hours, digests, dead tokens, retry-after, SMS parts, e-mail, consent, fallback."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from backend.core.db import transaction
from backend.events.services import emit
from backend.events.tables import OutboxEvent
from backend.messaging.tables import Delivery, DeviceToken, Notification, NotificationPreference
from backend.schools.tables import Consent
from notifications.channels.base import Outgoing
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import emit_mark, make_family, sign_in_as, wait_for


async def deliveries(event_id: int) -> list[dict]:
    return await Delivery.select().where(Delivery.event_id == event_id).order_by(Delivery.id)


async def test_quiet_hours_hold_a_mark_until_seven(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["push"], time_zone="Europe/Moscow")
    notify.clock.fixed = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    worker = await notify.start()
    event_id = await emit_mark(family)

    async def waiting() -> bool:
        rows = await deliveries(event_id)
        return bool(rows) and rows[0]["status"] == "waiting"

    await wait_for(waiting)
    row = (await deliveries(event_id))[0]
    assert row["scheduled_for"] == datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # 07:00 Moscow

    async def scheduled() -> bool:  # the delivery job waits in the queue's schedule
        return (await worker.queue.info())["scheduled"] == 1

    await wait_for(scheduled)
    # A job that fires early (a clock skew) does not send either.
    notify.clock.fixed = datetime(2026, 11, 21, 3, 59, tzinfo=UTC)
    assert await worker.pipeline.deliver(row["id"]) == "not yet"
    assert notify.standins.fcm.received.items == []
    # At 07:00 it goes.
    notify.clock.fixed = datetime(2026, 11, 21, 4, 0, 1, tzinfo=UTC)
    assert await worker.pipeline.deliver(row["id"]) == "sent"
    assert len(notify.standins.fcm.received.items) == 1


async def test_urgent_passes_quiet_hours(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["push"], time_zone="Europe/Moscow")
    notify.clock.fixed = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # 03:00 in Moscow
    await notify.start()
    async with transaction():
        await emit(
            "announcement.created",
            {
                "school_id": family.school_id,
                "title": "Школа закрыта",
                "text": "Авария.",
                "urgent": True,
            },
            school_id=family.school_id,
        )
    await wait_for(lambda: notify.standins.fcm.received.items)


async def test_digest_gathers_a_day(notify: Notify) -> None:
    family = await make_family(
        notify.world,
        channels=["email"],
        prefs={"mode": "digest", "digest_at": "19:00"},
        time_zone="Europe/Moscow",
    )
    notify.clock.fixed = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
    worker = await notify.start()
    ids = [
        await emit_mark(family, value=v, subject=s)
        for v, s in (("5", "Математика"), ("4", "Русский язык"), ("3", "История"))
    ]

    async def gathered() -> bool:
        rows = await Delivery.select().where(Delivery.event_id.is_in(ids))
        return len(rows) == 3 and all(r["status"] == "digest" for r in rows)

    await wait_for(gathered)
    rows = await Delivery.select().where(Delivery.event_id.is_in(ids))
    assert {r["scheduled_for"] for r in rows} == {datetime(2026, 11, 20, 16, 0, tzinfo=UTC)}

    async def one_job() -> bool:  # one digest job for the day
        return (await worker.queue.info())["scheduled"] == 1

    await wait_for(one_job)
    assert notify.standins.smtp.received.items == []

    notify.clock.fixed = datetime(2026, 11, 20, 16, 0, 1, tzinfo=UTC)
    assert await worker.pipeline.digest(family.user_id, "email") == "sent 3"
    mails = notify.standins.smtp.received.items
    assert len(mails) == 1
    assert mails[0]["subject"] == "Сводка за 20.11.2026"
    for subject in ("Математика", "Русский язык", "История"):
        assert subject in mails[0]["text"] and subject in mails[0]["html"]
    rows = await Delivery.select().where(Delivery.event_id.is_in(ids))
    assert all(r["status"] == "sent" for r in rows)


async def test_unregistered_token_is_switched_off_and_telegram_takes_over(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["push"])
    notify.standins.fcm.unregistered.add(family.token)
    await notify.start()
    event_id = await emit_mark(family)
    await wait_for(lambda: notify.standins.telegram.received.items)
    token = await DeviceToken.select().where(DeviceToken.token == family.token).first()
    assert token["is_active"] is False and token["disabled_reason"] == "unregistered"
    rows = await deliveries(event_id)
    assert (rows[0]["channel"], rows[0]["status"], rows[0]["reason"]) == (
        "push",
        "failed",
        "unregistered",
    )
    await wait_for(lambda: notify.standins.telegram.received.items)
    # The next mark does not try the dead token at all.
    notify.standins.fcm.received.clear()
    second = await emit_mark(family, value="4")

    async def skipped() -> bool:
        rows = await deliveries(second)
        return bool(rows) and rows[0]["status"] == "skipped"

    await wait_for(skipped)
    assert notify.standins.fcm.received.rejected == [] or all(
        r["token"] == family.token for r in notify.standins.fcm.received.rejected
    )
    assert (await deliveries(second))[0]["reason"] == "no_address"


async def test_retry_after_from_the_provider_is_honoured(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["telegram"])
    notify.standins.telegram.answer_429.append(2)
    await notify.start()
    event_id = await emit_mark(family)
    tg = notify.standins.telegram.received
    await wait_for(lambda: tg.items, seconds=20)
    first, second = tg.rejected[0]["at"], tg.items[0]["at"]
    assert tg.rejected[0]["status"] == 429
    assert second - first >= 2.0, second - first
    row = (await deliveries(event_id))[0]

    async def sent() -> bool:
        return (await deliveries(event_id))[0]["status"] == "sent"

    await wait_for(sent)
    row = (await deliveries(event_id))[0]
    assert row["attempts"] == 2


async def test_cyrillic_sms_of_150_characters_goes_as_three_parts(notify: Notify) -> None:
    worker = await notify.start()
    text = ("Уважаемые родители! Завтра занятия начнутся в девять часов. " * 3)[:150]
    assert len(text) == 150
    sms = worker.channels["sms"]
    sent = await sms.send(
        Outgoing(
            delivery_id=1,
            notification_id=1,
            user_id=1,
            addresses=("+79001234567",),
            title="",
            text=text,
        )
    )
    assert sent.parts == 3
    parts = notify.standins.smpp.received.items
    assert len(parts) == 3
    assert all(p["data_coding"] == 8 and p["esm_class"] & 0x40 for p in parts)  # UCS-2 + UDH
    assert [len(p["text"]) for p in parts] == [67, 67, 16]
    assert "".join(p["text"] for p in parts) == text
    assert parts[0]["destination"] == "79001234567"


async def test_sms_delivery_receipt_is_recorded(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["sms"])
    await notify.start()
    event_id = await emit_mark(family)

    async def delivered() -> bool:
        rows = await deliveries(event_id)
        return bool(rows) and rows[0]["status"] == "delivered"

    await wait_for(delivered)
    row = (await deliveries(event_id))[0]
    assert row["provider_id"].startswith("smsc") and row["delivered_at"] is not None
    # SMS is domestic: the full text goes.
    assert "Математика" in notify.standins.smpp.received.items[0]["text"]


async def test_email_arrives_with_a_russian_subject(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["email"], email="anna@mail.ru")
    await notify.start()
    await emit_mark(family, value="5", subject="Литература")
    await wait_for(lambda: notify.standins.smtp.received.items)
    mail = notify.standins.smtp.received.items[0]
    assert mail["to"] == ["anna@mail.ru"]
    assert mail["subject"] == "Новая отметка: Литература"
    assert b"=?utf-8?" in mail["raw_subject"].lower()  # RFC 2047 on the wire
    headers = mail["headers"]
    assert headers["Content-Language"] == "ru" and headers["Auto-Submitted"] == "auto-generated"
    assert headers["Message-ID"].startswith("<") and "Date" in headers
    assert "Пётр: отметка «5» по предмету «Литература»" in mail["text"]
    assert "<html" in mail["html"] and "Литература" in mail["html"]


async def test_foreign_email_gets_a_neutral_text_without_consent(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["email"], email="anna@gmail.com")
    await notify.start()
    await emit_mark(family, value="5", subject="Литература")
    await wait_for(lambda: notify.standins.smtp.received.items)
    mail = notify.standins.smtp.received.items[0]
    assert mail["subject"] == "Новое уведомление в «Парте»"
    assert "Литература" not in mail["text"] and "Пётр" not in mail["text"]


async def test_consent_lets_the_full_text_abroad_unless_the_school_forbids(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["telegram"])
    await Consent(
        subject_kind="student",
        subject_id=family.student_id,
        kind="cross_border",
        given_by_guardian=family.guardian_id,
        given_on=date(2026, 9, 1),
    ).save()
    await notify.start()
    await emit_mark(family, value="4", subject="Химия")
    await wait_for(lambda: notify.standins.telegram.received.items)
    assert "Химия" in notify.standins.telegram.received.items[0]["text"]

    from backend.schools.tables import School

    await School.update(
        {School.settings: {"notification_defaults": {"forbid_cross_border": True}}}
    ).where(School.id == family.school_id)
    notify.worker.pipeline._policies.clear()  # type: ignore[union-attr]
    notify.standins.telegram.received.clear()
    await emit_mark(family, value="3", subject="Химия")
    await wait_for(lambda: notify.standins.telegram.received.items, seconds=20)
    assert "Химия" not in notify.standins.telegram.received.items[0]["text"]


async def test_a_consent_counts_from_its_day_to_the_day_it_is_withdrawn(notify: Notify) -> None:
    """The fan-out reads the one rule of data abroad (consent.cross_border_allowed, as the bot
    does): a consent given for tomorrow, or withdrawn from today, lets no text abroad; one
    withdrawn from a coming day still does."""
    from datetime import timedelta

    from backend.core.days import today_in

    family = await make_family(notify.world, channels=["telegram"])
    day = today_in()
    consent = Consent(
        subject_kind="student",
        subject_id=family.student_id,
        kind="cross_border",
        given_by_guardian=family.guardian_id,
        given_on=day + timedelta(days=1),
    )
    await consent.save()
    await notify.start()
    received = notify.standins.telegram.received
    for given_on, revoked_on, subject, full in (
        (day + timedelta(days=1), None, "Химия", False),
        (day - timedelta(days=30), day, "Физика", False),
        (day - timedelta(days=30), day + timedelta(days=1), "Биология", True),
    ):
        await Consent.update({Consent.given_on: given_on, Consent.revoked_on: revoked_on}).where(
            Consent.id == consent.id
        )
        received.clear()
        await emit_mark(family, value="4", subject=subject)
        await wait_for(lambda: received.items, seconds=20)
        assert (subject in received.items[0]["text"]) is full, (given_on, revoked_on)


async def test_blocked_chat_is_unlinked(notify: Notify) -> None:
    from backend.messaging.tables import MessengerChat

    family = await make_family(notify.world, channels=["telegram"])
    notify.standins.telegram.blocked.add(family.chat_id)
    await notify.start()
    await emit_mark(family)

    async def unlinked() -> bool:
        row = (
            await MessengerChat.select()
            .where(
                (MessengerChat.messenger == "telegram") & (MessengerChat.chat_id == family.chat_id)
            )
            .first()
        )
        return row["unlinked_at"] is not None

    await wait_for(unlinked)
    # Telegram failed for good: the next channel in the fallback order (push) takes over.
    await wait_for(lambda: notify.standins.fcm.received.items)


async def test_password_reset_code_goes_by_sms_and_is_blanked(notify: Notify) -> None:
    from tests.support import make_user

    user_id, _ = await make_user(notify.world)
    from backend.accounts.tables import User

    await User.update({User.phone: "+79005554433"}).where(User.id == user_id)
    await notify.start()
    started = time.monotonic()
    async with transaction():
        event_id = await emit(
            "account.password_reset_code",
            {
                "user_id": user_id,
                "code": "123456",
                "channel": "sms",
                "text": "Код для сброса пароля в «Парте»: 123456. Никому его не сообщайте.",
            },
        )
    await wait_for(lambda: notify.standins.smpp.received.items)
    assert time.monotonic() - started < 5
    assert "123456" in notify.standins.smpp.received.items[0]["text"]

    async def blanked() -> bool:
        row = await OutboxEvent.select().where(OutboxEvent.id == event_id).first()
        payload = row["payload"]
        # The event is blanked first, then the notification's body: wait for both.
        note = await Notification.select().where(Notification.event_id == event_id).first()
        return "123456" not in str(payload) and note is not None and note["body"] == ""

    await wait_for(blanked)
    note = await Notification.select().where(Notification.event_id == event_id).first()
    assert note["body"] == ""


async def test_one_delivery_per_event_person_and_channel(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["push"])
    worker = await notify.start()
    event_id = await emit_mark(family)
    await wait_for(lambda: notify.standins.fcm.received.items)
    # The relay or a crashed worker runs the fan-out again: nothing new is created or sent.
    await worker.pipeline.fanout(event_id)
    await worker.pipeline.fanout(event_id)
    rows = await deliveries(event_id)
    assert len(rows) == 1
    assert await worker.pipeline.deliver(rows[0]["id"]) == "nothing to do"
    await _settle()
    assert len(notify.standins.fcm.received.items) == 1
    assert await Notification.count().where(Notification.event_id == event_id) == 1


async def _settle() -> None:
    import asyncio

    await asyncio.sleep(0.5)


async def test_quiet_hours_switched_off_through_the_api_let_a_mark_through_at_night(
    notify: Notify,
) -> None:
    family = await make_family(notify.world, channels=["push"], time_zone="Europe/Moscow")
    headers = await sign_in_as(notify.world, family)
    url = "/api/v1/messaging/preferences"
    switched = await notify.world.client.put(url, json={"quiet_hours": False}, headers=headers)
    assert switched.status_code == 200, switched.text
    assert switched.json()["quiet_hours"] is False
    listed = await notify.world.client.get(url, headers=headers)
    assert [(p["kind"], p["quiet_hours"]) for p in listed.json()] == [("*", False)]
    # Off, with times besides, is a contradiction: refused, naming the field.
    both = await notify.world.client.put(
        url, json={"quiet_hours": False, "quiet_from": "22:00"}, headers=headers
    )
    assert both.status_code == 400, both.text
    assert "quiet_hours" in both.json()["message"]

    notify.clock.fixed = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 23:30 in Moscow
    await notify.start()
    event_id = await emit_mark(family)
    await wait_for(lambda: notify.standins.fcm.received.items)

    async def sent() -> bool:
        rows = await deliveries(event_id)
        return bool(rows) and rows[0]["status"] == "sent"

    await wait_for(sent)
    rows = await deliveries(event_id)
    assert [(r["channel"], r["status"], r["scheduled_for"]) for r in rows] == [
        ("push", "sent", None)
    ]


async def test_a_digest_moved_earlier_the_same_day_goes_at_the_new_time(notify: Notify) -> None:
    family = await make_family(
        notify.world,
        channels=["email"],
        prefs={"mode": "digest", "digest_at": "19:00"},
        time_zone="Europe/Moscow",
    )
    notify.clock.fixed = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
    worker = await notify.start()
    first = await emit_mark(family, value="5", subject="Математика")

    async def in_digest(event_id: int) -> bool:
        rows = await deliveries(event_id)
        return bool(rows) and rows[0]["status"] == "digest"

    await wait_for(lambda: in_digest(first))

    async def scheduled(n: int) -> bool:
        return (await worker.queue.info())["scheduled"] == n

    await wait_for(lambda: scheduled(1))
    # The person moves the digest to 15:00; a mark that comes now waits for 15:00.
    await NotificationPreference.update({NotificationPreference.digest_at: "15:00"}).where(
        NotificationPreference.user_id == family.user_id
    )
    second = await emit_mark(family, value="4", subject="История")
    await wait_for(lambda: in_digest(second))
    assert (await deliveries(second))[0]["scheduled_for"] == datetime(
        2026, 11, 20, 12, 0, tzinfo=UTC
    )
    # A job waits for 15:00 (12:00 UTC), not only the one for 19:00 (16:00 UTC).
    await wait_for(lambda: scheduled(2))
    jobs = await worker.queue.redis.zrange(worker.queue._incomplete, 0, -1, withscores=True)
    fifteen = worker.pipeline.epoch(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    assert any(abs(score - fifteen) <= 2 for _, score in jobs), (jobs, fifteen)

    notify.clock.fixed = datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)
    assert await worker.pipeline.digest(family.user_id, "email") == "sent 1"
    assert "История" in notify.standins.smtp.received.items[0]["text"]
    notify.clock.fixed = datetime(2026, 11, 20, 16, 0, 1, tzinfo=UTC)
    assert await worker.pipeline.digest(family.user_id, "email") == "sent 1"
    assert "Математика" in notify.standins.smtp.received.items[1]["text"]


async def test_a_digest_for_a_channel_without_address_goes_by_the_next_channel(
    notify: Notify,
) -> None:
    family = await make_family(
        notify.world,
        channels=["push"],
        prefs={"mode": "digest", "digest_at": "19:00"},
        time_zone="Europe/Moscow",
    )
    await DeviceToken.delete().where(DeviceToken.user_id == family.user_id)
    notify.clock.fixed = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
    worker = await notify.start()
    ids = [
        await emit_mark(family, value=v, subject=s)
        for v, s in (("5", "Математика"), ("4", "Русский язык"))
    ]

    async def gathered() -> bool:
        rows = await Delivery.select().where(Delivery.event_id.is_in(ids))
        return len(rows) == 2 and all(r["status"] == "digest" for r in rows)

    await wait_for(gathered)
    notify.clock.fixed = datetime(2026, 11, 20, 16, 0, 1, tzinfo=UTC)
    assert await worker.pipeline.digest(family.user_id, "push") == "skipped"
    # Telegram takes the digest over: one message for both marks (a neutral one: no consent
    # to send the marks abroad).
    await wait_for(lambda: notify.standins.telegram.received.items)

    async def all_sent() -> bool:
        rows = await Delivery.select().where(
            Delivery.event_id.is_in(ids) & (Delivery.channel == "telegram")
        )
        return len(rows) == 2 and all(r["status"] == "sent" for r in rows)

    await wait_for(all_sent)
    messages = notify.standins.telegram.received.items
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Сводка за 20.11.2026")
    pushes = await Delivery.select().where(
        Delivery.event_id.is_in(ids) & (Delivery.channel == "push")
    )
    assert [(r["status"], r["reason"]) for r in pushes] == [("skipped", "no_address")] * 2
