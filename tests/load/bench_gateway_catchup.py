"""Benchmark: a school's gateway back online with 24 hours of passes in its outbox catches up
(run by hand, not by pytest). The target: under a minute.

A PostgreSQL database of its own (dropped afterwards), the API under uvicorn (`--workers`
processes) and the real `parta gateway` as a process. The gateway's outbox (SQLite) is filled
beforehand, as an offline day leaves it: `--pupils` carded pupils with `--per-pupil` passes
each over the last 24 hours (entries and exits, 1 % unknown cards), read from a JSON-lines
spool by the gateway's own adapter. Then `parta gateway` starts and sends signed batches of
500; the figure is from its start to the last pass stored (its start-up, about two seconds of
imports, included, and reported apart: the time to the first stored pass).

    uv run python -m tests.load.bench_gateway_catchup              # 1,000 pupils x 4 passes
    uv run python -m tests.load.bench_gateway_catchup --pupils 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway.adapters.jsonl import JsonLinesAdapter
from gateway.outbox import Outbox
from gateway.run import read_adapters
from tests.load.bench_access_ingest import (
    ADMIN_URL,
    BASE,
    ROOT,
    arrange,
    env_for,
    health_ceiling,
    loadavg,
    start_server,
    wait_ready,
)


def write_day(spool: Path, school: dict[str, object], per_pupil: int, seed: int = 1) -> int:
    """`per_pupil` passes of each pupil over the last 24 hours, alternating in and out."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    cards: list[str] = school["cards"]  # type: ignore[assignment]
    points: list[int] = school["points"]  # type: ignore[assignment]
    lines = []
    for n, card in enumerate(cards):
        moments = sorted(rng.uniform(60, 24 * 3600 - 60) for _ in range(per_pupil))
        for k, ago in enumerate(reversed(moments)):
            unknown = rng.random() < 0.01
            lines.append(
                {
                    "id": f"{n}-{k}",
                    "card": f"{rng.randint(0, 255)},{rng.randint(60000, 65535)}"
                    if unknown
                    else card,
                    "card_format": "wiegand26",
                    "access_point_id": rng.choice(points),
                    "direction": "in" if k % 2 == 0 else "out",
                    "result": "denied" if unknown else "granted",
                    "time": (now - timedelta(seconds=ago)).isoformat(),
                }
            )
    lines.sort(key=lambda line: str(line["time"]))
    spool.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def outbox_counts(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    try:
        sent, pending = db.execute(
            "SELECT SUM(sent = 1), SUM(sent = 0 AND rejected = '') FROM pending"
        ).fetchone()
    finally:
        db.close()
    return sent or 0, pending or 0


def start_gateway(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "gateway"],
        env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def run(args: argparse.Namespace, work: Path) -> None:
    name = f"parta_bench_catchup_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    server = gateway = None
    try:
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli", "migrate", env=env_for(url), cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await migrate.wait() != 0:
            raise RuntimeError("migrations failed")
        school = (await arrange(url, 1, args.pupils))[0]
        spool, outbox_path = work / "day.jsonl", work / "outbox.sqlite"
        total = write_day(spool, school, args.per_pupil)
        outbox = Outbox(outbox_path)
        adapter = JsonLinesAdapter(spool)
        while await read_adapters(outbox, [adapter]):
            pass
        outbox.close()
        assert outbox_counts(outbox_path) == (0, total)

        server = start_server(url, args.workers)
        async with httpx.AsyncClient(base_url=BASE, timeout=60) as client:
            await wait_ready(client)
            ceiling = await health_ceiling(client)
        print(
            f"{total} passes of 24 h waiting; /health ceiling {ceiling:.0f} req/s; "
            f"load {loadavg()}",
            flush=True,
        )
        env = {
            **env_for(url),
            "PARTA_GATEWAY_URL": BASE,
            "PARTA_GATEWAY_ID": str(school["gateway"]),
            "PARTA_GATEWAY_KEY": str(school["key"]),
            "PARTA_GATEWAY_DB": str(outbox_path),
            "PARTA_GATEWAY_SPOOL": str(spool),
        }
        conn = await asyncpg.connect(url)
        started = time.monotonic()
        gateway = start_gateway(env, work / "gateway.log")
        first = None
        stored, pending = 0, total
        while stored < total or pending:
            if gateway.poll() is not None:
                raise RuntimeError((work / "gateway.log").read_text()[-2000:])
            if time.monotonic() - started > args.timeout:
                break
            stored = await conn.fetchval("SELECT count(*) FROM access_event")
            pending = outbox_counts(outbox_path)[1]
            if stored and first is None:
                first = time.monotonic() - started
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        await conn.close()
        sent, pending = outbox_counts(outbox_path)
        print(
            f"caught up {stored} of {total} passes (stored, and acknowledged in the outbox) "
            f"in {elapsed:.1f} s "
            f"({stored / elapsed:.0f}/s; first pass stored after {first or 0:.1f} s, the "
            f"gateway's start-up); outbox sent {sent}, pending {pending}; load {loadavg()}",
            flush=True,
        )
    finally:
        if gateway is not None and gateway.poll() is None:
            gateway.terminate()
            gateway.wait(20)
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=1000)
    parser.add_argument("--per-pupil", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    main()
