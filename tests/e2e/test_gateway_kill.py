"""A gateway killed with SIGKILL in the middle of an upload, and started again, delivers every
pass exactly once.

Real processes: `parta serve` on a PostgreSQL database of this test's own, and `parta gateway`
reading a JSON-lines spool into its SQLite outbox. Between the two, a TCP relay in this process
(the school's network): it lets every byte through, except that it holds back the server's
answer to the second batch of passes. The server has stored that batch; the gateway never hears
so, and is killed while it waits. The relay is what makes the kill land exactly "mid-upload"
(a stored batch the gateway has not marked sent) rather than somewhere by luck. Started again
on the same outbox, with more passes read meanwhile, the gateway sends the unacknowledged batch
again; the database must then hold each pass once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.access import cards
from tests.demo_server import free_port
from tests.e2e.support import drop_database, own_database
from tests.load.bench_notify import ROOT, fix_sequences, make_families

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("PARTA_E2E_REDIS_URL", "redis://127.0.0.1:6379/13")
PUPILS, FIRST_RUN, SECOND_RUN = 30, 2000, 700  # the gateway's batch is 500 passes
HELD_BATCH = 2  # the server's answer to this batch never reaches the gateway


class Relay:
    """A TCP relay from the gateway to the API that counts the answers to batches of passes
    (an ingest request whose body names a `device_event_id`; a heartbeat carries none) and
    holds back the answer to batch number `hold`, while `holding` is on."""

    def __init__(self, upstream_port: int, hold: int) -> None:
        self.upstream_port, self.hold, self.holding = upstream_port, hold, True
        self.batches_answered = 0
        self.held = asyncio.Event()
        self.held_status = b""
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        request = bytearray()  # the request being answered (requests go one at a time)

        async def to_server() -> None:
            while data := await reader.read(65536):
                if data.startswith(b"POST ") or data.startswith(b"GET "):
                    request.clear()
                request.extend(data)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def to_gateway() -> None:
            while data := await up_reader.read(65536):
                if data.startswith(b"HTTP/1.1 ") and b'"device_event_id"' in request:
                    self.batches_answered += 1
                    if self.holding and self.batches_answered == self.hold:
                        self.held_status = data.split(b"\r\n", 1)[0]
                        self.held.set()
                        await asyncio.Event().wait()  # never forwarded
                writer.write(data)
                await writer.drain()
            writer.close()

        tasks = [asyncio.create_task(to_server()), asyncio.create_task(to_gateway())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()


def write_passes(spool: Path, card_of: list[str], point: int, first: int, count: int) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    with spool.open("a", encoding="utf-8") as out:
        for n in range(first, first + count):
            out.write(
                json.dumps(
                    {
                        "id": n,
                        "card": card_of[n % len(card_of)],
                        "card_format": "wiegand26",
                        "access_point_id": point,
                        "direction": "in" if n % 2 == 0 else "out",
                        "time": (start + timedelta(seconds=n)).isoformat(),
                    }
                )
                + "\n"
            )


def parta_process(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", command],
        env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def outbox_counts(path: Path) -> tuple[int, int]:
    """(sent, pending) in the gateway's outbox file."""
    db = sqlite3.connect(path)
    try:
        sent, pending = db.execute(
            "SELECT SUM(sent = 1), SUM(sent = 0 AND rejected = '') FROM pending"
        ).fetchone()
    finally:
        db.close()
    return sent or 0, pending or 0


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_a_killed_gateway_delivers_every_pass_exactly_once(tmp_path: Path) -> None:
    database, url = await own_database("parta_e2e_gateway")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env.update(
        PYTHONUNBUFFERED="1",
        PARTA_ENVIRONMENT="production",
        PARTA_SECRET_KEY=secrets.token_urlsafe(32),
        PARTA_DATABASE_URL=url,
        PARTA_REDIS_URL=REDIS_URL,
        PARTA_PORT=str(port),
        PARTA_LOG_LEVEL="WARNING",
    )
    api: subprocess.Popen[bytes] | None = None
    gateways: list[subprocess.Popen[bytes]] = []
    relay: Relay | None = None
    try:
        migrated = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "backend.cli", "migrate"],
            env=env, cwd=ROOT, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stdout.decode()[-2000:]

        conn = await asyncpg.connect(url)
        now = datetime.now(UTC)
        region = await conn.fetchval(
            "INSERT INTO region (name, code) VALUES ('Р', '99') RETURNING id"
        )
        municipality = await conn.fetchval(
            "INSERT INTO municipality (region, name) VALUES ($1, 'Город') RETURNING id", region
        )
        school = await conn.fetchval(
            "INSERT INTO school (municipality, full_name, short_name, created_at) "
            "VALUES ($1, 'Школа', 'Школа', now()) RETURNING id",
            municipality,
        )
        students = await make_families(conn, school, 1, PUPILS, "push")
        await fix_sequences(conn)
        point = await conn.fetchval(
            "INSERT INTO access_point (school_id, name, direction, lane, is_active, created_at) "
            "VALUES ($1, 'Турникет 1', 'both', 1, true, $2) RETURNING id",
            school,
            now,
        )
        key = secrets.token_urlsafe(32)
        gateway_id = await conn.fetchval(
            "INSERT INTO access_gateway (school_id, name, signing_key, is_active, "
            "clock_skew_seconds, skew_reported, created_at) "
            "VALUES ($1, 'Шлюз', $2, true, 0, false, $3) RETURNING id",
            school,
            key,
            now,
        )
        card_of = []
        for n, student in enumerate(students):
            raw = f"{20 + n},{3000 + n}"
            card = cards.parse(raw, "wiegand26")
            await conn.execute(
                "INSERT INTO access_card (school_id, raw_value, card_format, canonical, key24, "
                "holder_kind, holder_id, status, blocked_reason, issued_at) "
                "VALUES ($1, $2, 'wiegand26', $3, $4, 'student', $5, 'active', '', $6)",
                school, raw, card.canonical, card.key24, student, now,
            )  # fmt: skip
            card_of.append(raw)

        api = parta_process("serve", env, tmp_path / "api.log")

        async def api_up() -> bool:
            assert api is not None and api.poll() is None, (tmp_path / "api.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
            return False

        await wait_until(api_up, 180, "the API did not start")
        relay = Relay(port, HELD_BATCH)
        await relay.start()

        spool, outbox = tmp_path / "passes.jsonl", tmp_path / "outbox.sqlite"
        write_passes(spool, card_of, point, 0, FIRST_RUN)
        gateway_env = {
            **env,
            "PARTA_GATEWAY_URL": f"http://127.0.0.1:{relay.port}",
            "PARTA_GATEWAY_ID": str(gateway_id),
            "PARTA_GATEWAY_KEY": key,
            "PARTA_GATEWAY_DB": str(outbox),
            "PARTA_GATEWAY_SPOOL": str(spool),
        }

        def start_gateway() -> subprocess.Popen[bytes]:
            log = tmp_path / f"gateway-{len(gateways) + 1}.log"
            proc = parta_process("gateway", gateway_env, log)
            gateways.append(proc)
            return proc

        async def stored() -> int:
            return int(await conn.fetchval("SELECT count(*) FROM access_event"))

        first = start_gateway()
        try:
            await asyncio.wait_for(relay.held.wait(), 180)
        except TimeoutError:
            pytest.fail((tmp_path / "gateway-1.log").read_text())
        assert relay.held_status == b"HTTP/1.1 200 OK"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        assert first.returncode == -signal.SIGKILL

        # Killed mid-upload: the server holds two batches; the outbox knows of one.
        assert await stored() == 2 * 500
        assert outbox_counts(outbox) == (500, FIRST_RUN - 500)

        # While it is down, the controllers go on recording passes.
        write_passes(spool, card_of, point, FIRST_RUN, SECOND_RUN)
        relay.holding = False
        start_gateway()
        total = FIRST_RUN + SECOND_RUN

        async def delivered() -> bool:
            return outbox_counts(outbox) == (total, 0)

        await wait_until(delivered, 180, "the restarted gateway did not catch up")
        await asyncio.sleep(1.5)  # a duplicate would have had time to arrive
        rows = await conn.fetch("SELECT device_event_id FROM access_event")
        ids = [r["device_event_id"] for r in rows]
        assert len(ids) == total
        assert set(ids) == {f"jsonl:{n}" for n in range(total)}
        # The resent batch was acknowledged by the second gateway, not stored a second time.
        assert relay.batches_answered >= total // 500
        inside = await conn.fetchval(
            "SELECT count(DISTINCT holder_id) FROM access_event WHERE holder_id IS NOT NULL"
        )
        assert inside == PUPILS
        await conn.close()
    finally:
        for proc in (*gateways, api):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if relay is not None:
            await relay.stop()
        await drop_database(database)
