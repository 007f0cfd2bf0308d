"""ZKTeco panels post their passes to the gateway (Security PUSH protocol; sample in
samples/zkteco_rtlog.txt, format in docs/decisions/0904): the gateway's panel server (uvicorn)
acknowledges an upload only once it is in the outbox, keeps a resent upload once, and the
passes reach the real ingest matched to the pupil whose Wiegand-26 card the panel printed as a
32-bit decimal."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from backend.access.tables import AccessEvent
from gateway.adapters.zkteco import Door, ZktecoConfig, ZktecoPushAdapter
from gateway.outbox import Outbox
from gateway.uploader import Uploader
from tests.conftest import Backend
from tests.demo_server import free_port
from tests.integration.access.arrange import noon_zone, turnstiles

SAMPLE = Path(__file__).parent / "samples" / "zkteco_rtlog.txt"
SERIAL = "CGXH201260012"


async def test_a_zkteco_panel_posts_passes_that_reach_the_log_once(
    world: Backend, tmp_path: Path
) -> None:
    t = await turnstiles(world, pupils=2)  # pupil 0's card: Wiegand-26 "10,1000" = 656360
    zone = ZoneInfo(noon_zone())
    yesterday = (datetime.now(zone) - timedelta(days=1)).date().isoformat()
    body = SAMPLE.read_text(encoding="utf-8").replace("2026-09-01", yesterday)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    adapter = ZktecoPushAdapter(
        ZktecoConfig(
            doors={(SERIAL, 1): Door(t.point_in), (SERIAL, 2): Door(t.point_out, "out")},
            time_zone=zone,
        ),
        outbox,
    )
    port, stop = free_port(), asyncio.Event()
    serving = asyncio.create_task(adapter.serve("127.0.0.1", port, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as panel:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    registered = await panel.post(
                        f"/iclock/registry?SN={SERIAL}", content=b"DeviceType=acc"
                    )
                    break
                await asyncio.sleep(0.05)
            assert registered.status_code == 200
            assert registered.text.startswith("RegistryCode=")
            options = await panel.get(f"/iclock/cdata?SN={SERIAL}&options=all&pushver=3.1.2")
            assert "Realtime=1" in options.text

            upload = f"/iclock/cdata?SN={SERIAL}&table=rtlog&Stamp=9999"
            first = await panel.post(upload, content=body.encode())
            assert (first.status_code, first.text) == (200, "OK")
            assert outbox.counts()["pending"] == 6
            again = await panel.post(upload, content=body.encode())  # no OK heard: resent
            assert (again.status_code, again.text) == (200, "OK")
            assert outbox.counts()["pending"] == 6
            state = await panel.post(
                f"/iclock/cdata?SN={SERIAL}&table=rtstate", content=b"time=x\tsensor=01"
            )
            assert state.text == "OK"
            assert (await panel.get(f"/iclock/getrequest?SN={SERIAL}")).text == "OK"
            assert (await panel.get("/iclock/getrequest")).status_code == 404  # no serial
    finally:
        stop.set()
        await serving

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),  # type: ignore[arg-type]
        base_url="http://parta.test",
    ) as client:
        await Uploader(outbox, client, t.gateway_id, t.key).flush()
    # The pass on door 3 (not configured) is refused by the server and set aside.
    assert outbox.counts() == {"pending": 0, "sent": 5, "rejected": 1}
    rows = await AccessEvent.select(
        AccessEvent.card_raw,
        AccessEvent.holder_id,
        AccessEvent.direction,
        AccessEvent.result,
        AccessEvent.access_point_id,
    ).order_by(AccessEvent.occurred_at)
    pupil = t.students[0]
    assert [
        (r["card_raw"], r["holder_id"], r["direction"], r["result"], r["access_point_id"])
        for r in rows
    ] == [
        ("656360", pupil, "in", "granted", t.point_in),
        ("0000656361", None, "in", "granted", t.point_in),  # 10,1001: nobody's card
        ("16777215", None, "in", "denied", t.point_in),
        ("656360", pupil, "out", "granted", t.point_in),
        ("656360", pupil, "out", "denied", t.point_out),
    ]
    outbox.close()
