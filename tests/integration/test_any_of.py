"""`db.any_of`: the notifications worker's batch reads keep one SQL text whatever the batch's
size on PostgreSQL (asyncpg prepares a statement per text), and find the same rows as `IN`."""

from __future__ import annotations

from datetime import UTC, datetime

from piccolo.engine.postgres import PostgresEngine

from backend.core import db
from backend.events.services import emit, load_many
from backend.events.tables import OutboxEvent
from backend.messaging.deliveries import mark_sent_many
from tests.conftest import Backend


async def test_one_statement_whatever_the_number_of_values(world: Backend) -> None:
    async with db.transaction():
        ids = [await emit("mark.created", {"n": n}) for n in range(5)]

    def sql(values: list[int]) -> str:
        query = OutboxEvent.select(OutboxEvent.id).where(db.any_of(OutboxEvent.id, values))
        text, _ = query.querystrings[0].compile_string(engine_type="postgres")
        return text

    if isinstance(world.engine, PostgresEngine):
        assert sql(ids[:1]) == sql(ids) == sql(ids * 3)
        assert sql(ids).endswith('"outbox_event"."id" = ANY($1)')
    found = await OutboxEvent.select(OutboxEvent.id).where(db.any_of(OutboxEvent.id, ids[1:4]))
    assert sorted(r["id"] for r in found) == ids[1:4]
    assert [e["id"] for e in await load_many([ids[4], ids[0], ids[4]])] == [ids[0], ids[4]]


async def test_sent_is_written_for_a_batch_and_a_delivered_one_stays(world: Backend) -> None:
    from backend.messaging.tables import Delivery

    now = datetime.now(UTC)
    rows = []
    for n, status in enumerate(("sending", "sending", "delivered")):
        delivery = Delivery(
            notification_id=1, event_id=100 + n, user_id=1, channel="push", status=status,
            created_at=now, updated_at=now,
        )  # fmt: skip
        await delivery.save()
        rows.append(delivery.id)
    await mark_sent_many([(i, f"token-{i}", f"projects/p/messages/{i}", 1) for i in rows])
    got = {r["id"]: r for r in await Delivery.select().where(Delivery.id.is_in(rows))}
    assert [got[i]["status"] for i in rows] == ["sent", "sent", "delivered"]
    assert all(got[i]["provider_id"] == f"projects/p/messages/{i}" for i in rows)
    assert all(got[i]["address"] == f"token-{i}" and got[i]["parts"] == 1 for i in rows)
    assert all(got[i]["sent_at"] is not None for i in rows)
