"""The gateway ingest: signatures, idempotency, time placement, skew, refused cards."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from backend.access.ingest import sign
from backend.access.tables import AccessEvent
from backend.events.tables import OutboxEvent
from tests.conftest import Backend
from tests.integration.access.arrange import BASE, turnstiles


async def test_a_forged_or_stale_signature_is_refused_and_nothing_is_stored(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=1)
    now = datetime.now(UTC)
    events = [t.event(t.students[0], now)]
    forged = await t.post(events, key="not-the-key")
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"] == "not_authenticated"
    stale = await t.post(events, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401, stale.text
    assert abs(stale.json()["details"]["server_time"] - time.time()) < 60
    other_gateway = await t.post(events, gateway_id=t.gateway_id + 1000)
    assert other_gateway.status_code == 401
    unsigned = await world.client.post(f"{BASE}/ingest", json={"events": events})
    assert unsigned.status_code == 401
    assert await AccessEvent.count() == 0
    assert await OutboxEvent.count() == 0
    signed = await t.post(events)
    assert signed.status_code == 200, signed.text
    assert signed.json()["stored"] == 1


async def test_a_body_changed_after_signing_is_refused(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    body = json.dumps({"events": [t.event(t.students[0], datetime.now(UTC))]}).encode()
    ts = int(time.time())
    signature = sign(t.key, ts, body)
    tampered = body.replace(b'"granted"', b'"denied"')
    response = await world.client.post(
        f"{BASE}/ingest",
        content=tampered,
        headers={
            "X-Parta-Gateway": str(t.gateway_id),
            "X-Parta-Timestamp": str(ts),
            "X-Parta-Signature": signature,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 401
    assert await AccessEvent.count() == 0


async def test_a_batch_sent_twice_stores_each_event_once(world: Backend) -> None:
    t = await turnstiles(world, pupils=3)
    now = datetime.now(UTC)
    events = [t.event(s, now - timedelta(seconds=30 - i)) for i, s in enumerate(t.students)]
    first = await t.post(events)
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 3
    again = await t.post(events)
    assert again.status_code == 200
    assert again.json() | {"clock_skew_seconds": 0} == {
        "received": 3,
        "stored": 0,
        "duplicates": 3,
        "clock_skew_seconds": 0,
        "refused_cards": 0,
    }
    assert await AccessEvent.count() == 3
    # One "entered" alert per pupil, not two.
    entered = await OutboxEvent.count().where(OutboxEvent.kind == "access.entered")
    assert entered == 3
    # A batch overlapping the first: only the new pass is stored.
    overlap = [*events[1:], t.event(t.students[0], now, "out")]
    third = await t.post(overlap)
    assert third.json()["stored"] == 1
    assert third.json()["duplicates"] == 2
    assert await AccessEvent.count() == 4


async def test_a_late_batch_fills_the_log_in_time_order_and_alerts_nobody(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=1)
    pupil = t.students[0]
    now = datetime.now(UTC)
    # The gateway was offline: the morning's passes arrive after the afternoon's.
    morning = [t.event(pupil, now - timedelta(hours=3), "in")]
    noon = [
        t.event(pupil, now - timedelta(hours=2), "out"),
        t.event(pupil, now - timedelta(hours=1), "in"),
    ]
    fresh = [t.event(pupil, now - timedelta(seconds=5), "out")]
    for batch in (fresh, noon, morning):
        response = await t.post(batch)
        assert response.status_code == 200, response.text
    day = now.date()
    log = await world.client.get(
        f"{BASE}/students/{pupil}/entries",
        params={
            "date_from": (day - timedelta(days=1)).isoformat(),
            "date_to": (day + timedelta(days=1)).isoformat(),
        },
        headers=t.security.headers,
    )
    assert log.status_code == 200, log.text
    passes = log.json()["passes"]
    assert [p["direction"] for p in passes] == ["in", "out", "in", "out"]
    times = [p["occurred_at"] for p in passes]
    assert times == sorted(times)
    # Only the fresh exit told the family; the late passes told nobody.
    kinds = [r["kind"] for r in await OutboxEvent.select(OutboxEvent.kind)]
    assert kinds == ["access.exited"]


async def test_a_re_entry_is_an_every_pass_alert_and_the_first_entry_is_not(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=1)
    pupil = t.students[0]
    now = datetime.now(UTC)
    batches = [
        [t.event(pupil, now - timedelta(minutes=9))],
        [t.event(pupil, now - timedelta(minutes=6), "out")],
        [t.event(pupil, now - timedelta(minutes=2))],
    ]
    for batch in [*batches, batches[2]]:  # the last batch sent twice
        assert (await t.post(batch)).status_code == 200
    kinds = [r["kind"] for r in await OutboxEvent.select(OutboxEvent.kind).order_by(OutboxEvent.id)]
    assert kinds == ["access.entered", "access.exited", "access.passed"]


async def test_a_device_id_twice_in_one_batch_stores_the_first(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    now = datetime.now(UTC)
    first = t.event(t.students[0], now - timedelta(minutes=1), "in", device_event_id="same")
    second = t.event(t.students[0], now, "out", device_event_id="same")
    response = await t.post([first, second])
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["duplicates"]) == (1, 1)
    rows = await AccessEvent.select(AccessEvent.direction, AccessEvent.device_event_id)
    assert rows == [{"direction": "in", "device_event_id": "same"}]
    kinds = [r["kind"] for r in await OutboxEvent.select(OutboxEvent.kind)]
    assert kinds == ["access.entered"]


async def test_one_batch_holding_a_day_tells_each_alert_once_in_pass_order(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=2)
    pupil, other = t.students
    now = datetime.now(UTC)
    at = now - timedelta(minutes=8)
    batch = [
        t.event(pupil, at),
        t.event(pupil, at),  # the same instant on the other lane: one first entry
        t.event(pupil, now - timedelta(minutes=6), "out"),  # a later pass follows: untold
        t.event(pupil, now - timedelta(minutes=4)),  # back in: a re-entry
        t.event(pupil, now - timedelta(minutes=3), "out"),  # the exit that leaves
        t.event(other, now - timedelta(minutes=5), "out"),  # an exit with no entry known
        t.event(pupil, now - timedelta(minutes=9), result="denied"),  # not a pass
    ]
    for _ in range(2):  # sent twice: the second stores and tells nothing
        assert (await t.post(batch)).status_code == 200
    rows = await OutboxEvent.select(OutboxEvent.kind, OutboxEvent.payload).order_by(OutboxEvent.id)
    told = [
        (r["kind"], (json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]))
        for r in rows
    ]
    assert [(kind, p["student_id"], p["at"]) for kind, p in told] == [
        ("access.entered", pupil, at.isoformat()),
        ("access.passed", pupil, (now - timedelta(minutes=4)).isoformat()),
        ("access.exited", pupil, (now - timedelta(minutes=3)).isoformat()),
        ("access.exited", other, (now - timedelta(minutes=5)).isoformat()),
    ]
    # A later batch with an earlier entry tells no second first entry.
    late = [t.event(pupil, now - timedelta(minutes=9, seconds=30))]
    assert (await t.post(late)).status_code == 200
    assert await OutboxEvent.count() == 4


async def test_clock_skew_is_measured_corrected_and_reported_once(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    pupil = t.students[0]
    now = datetime.now(UTC)
    skew = timedelta(minutes=7)  # the controllers' clock runs seven minutes fast
    event = t.event(pupil, now + skew - timedelta(seconds=20))
    response = await t.post([event], sent_at=now + skew)
    assert response.status_code == 200, response.text
    measured = response.json()["clock_skew_seconds"]
    assert 415 <= measured <= 425
    row = await AccessEvent.select(AccessEvent.occurred_at, AccessEvent.device_time).first()
    assert abs((row["occurred_at"] - (now - timedelta(seconds=20))).total_seconds()) < 5
    assert row["device_time"] - row["occurred_at"] == timedelta(seconds=measured)
    again = await t.post([], sent_at=datetime.now(UTC) + skew)
    assert again.status_code == 200
    reports = await OutboxEvent.count().where(OutboxEvent.kind == "access.clock_skew")
    assert reports == 1
    gateways = await world.client.get(
        f"{BASE}/schools/{t.school_id}/gateways", headers=t.security.headers
    )
    assert 415 <= gateways.json()[0]["clock_skew_seconds"] <= 425
    assert gateways.json()[0]["last_seen_at"] is not None


async def test_unknown_and_blocked_cards_are_recorded_and_reported_to_security(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=2)
    lost_pupil = t.students[1]
    cards = await world.client.get(
        f"{BASE}/schools/{t.school_id}/cards",
        params={"holder_kind": "student", "holder_id": lost_pupil},
        headers=t.security.headers,
    )
    card_id = cards.json()["items"][0]["id"]
    blocked = await world.client.post(
        f"{BASE}/cards/{card_id}/block", json={"reason": "lost"}, headers=t.security.headers
    )
    assert blocked.status_code == 200, blocked.text
    now = datetime.now(UTC)
    response = await t.post(
        [
            t.event(None, now, card="200,200", result="denied"),
            t.event(lost_pupil, now, result="denied"),
            t.event(None, now, card="12x", result="denied"),
            t.event(t.students[0], now),
        ]
    )
    assert response.status_code == 200, response.text
    assert response.json()["refused_cards"] == 3
    problems = {r["problem"] for r in await AccessEvent.select(AccessEvent.problem)}
    assert problems == {"unknown_card", "blocked_card", "bad_card", ""}
    alert = (
        await OutboxEvent.select()
        .where(OutboxEvent.kind == "access.card_refused")
        .output(load_json=True)
        .first()
    )
    assert alert["school_id"] == t.school_id
    assert alert["payload"]["count"] == 3
    assert {p["problem"] for p in alert["payload"]["passes"]} == {
        "unknown_card",
        "blocked_card",
        "bad_card",
    }
    log = await world.client.get(
        f"{BASE}/schools/{t.school_id}/log",
        params={"problems_only": "true"},
        headers=t.security.headers,
    )
    assert log.status_code == 200, log.text
    assert log.json()["total"] == 3


async def test_the_previous_key_works_during_a_rotation(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    rotated = await world.client.post(
        f"{BASE}/gateways/{t.gateway_id}/rotate-key", headers=t.security.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["signing_key"]
    assert new_key != t.key
    now = datetime.now(UTC)
    old = await t.post([t.event(t.students[0], now)], key=t.key)
    assert old.status_code == 200, old.text
    new = await t.post([t.event(t.students[0], now, "out")], key=new_key)
    assert new.status_code == 200, new.text
    # A second rotation retires the first key at once.
    await world.client.post(
        f"{BASE}/gateways/{t.gateway_id}/rotate-key", headers=t.security.headers
    )
    retired = await t.post([t.event(t.students[0], now, "in")], key=t.key)
    assert retired.status_code == 401


async def test_a_malformed_batch_is_refused_naming_the_field(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    event = t.event(t.students[0], datetime.now(UTC))
    event["direction"] = "sideways"
    response = await t.post([event])
    assert response.status_code == 400, response.text
    assert "направление" in response.json()["message"]
    assert await AccessEvent.count() == 0


async def test_a_pass_dated_in_the_future_is_stored_but_alerts_nobody(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    ahead = datetime.now(UTC) + timedelta(hours=3)  # a controller clock set three hours ahead
    response = await t.post([t.event(t.students[0], ahead)])
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
    assert await OutboxEvent.count().where(OutboxEvent.kind == "access.entered") == 0


async def test_two_batches_at_once_with_one_instant_tell_each_first_entry_once(
    world: Backend,
) -> None:
    """Both lanes read each card at the same instant and their passes reach the server in two
    batches at the same time (on PostgreSQL two transactions, neither seeing the other's
    passes): the day's first-entry claim lets one of them tell it (decisions 0902, 0906)."""
    import asyncio

    t = await turnstiles(world, pupils=6)
    at = datetime.now(UTC) - timedelta(seconds=30)
    batches = [[t.event(pupil, at) for pupil in t.students] for _ in range(2)]
    answers = await asyncio.gather(*(t.post(batch) for batch in batches))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sum(a.json()["stored"] for a in answers) == 2 * len(t.students)
    told = await OutboxEvent.select(OutboxEvent.student_id).where(
        OutboxEvent.kind == "access.entered"
    )
    assert sorted(r["student_id"] for r in told) == sorted(t.students)
    assert await OutboxEvent.count().where(OutboxEvent.kind == "access.passed") == 0
