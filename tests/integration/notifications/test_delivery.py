"""A journal event travels outbox -> queue -> worker -> channels, through the stand-ins."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from backend.core.db import transaction
from backend.events.services import emit
from backend.messaging.services import PUSH_RECEIPTS_KEY, PUSH_RECEIPTS_PATH, PUSHED_PREFIX
from backend.messaging.tables import Delivery, Notification
from notifications.pipeline import LEFT_PREFIX, SENT_PREFIX
from notifications.standins.suite import StandIns
from notifications.worker import NotifyWorker
from tests.integration.notifications.conftest import Notify, Waiter
from tests.integration.notifications.helpers import emit_mark, make_family, wait_for


async def test_saved_mark_reaches_guardian_by_push_and_telegram(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["push", "telegram"])
    await notify.start()
    event_id = await emit_mark(family, value="5", subject="Математика")

    fcm, tg = notify.standins.fcm.received, notify.standins.telegram.received
    await wait_for(lambda: fcm.items and tg.items)
    push = fcm.items[0]
    assert push["token"] == family.token
    # No consent to cross-border transfer: FCM gets a neutral text, no mark, no name.
    assert "Пётр" not in push["body"] and "5" not in push["body"]
    assert push["data"]["notification_id"]
    assert tg.items[0]["chat_id"] == family.chat_id
    assert "Математика" not in tg.items[0]["text"]

    async def both_sent() -> bool:
        rows = await Delivery.select().where(Delivery.event_id == event_id)
        return len(rows) == 2 and all(r["status"] == "sent" for r in rows)

    await wait_for(both_sent)
    rows = await Delivery.select().where(Delivery.event_id == event_id)
    assert {r["channel"] for r in rows} == {"push", "telegram"}
    assert all(r["attempts"] == 1 and r["provider_id"] for r in rows)
    # The inbox has the full text (our own API).
    note = await Notification.select().where(Notification.event_id == event_id).first()
    assert note["user_id"] == family.user_id
    assert "«5»" in note["body"] and "Математика" in note["body"] and "Пётр" in note["body"]


async def test_a_stopping_worker_lets_its_send_in_flight_finish(notify: Notify) -> None:
    """A deploy stops workers with SIGTERM: a push already on its way is finished and recorded
    as sent, not cut off (another worker would then send it again)."""
    family = await make_family(notify.world, channels=["push"])
    notify.standins.fcm.delay = 1.5  # the provider answers slowly: the send stays in flight
    worker = await notify.start(notify_shutdown_grace_seconds=10)
    event_id = await emit_mark(family)

    async def sending() -> bool:
        rows = await Delivery.select().where(Delivery.event_id == event_id)
        return bool(rows) and rows[0]["status"] == "sending"

    await wait_for(sending)
    await worker.stop()
    notify.worker = None  # stopped here, not by the fixture
    row = await Delivery.select().where(Delivery.event_id == event_id).first()
    assert row["status"] == "sent", row
    assert [p["token"] for p in notify.standins.fcm.received.items] == [family.token]


async def _pushed_mark(
    notify: Notify, channel: str = "push", **settings: Any
) -> tuple[NotifyWorker, dict[str, Any], Waiter]:
    """A mark pushed to a family (or sent on `channel`): the worker, the delivery's row once
    "sent", and a waiter for that delivery to be "sent" again."""
    family = await make_family(notify.world, channels=[channel])
    worker = await notify.start(**settings)
    event_id = await emit_mark(family)

    async def sent() -> bool:
        rows = await Delivery.select().where(Delivery.event_id == event_id)
        return bool(rows) and rows[0]["status"] == "sent"

    await wait_for(sent)
    row = await Delivery.select().where(Delivery.event_id == event_id).first()
    return worker, row, sent


async def test_a_send_on_record_is_not_sent_again(notify: Notify) -> None:
    """A worker killed between the provider's answer and writing "sent" leaves the delivery
    "sending"; the next run finds the send on record and only writes it down."""
    worker, row, sent = await _pushed_mark(notify)
    fcm = notify.standins.fcm.received
    assert len(fcm.items) == 1
    # As the killed worker left it: sent to the provider, "sending" in the database.
    await Delivery.update(
        {Delivery.status: "sending", Delivery.provider_id: "", Delivery.sent_at: None}
    ).where(Delivery.id == row["id"])
    await worker.pipeline.enqueue_delivery(row["id"], row["attempts"], None)

    await wait_for(sent)
    again = await Delivery.select().where(Delivery.id == row["id"]).first()
    assert again["provider_id"] == row["provider_id"] and again["attempts"] == row["attempts"]
    await asyncio.sleep(0.3)
    assert len(fcm.items) == 1


async def test_a_push_sending_with_nothing_on_record_goes_again_after_the_receipt_grace(
    notify: Notify,
) -> None:
    """The other side: a worker killed before the provider answered left no record, and no
    phone said it got the push. The next run waits the receipt's grace from the send's start,
    then the message goes out again (at least once: never lost)."""
    worker, row, sent = await _pushed_mark(notify, notify_push_receipt_grace_seconds=1.5)
    await notify.world.redis.delete(f"{SENT_PREFIX}{row['id']}")
    await Delivery.update(
        {Delivery.status: "sending", Delivery.updated_at: datetime.now(UTC)}
    ).where(Delivery.id == row["id"])
    await worker.pipeline.enqueue_delivery(row["id"], row["attempts"], None)

    fcm = notify.standins.fcm.received
    await asyncio.sleep(0.8)
    assert len(fcm.items) == 1  # still within the grace: the phone may yet say it got it
    await wait_for(lambda: len(fcm.items) == 2)
    await wait_for(sent)


async def test_two_runs_holding_one_delivery_send_it_once(notify: Notify) -> None:
    """A fan-out run again after its worker died queues the deliveries still waiting in new
    batches, so two jobs may hold one delivery at the same moment: only one of them sends it."""
    worker, row, _ = await _pushed_mark(notify)
    fcm = notify.standins.fcm.received
    before = len(fcm.items)
    # The delivery as a fresh fan-out leaves it: queued, never tried.
    await notify.world.redis.delete(f"{SENT_PREFIX}{row['id']}")
    await Delivery.update(
        {Delivery.status: "queued", Delivery.attempts: 0, Delivery.provider_id: ""}
    ).where(Delivery.id == row["id"])

    first, second = await asyncio.gather(
        worker.pipeline.deliver_many([row["id"]]), worker.pipeline.deliver_many([row["id"]])
    )
    assert sorted([first[0], second[0]]) == ["sent", "taken by another run"]
    await asyncio.sleep(0.3)
    assert len(fcm.items) == before + 1
    again = await Delivery.select().where(Delivery.id == row["id"]).first()
    assert again["attempts"] == 1 and again["status"] == "sent"


async def test_a_send_still_in_flight_in_another_run_is_not_sent_again(notify: Notify) -> None:
    """A run that finds a Telegram message "sending" with nothing on record may be looking at
    another run still at work (a slow provider, a long pacing wait): it waits for that send's
    record, counting from when its request left, instead of sending the message again."""
    worker, row, _ = await _pushed_mark(notify, "telegram")
    redis, tg = notify.world.redis, notify.standins.telegram.received
    before = len(tg.items)
    # As the other run leaves it while its request is on the way: "sending", no record yet.
    record = await redis.get(f"{SENT_PREFIX}{row['id']}")
    await redis.delete(f"{SENT_PREFIX}{row['id']}")
    await Delivery.update({Delivery.status: "sending"}).where(Delivery.id == row["id"])
    await redis.set(f"{LEFT_PREFIX}{row['id']}", time.time())

    run = asyncio.create_task(worker.pipeline.deliver_many([row["id"]]))
    await asyncio.sleep(1.5)
    assert not run.done()
    await redis.set(f"{SENT_PREFIX}{row['id']}", record)  # the provider answered the other run
    assert await asyncio.wait_for(run, 5) == ["sent or confirmed by another run"]
    assert len(tg.items) == before
    assert (await Delivery.select().where(Delivery.id == row["id"]).first())["status"] == "sent"


async def test_a_push_the_phone_confirmed_is_not_sent_again(
    phones: StandIns, notify: Notify
) -> None:
    """The phone's app answers each push with a receipt: the delivery becomes "delivered"
    (whichever of the receipt and FCM's answer is written first), and a worker that died
    mid-send, leaving nothing on record, has nothing to send again."""
    family = await make_family(notify.world, channels=["push"])
    worker = await notify.start()
    event_id = await emit_mark(family)

    async def delivered() -> dict[str, Any] | None:
        row = await Delivery.select().where(Delivery.event_id == event_id).first()
        return row if row and row["status"] == "delivered" and row["provider_id"] else None

    row = await wait_for(delivered)
    assert row["delivered_at"] is not None and row["sent_at"] is not None
    assert phones.fcm.receipts == [(row["id"], 204)]
    push = phones.fcm.received.items[0]
    assert push["data"]["delivery_id"] == str(row["id"])

    # As a worker killed between FCM's receipt and its answer would leave it for the next run,
    # with the phone's word already written down, then with it still waiting in Redis.
    redis = notify.world.redis
    await redis.delete(f"{SENT_PREFIX}{row['id']}")
    await worker.pipeline.enqueue_delivery(row["id"], row["attempts"], None)
    await asyncio.sleep(0.5)
    assert len(phones.fcm.received.items) == 1
    again = await Delivery.select().where(Delivery.id == row["id"]).first()
    assert again["status"] == "delivered" and again["attempts"] == row["attempts"]

    await worker.stop()  # nobody writes the receipt down
    notify.worker = None
    await Delivery.update({Delivery.status: "sending"}).where(Delivery.id == row["id"])
    await redis.hset(PUSH_RECEIPTS_KEY, str(row["id"]), "1")
    worker = await notify.start()
    await worker.pipeline.deliver(row["id"])
    assert len(phones.fcm.received.items) == 1


async def test_a_receipt_names_a_push_to_the_senders_own_device(notify: Notify) -> None:
    """The receipt needs no sign-in: the device token is its proof. Someone else's token, a
    delivery on another channel or an unknown id get 404 in Russian and change nothing."""
    family = await make_family(notify.world, channels=["push", "telegram"])
    other = await make_family(notify.world, school_id=family.school_id, n=2)
    await notify.start()
    event_id = await emit_mark(family)

    async def both_sent() -> list[dict[str, Any]]:
        rows = await Delivery.select().where(Delivery.event_id == event_id)
        return rows if len(rows) == 2 and all(r["status"] == "sent" for r in rows) else []

    rows = {r["channel"]: r for r in await wait_for(both_sent)}
    push, telegram = rows["push"]["id"], rows["telegram"]["id"]
    client = notify.world.client
    for delivery_id, token in (
        (push, other.token),
        (telegram, family.token),
        (10**9, family.token),
    ):
        answer = await client.post(
            PUSH_RECEIPTS_PATH, json={"delivery_id": delivery_id, "token": token}
        )
        assert answer.status_code == 404, answer.text
        assert "доставки" in answer.json()["message"]
    bad = await client.post(PUSH_RECEIPTS_PATH, json={"delivery_id": push})
    assert bad.status_code == 400
    statuses = {r["status"] for r in await Delivery.select().where(Delivery.event_id == event_id)}
    assert statuses == {"sent"}

    for _ in range(2):  # the app may say it twice
        answer = await client.post(
            PUSH_RECEIPTS_PATH, json={"delivery_id": push, "token": family.token}
        )
        assert answer.status_code == 204, answer.text

    async def delivered() -> dict[str, Any] | None:  # the worker writes it down in batches
        row = await Delivery.select().where(Delivery.id == push).first()
        return row if row["status"] == "delivered" else None

    row = await wait_for(delivered)
    assert row["delivered_at"] is not None and row["provider_id"]
    assert await notify.world.redis.hlen(PUSH_RECEIPTS_KEY) == 0

    # The receipt was checked against the devices the push went to, noted in Redis; an hour
    # on that note is gone, and the database decides: still only the person's own device.
    assert await notify.world.redis.exists(f"{PUSHED_PREFIX}{push}")
    await notify.world.redis.delete(f"{PUSHED_PREFIX}{push}")
    for token, status in ((other.token, 404), (family.token, 204)):
        answer = await client.post(PUSH_RECEIPTS_PATH, json={"delivery_id": push, "token": token})
        assert answer.status_code == status, answer.text


async def test_homework_reaches_the_pupils_family(notify: Notify) -> None:
    """Homework is set for a lesson; the journal emits it once per pupil of the lesson
    (`homework.created` naming the pupil), and the family hears of it."""
    family = await make_family(notify.world, channels=["push"])
    await notify.start()
    async with transaction():
        event_id = await emit(
            "homework.created",
            {
                "student_id": family.student_id,
                "subject": "Математика",
                "text": "№ 101–105",
                "date": "2026-11-20",
            },
            school_id=family.school_id,
            student_id=family.student_id,
        )
    await wait_for(lambda: notify.standins.fcm.received.items)
    note = await Notification.select().where(Notification.event_id == event_id).first()
    assert note["user_id"] == family.user_id
    assert "Математика" in note["body"] and "№ 101–105" in note["body"]
