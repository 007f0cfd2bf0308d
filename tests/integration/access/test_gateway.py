"""The on-site gateway against the real ingest: lost answers, restarts and outages lose no pass
and store none twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from backend.access.tables import AccessEvent
from gateway.adapters.jsonl import JsonLinesAdapter
from gateway.outbox import Outbox
from gateway.run import read_adapters
from gateway.uploader import Uploader
from tests.conftest import Backend
from tests.integration.access.arrange import Turnstiles, turnstiles
from tests.support import parta


class DroppingTransport(httpx.AsyncBaseTransport):
    """The network between the school and the server: forwards every request to the app, and
    loses the answer of the requests numbered in `drop_answers` (the server has stored the
    batch; the gateway never hears so), or fails before sending while `down`."""

    def __init__(self, app: object, drop_answers: set[int]) -> None:
        self.inner = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))  # type: ignore[arg-type]
        self.drop_answers, self.count, self.down = drop_answers, 0, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("no route to the server", request=request)
        self.count += 1
        response = await self.inner.handle_async_request(request)
        if self.count in self.drop_answers:
            await response.aread()
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return response


def spool_passes(path: Path, t: Turnstiles, count: int, start: int = 0) -> None:
    now = datetime.now(UTC)
    with path.open("a", encoding="utf-8") as spool:
        for n in range(start, start + count):
            pupil = t.students[n % len(t.students)]
            spool.write(
                json.dumps(
                    {
                        "id": n,
                        "card": t.cards[pupil],
                        "card_format": "wiegand26",
                        "access_point_id": t.point_in if n % 2 == 0 else t.point_out,
                        "direction": "in" if n % 2 == 0 else "out",
                        "time": (now - timedelta(minutes=30) + timedelta(seconds=n)).isoformat(),
                    }
                )
                + "\n"
            )


async def test_a_gateway_that_loses_answers_and_restarts_delivers_every_pass_once(
    world: Backend, tmp_path: Path
) -> None:
    t = await turnstiles(world, pupils=5)
    spool, db = tmp_path / "passes.jsonl", tmp_path / "outbox.sqlite"
    spool_passes(spool, t, 1000)
    network = DroppingTransport(world.app, drop_answers={2, 3})
    adapter = JsonLinesAdapter(spool)

    outbox = Outbox(db)
    await read_adapters(outbox, [adapter])
    async with httpx.AsyncClient(transport=network, base_url="http://parta.test") as client:
        uploader = Uploader(outbox, client, t.gateway_id, t.key, batch_size=300)
        with pytest.raises(httpx.ReadError):  # the second batch's answer is lost: it dies here
            await uploader.flush()
    outbox.close()
    assert await AccessEvent.count() == 600  # batches 1 and 2 are on the server

    # Restarted: the same outbox file, the adapter's saved position; more passes meanwhile.
    spool_passes(spool, t, 500, start=1000)
    outbox = Outbox(db)
    assert outbox.counts()["pending"] == 700  # batch 2 was never marked sent
    await read_adapters(outbox, [adapter])
    async with httpx.AsyncClient(transport=network, base_url="http://parta.test") as client:
        uploader = Uploader(outbox, client, t.gateway_id, t.key, batch_size=300)
        with pytest.raises(httpx.ReadError):  # the next answer is lost too
            await uploader.flush()
        network.down = True  # the school's connection drops
        with pytest.raises(httpx.ConnectError):
            await uploader.flush()
        network.down = False
        await uploader.flush()  # back: catches up
    assert outbox.counts() == {"pending": 0, "sent": 1500, "rejected": 0}
    assert await AccessEvent.count() == 1500
    ids = [r["device_event_id"] for r in await AccessEvent.select(AccessEvent.device_event_id)]
    assert len(set(ids)) == 1500
    assert set(ids) == {f"jsonl:{n}" for n in range(1500)}
    outbox.close()


async def test_a_malformed_pass_is_set_aside_and_the_rest_go(
    world: Backend, tmp_path: Path
) -> None:
    t = await turnstiles(world, pupils=2)
    spool = tmp_path / "passes.jsonl"
    spool_passes(spool, t, 9)
    lines = spool.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[4])
    bad["direction"] = "sideways"
    lines[4] = json.dumps(bad)
    spool.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    await read_adapters(outbox, [JsonLinesAdapter(spool)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),
        base_url="http://parta.test",  # type: ignore[arg-type]
    ) as client:
        await Uploader(outbox, client, t.gateway_id, t.key).flush()
    assert outbox.counts() == {"pending": 0, "sent": 8, "rejected": 1}
    assert await AccessEvent.count() == 8
    outbox.close()


async def test_a_gateway_with_a_wrong_clock_corrects_its_signing_time(
    world: Backend, tmp_path: Path
) -> None:
    t = await turnstiles(world, pupils=1)
    spool = tmp_path / "passes.jsonl"
    spool_passes(spool, t, 3)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    await read_adapters(outbox, [JsonLinesAdapter(spool)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),
        base_url="http://parta.test",  # type: ignore[arg-type]
    ) as client:
        uploader = Uploader(outbox, client, t.gateway_id, t.key, signing_offset=-3600)
        await uploader.flush()
    assert abs(uploader.signing_offset) < 60
    assert await AccessEvent.count() == 3
    outbox.close()


async def test_a_simulated_morning_rush_goes_through_the_gateway_into_presence(
    world: Backend, tmp_path: Path
) -> None:
    from backend.access.simulate import Holder, rush

    t = await turnstiles(world, pupils=40)
    holders = [Holder(t.cards[s], "wiegand26") for s in t.students]
    passes = rush(holders, [t.point_in], datetime.now(UTC), unknown_share=0.0, minutes=30)
    spool = tmp_path / "rush.jsonl"
    spool.write_text("".join(json.dumps(p.as_json()) + "\n" for p in passes), encoding="utf-8")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    assert await read_adapters(outbox, [JsonLinesAdapter(spool)]) == 40
    assert await read_adapters(outbox, [JsonLinesAdapter(spool)]) == 0  # nothing new to read
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),  # type: ignore[arg-type]
        base_url="http://parta.test",
    ) as client:
        await Uploader(outbox, client, t.gateway_id, t.key).flush()
    presence = await world.client.get(
        f"/api/v1/access/schools/{t.school_id}/presence", headers=t.security.headers
    )
    assert presence.json()["students_inside"] == 40
    outbox.close()


async def test_the_simulate_command_writes_a_school_rush_for_the_gateway(
    world: Backend, tmp_path: Path
) -> None:
    t = await turnstiles(world, pupils=12)
    spool = tmp_path / "rush.jsonl"
    done = await asyncio.to_thread(
        parta,
        world,
        "simulate",
        "turnstiles",
        "--school-id",
        str(t.school_id),
        "--spool",
        str(spool),
        "--first-lesson",
        "08:30",
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 12
    assert {line["access_point_id"] for line in lines} <= {t.point_in, t.point_out}
    granted = {line["card"] for line in lines if line["result"] == "granted"}
    assert granted <= set(t.cards.values())
    times = [datetime.fromisoformat(line["time"]) for line in lines]
    assert times == sorted(times)
    # the rush peaks 10 minutes before the first lesson at 08:30, in the school's own time
    assert all((7, 50) <= (time.hour, time.minute) <= (8, 50) for time in times)

    nothing = await asyncio.to_thread(
        parta, world, "simulate", "turnstiles", "--school-id", "999999", "--spool", str(spool)
    )
    assert nothing.returncode == 2
    assert "999999" in nothing.stderr


async def test_the_simulated_day_has_exits_lost_cards_skew_and_a_live_replay(
    world: Backend, tmp_path: Path
) -> None:
    t = await turnstiles(world, pupils=6)
    lost_pupil = t.students[0]
    cards = await world.client.get(
        f"/api/v1/access/schools/{t.school_id}/cards",
        params={"holder_kind": "student", "holder_id": lost_pupil},
        headers=t.security.headers,
    )
    replaced = await world.client.post(
        f"/api/v1/access/cards/{cards.json()['items'][0]['id']}/replace",
        json={"raw_value": "99,9999", "card_format": "wiegand26"},
        headers=t.security.headers,
    )
    assert replaced.status_code == 201, replaced.text
    spool = tmp_path / "day.jsonl"
    done = await asyncio.to_thread(
        parta, world, "simulate", "turnstiles", "--school-id", str(t.school_id),
        "--spool", str(spool), "--first-lesson", "08:30", "--exits", "14:00",
        "--skew-seconds", "120", "--seed", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines()]
    old_card = t.cards[lost_pupil]
    assert [line["card"] for line in lines if line["card"] == old_card] == [old_card]
    assert next(line for line in lines if line["card"] == old_card)["result"] == "denied"
    ins = [line for line in lines if line["direction"] == "in" and line["result"] == "granted"]
    outs = [line for line in lines if line["direction"] == "out"]
    assert sorted(line["card"] for line in outs) == sorted(line["card"] for line in ins)
    assert {line["access_point_id"] for line in outs} == {t.point_out}
    # The controllers' clock is two minutes fast: exits start at 14:02 on it.
    first_out = min(datetime.fromisoformat(line["time"]) for line in outs)
    assert (first_out.hour, first_out.minute) >= (14, 2)

    live = tmp_path / "live.jsonl"
    started = datetime.now(UTC)
    done = await asyncio.to_thread(
        parta, world, "simulate", "turnstiles", "--school-id", str(t.school_id),
        "--spool", str(live), "--live", "--speed", "3600",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    times = [datetime.fromisoformat(json.loads(x)["time"]) for x in live.read_text().splitlines()]
    assert len(times) == 7  # six pupils (one with the new card) and the lost card's try
    assert all(started - timedelta(seconds=5) <= at <= datetime.now(UTC) for at in times)
