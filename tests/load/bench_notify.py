"""Benchmark: notifications from the outbox to the stand-ins (run by hand, not by pytest).

Starts the stand-ins of FCM, Telegram, SMS and e-mail (`notifications.standins`) in this
process, `parta worker` processes against a PostgreSQL database of its own (created and
dropped here) and a Redis database of its own (flushed before and after), arranges families
with a push token and a Telegram chat each, and measures:

  (a) marks: `--rate` marks a second for `--seconds`, each committed to the outbox the way
      the journal does it (one transaction per save); latency from the commit to the push
      arriving at the FCM stand-in (p50/p95/p99), and marks whose push was lost or arrived
      more than once (counted from what the stand-in received);
  (b) announcement: one school-wide announcement to `--families` families: time from the
      commit until all its deliveries are queued (the fan-out job's end), and until the
      last push arrived;
  (c) Telegram pacing: an announcement to `--telegram-chats` families who chose Telegram,
      with the stand-in enforcing Telegram's limit (30 a second per bot): the rate achieved
      as a share of the configured limit, and the number of 429 answers.

`--kill N` SIGKILLs one worker process N times during (a), evenly spaced, and starts a new
one each time; the lost/duplicated counts then say what the kills cost.

Redis is a server of the benchmark's own (`redis-server` on a free port, nothing saved to disk)
unless `PARTA_BENCH_REDIS_URL` names one: its CPU then counts with the rest. The CPU time per
delivered push is summed over every process of the run (workers, API, the phones, PostgreSQL's
backends of the benchmark's database, Redis, and this process: the emitter and the stand-ins);
on two cores, 400 pushes a second leave at most 5 ms of CPU per push for all of them.

`BENCH_KEEP=1` keeps the database afterwards, to see where a mark's time went: outbox
`occurred_at` -> `published_at` (relay) -> delivery `created_at` (fan-out) -> `sent_at`.

    uv run python tests/load/bench_notify.py                     # full run: 200/s for 60 s
    uv run python tests/load/bench_notify.py --seconds 10 --rate 50 --families 300
    uv run python tests/load/bench_notify.py --only a --kill 10  # fault run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from piccolo.query.functions.aggregate import Count

from backend import bootstrap
from backend.core import db
from backend.events.services import emit
from backend.messaging.services import PUSH_RECEIPTS_PATH
from backend.messaging.tables import Delivery, Notification
from backend.schools.tables import Municipality, Region, School
from backend.settings import Settings
from notifications.standins.common import free_port
from notifications.standins.suite import StandIns

POSTGRES_URL = os.environ.get(
    "PARTA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PARTA_BENCH_REDIS_URL", "")
QUEUE = "parta-bench-notify"
SAVERS = 16  # marks saved at once by the emitter of (a)
ROOT = Path(__file__).resolve().parents[2]
# The checkout the workers and the API run from (`BENCH_CODE_ROOT`: another version of the code,
# to compare two versions under the same benchmark on the same machine at the same hour).
CODE_ROOT = Path(os.environ.get("BENCH_CODE_ROOT") or ROOT)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_calls(pid: int) -> int:
    """Read system calls a process has made so far (0 once it is gone): for a server, about
    the requests it was sent (a pipelined batch is one read)."""
    try:
        with open(f"/proc/{pid}/io") as io:
            for line in io:
                if line.startswith("syscr:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class CpuMeter:
    """CPU seconds spent by each part over a span: the workers, the API and the phones'
    process, PostgreSQL's backends of the benchmark's database, the benchmark's own Redis
    server, and this process (the emitter and the stand-ins)."""

    def __init__(
        self,
        workers: Workers,
        phones: Phones | None,
        database: str,
        redis_pid: int | None = None,
    ) -> None:
        self.workers, self.phones, self.database = workers, phones, database
        self.redis_pid = redis_pid
        self.start: dict[str, dict[int, float]] = {}

    async def pids(self) -> dict[str, list[int]]:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            backends = [
                r["pid"]
                for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
                )
            ]
        finally:
            await conn.close()
        out = {
            "workers": [p.pid for p in self.workers.procs if p.poll() is None],
            "postgres": backends,
            "bench": [os.getpid()],
        }
        if self.phones is not None and self.phones.api is not None:
            out["api"] = [self.phones.api.pid]
        if self.phones is not None and self.phones.phones is not None:
            out["phones"] = [self.phones.phones.pid]
        if self.redis_pid is not None:
            out["redis"] = [self.redis_pid]
        return out

    async def begin(self) -> None:
        pids = await self.pids()
        self.start = {part: {pid: cpu_seconds(pid) for pid in p} for part, p in pids.items()}
        # PostgreSQL's backends read their sockets with recv(), which /proc does not count.
        self.reads_before = {"redis": {pid: read_calls(pid) for pid in pids.get("redis", [])}}
        self.commands_before = await self.commands()
        self.statements_before = await self.statements()

    async def commands(self) -> dict[str, int]:
        """Redis commands served so far, by command (the benchmark's own server only)."""
        if self.redis_pid is None:
            return {}
        redis = Redis.from_url(REDIS_URL)
        try:
            stats = await redis.info("commandstats")
        finally:
            await redis.aclose()
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}

    async def statements(self) -> dict[str, int]:
        """Transactions committed in the benchmark's database so far."""
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            row = await conn.fetchrow(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", self.database
            )
        finally:
            await conn.close()
        return {"commits": int(row["xact_commit"]) if row else 0}

    async def round_trips(self) -> tuple[dict[str, int], dict[str, int]]:
        """Redis commands by command and PostgreSQL commits since `begin`."""
        now, then = await self.commands(), self.commands_before
        commands = {k: v - then.get(k, 0) for k, v in now.items() if v > then.get(k, 0)}
        done, before = await self.statements(), self.statements_before
        counts = {k: v - before.get(k, 0) for k, v in done.items()}
        pids = await self.pids()
        then_reads = self.reads_before.get("redis", {})
        counts["redis reads"] = sum(
            read_calls(pid) - then_reads.get(pid, 0) for pid in pids.get("redis", [])
        )
        return commands, counts

    async def spent(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for part, pids in (await self.pids()).items():
            before = self.start.get(part, {})
            out[part] = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids)
        return out


class RedisServer:
    """A Redis server of the benchmark's own on a free port (nothing written to disk), so that
    its CPU time is the run's alone: the machine's shared Redis serves every engineer."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip

    async def start(self) -> None:
        self.spawn()
        assert self.proc is not None
        probe = Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while True:
            try:
                await probe.ping()
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: see {self.log}") from None
                await asyncio.sleep(0.1)
        await probe.aclose()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---- the world --------------------------------------------------------------------------------


async def make_school(region: int, n: int) -> int:
    municipality = Municipality(region=region, name=f"Город {n}")
    await municipality.save()
    school = School(
        municipality=municipality.id,
        full_name=f"Школа {n}",
        short_name=f"Школа {n}",
        created_at=datetime.now(UTC),
    )
    await school.save()
    return int(school.id)


async def make_families(
    conn: asyncpg.Connection, school_id: int, first: int, count: int, channel: str
) -> list[int]:
    """`count` families (pupil, legal representative with an account, a push token and a
    Telegram chat, a preference for `channel`) with ids from `first`, by COPY. Returns the
    pupils' ids."""
    now = datetime.now(UTC)
    ids = list(range(first, first + count))
    await conn.copy_records_to_table(
        "account_user",
        columns=[
            "id",
            "phone",
            "password_hash",
            "display_name",
            "is_active",
            "locale",
            "created_at",
        ],
        records=[(i, f"+79{i:09d}", "-", f"Родитель {i}", True, "ru", now) for i in ids],
    )
    await conn.copy_records_to_table(
        "student",
        columns=["id", "school", "last_name", "first_name", "archived"],
        records=[(i, school_id, "Иванов", f"Пётр{i}", False) for i in ids],
    )
    await conn.copy_records_to_table(
        "guardian",
        columns=["id", "last_name", "first_name", "phone", "user_id"],
        records=[(i, "Иванова", "Анна", f"+79{i:09d}", i) for i in ids],
    )
    await conn.copy_records_to_table(
        "student_guardian",
        columns=["student", "guardian", "relation", "is_legal_representative"],
        records=[(i, i, "mother", True) for i in ids],
    )
    await conn.copy_records_to_table(
        "device_token",
        columns=[
            "user_id",
            "token",
            "platform",
            "is_active",
            "created_at",
            "last_seen_at",
            "disabled_reason",
        ],
        records=[(i, f"bench-token-{i}", "android", True, now, now, "") for i in ids],
    )
    await conn.copy_records_to_table(
        "messenger_chat",
        columns=["user_id", "messenger", "chat_id", "linked_at", "unlinked_reason"],
        records=[(i, "telegram", 500_000 + i, now, "") for i in ids],
    )
    await conn.copy_records_to_table(
        "notification_preference",
        # No quiet hours: the figures must not depend on the hour the benchmark runs at (the
        # default, 21:00-07:00 in the school's time zone, holds marks until the morning).
        columns=[
            "user_id",
            "kind",
            "student_id",
            "channels",
            "muted",
            "quiet_from",
            "quiet_to",
            "updated_at",
        ],
        records=[(i, "*", 0, json.dumps([channel]), False, "00:00", "00:00", now) for i in ids],
    )
    return ids


async def fix_sequences(conn: asyncpg.Connection) -> None:
    for table in ("account_user", "student", "guardian"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'(SELECT max(id) FROM "{table}"))'
        )


# ---- workers ----------------------------------------------------------------------------------


class Workers:
    """`parta worker` processes, started, killed with SIGKILL and stopped by this script."""

    def __init__(self, env: dict[str, str], count: int, log_dir: Path) -> None:
        self.env, self.count, self.log_dir = env, count, log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def spawn(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.log_dir / f"worker-{self.started}.log").open("wb")
        profile = os.environ.get("BENCH_PROFILE")  # a directory: workers under cProfile
        command = (
            [sys.executable, str(CODE_ROOT / "tests" / "load" / "profiled_worker.py"), profile]
            if profile
            else [sys.executable, "-m", "backend.cli", "worker"]
        )
        proc = subprocess.Popen(
            command,
            env=self.env,
            cwd=CODE_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        for _ in range(self.count):
            self.spawn()

    def kill_one(self, n: int) -> None:
        """SIGKILL the n-th live worker (round robin) and start a new one in its place."""
        live = [p for p in self.procs if p.poll() is None]
        victim = live[n % len(live)]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        self.spawn()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


class Phones:
    """The phones' side: `parta serve` on a free port, and a process of their own
    (`tests/load/phones.py`) posting each push's receipt to it as the Parta app on a phone
    does; the FCM stand-in tells it of every push it accepted (`FcmStandIn.on_push`)."""

    def __init__(self, env: dict[str, str], standins: StandIns, log_dir: Path) -> None:
        self.port = free_port()
        # Every phone posts from one address here: the API's per-address limit is for people,
        # not for a region's phones behind one IP.
        self.env = {
            **env,
            "PARTA_PORT": str(self.port),
            "PARTA_API_RATE_LIMIT_PER_MINUTE": "10000000",
        }
        self.standins, self.log_dir = standins, log_dir
        self.api: subprocess.Popen[bytes] | None = None
        self.phones: subprocess.Popen[bytes] | None = None
        self.answers: dict[str, int] = {}
        self.late: dict[str, float] = {}

    def spawn(self) -> None:
        log = (self.log_dir / "api.log").open("wb")
        self.api = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve"],
            env=self.env, cwd=CODE_ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{self.port}{PUSH_RECEIPTS_PATH}"
        self.phones = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "load" / "phones.py"), url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, bufsize=0,
        )  # fmt: skip

    async def start(self) -> None:
        self.spawn()
        assert self.api is not None and self.phones is not None
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180  # a busy machine starts processes slowly
        async with httpx.AsyncClient() as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{base}/health")).status_code == 200:
                        break
                if self.api.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not start: see {self.log_dir / 'api.log'}")
                await asyncio.sleep(0.2)
        pipe = self.phones.stdin
        assert pipe is not None
        self.standins.fcm.on_push = lambda delivery, token: pipe.write(
            f"{delivery} {token}\n".encode()
        )

    def stop(self) -> None:
        self.standins.fcm.on_push = None
        if self.phones is not None and self.phones.stdin is not None:
            out, _ = self.phones.communicate(timeout=60)
            told = json.loads(out or b"{}")
            self.answers, self.late = told.get("answers", {}), told.get("late", {})
        if self.api is not None and self.api.poll() is None:
            self.api.send_signal(signal.SIGTERM)
            try:
                self.api.wait(20)
            except subprocess.TimeoutExpired:
                self.api.kill()
                self.api.wait(5)


async def wait_ready(standins: StandIns, probe_student: int, school_id: int) -> None:
    """Send one mark through and wait for its push: the workers are up and warm."""
    before = len(standins.fcm.received.items)
    async with db.transaction():
        await emit(
            "mark.created",
            {"student_id": probe_student, "subject": "Математика", "value": "5"},
            school_id=school_id,
            student_id=probe_student,
        )
    deadline = time.monotonic() + 300  # a busy machine starts processes slowly
    while len(standins.fcm.received.items) == before:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not deliver a probe within 300 s")
        await asyncio.sleep(0.1)


# ---- scenarios --------------------------------------------------------------------------------


async def marks(
    standins: StandIns,
    workers: Workers,
    school_id: int,
    students: list[int],
    rate: float,
    seconds: float,
    kills: int,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """Run (a); returns its figures (for `--rates`)."""
    total = int(rate * seconds)
    load = os.getloadavg()[0]
    print(
        f"\n(a) marks: {rate:g}/s for {seconds:g} s = {total} marks, "
        f"{len(workers.procs)} worker processes, {kills} SIGKILL(s)",
        flush=True,
    )
    saved: dict[int, float] = {}
    fcm = standins.fcm.received
    first_push = len(fcm.items)
    kill_at = [seconds * (k + 1) / (kills + 1) for k in range(kills)]
    if meter is not None:
        await meter.begin()
    started = time.monotonic()
    sent = 0
    lag = 0.0
    # Many teachers save at once: up to `SAVERS` saves are under way together, each its own
    # transaction. One after the other, a save's three round trips (BEGIN, INSERT, COMMIT)
    # capped the emitter near 100 marks/s on a busy machine, below the rates asked for.
    savers = asyncio.Semaphore(SAVERS)
    saving: set[asyncio.Task[None]] = set()

    async def save(student: int) -> None:
        async with savers:
            async with db.transaction():
                event_id = await emit(
                    "mark.created",
                    {
                        "student_id": student,
                        "subject": "Математика",
                        "value": "5",
                        "date": "2026-11-20",
                        "work_kind": "answer",
                    },
                    school_id=school_id,
                    student_id=student,
                )
            saved[event_id] = time.time()

    while sent < total:
        elapsed = time.monotonic() - started
        if kill_at and elapsed >= kill_at[0]:
            kill_at.pop(0)
            workers.kill_one(kills - len(kill_at))
        due = min(total, int(elapsed * rate) + 1)
        while sent < due:
            task = asyncio.create_task(save(students[sent % len(students)]))
            saving.add(task)
            task.add_done_callback(saving.discard)
            sent += 1
        lag = max(lag, elapsed - (sent - len(saving)) / rate)
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    if saving:
        await asyncio.gather(*saving)
    achieved = total / (time.monotonic() - started)
    print(
        f"    emitted {total} in {time.monotonic() - started:.1f} s "
        f"({achieved:.0f}/s; the saves fell behind by up to {lag:.2f} s)",
        flush=True,
    )
    # Wait for the stragglers: every mark's push, or 60 s (a killed worker's jobs come back
    # after the heartbeat, ~10-15 s).
    await wait_count(fcm.items, first_push, total, 60)
    # ... and until every mark has its delivery (a fan-out job whose worker was killed comes
    # back after the sweep, then after its retry delay) and none is still on its way (120 s at
    # most).
    first, last = min(saved), max(saved)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pending = await Delivery.count().where(
            (Delivery.event_id >= first)
            & (Delivery.event_id <= last)
            & Delivery.status.is_in(["queued", "waiting", "sending"])
        )
        made = await Delivery.count().where(
            (Delivery.event_id >= first) & (Delivery.event_id <= last)
        )
        if not pending and made >= len(saved):
            break
        await asyncio.sleep(1)
    spent = await meter.spent() if meter is not None else {}
    commands, commits = await meter.round_trips() if meter is not None else ({}, {})
    await asyncio.sleep(2)  # late duplicates, if any
    statuses = await (
        Delivery.select(Delivery.status, Count(Delivery.id))
        .where((Delivery.event_id >= first) & (Delivery.event_id <= last))
        .group_by(Delivery.status)
    )
    stuck = await Delivery.select(Delivery.id).where(
        (Delivery.event_id >= first)
        & (Delivery.event_id <= last)
        & Delivery.status.is_in(["queued", "waiting", "sending"])
    )
    if os.environ.get("BENCH_DEBUG"):
        from backend.events.tables import OutboxEvent

        with_note = {r["event_id"] for r in await Notification.select(Notification.event_id)}
        missing = [e for e in saved if e not in with_note]
        unpublished = await OutboxEvent.count().where(
            OutboxEvent.id.is_in(missing or [0]) & OutboxEvent.published_at.is_null()
        )
        print("    MISSING", len(missing), "unpublished", unpublished, missing[:5])
        redis = Redis.from_url(REDIS_URL)
        async for key in redis.scan_iter(match=f"saq:job:{QUEUE}:fanout:*", count=1000):
            raw = await redis.get(key)
            job = json.loads(raw) if raw else {}
            if set(missing) & set((job.get("kwargs") or {}).get("event_ids") or []):
                print(
                    "    FANOUT JOB",
                    {k: job.get(k) for k in ("key", "status", "attempts", "error", "result")},
                )
        await redis.aclose()
    if stuck and os.environ.get("BENCH_DEBUG"):
        ids = {r["id"] for r in stuck}
        redis = Redis.from_url(REDIS_URL)
        async for key in redis.scan_iter(match=f"saq:job:{QUEUE}:deliver:*", count=1000):
            raw = await redis.get(key)
            job = json.loads(raw) if raw else {}
            if ids & set((job.get("kwargs") or {}).get("delivery_ids") or []):
                print(
                    "    STUCK JOB",
                    {
                        k: job.get(k)
                        for k in (
                            "key",
                            "status",
                            "attempts",
                            "error",
                            "started",
                            "touched",
                            "completed",
                            "queued",
                        )
                    },
                )
        await redis.aclose()
    print(
        "    deliveries by status at the end: "
        + ", ".join(f"{r['status']} {r['count']}" for r in statuses),
        flush=True,
    )
    rows = await Notification.select(Notification.id, Notification.event_id).where(
        (Notification.event_id >= min(saved)) & (Notification.event_id <= max(saved))
    )
    event_of = {r["id"]: r["event_id"] for r in rows}
    arrivals: dict[int, list[float]] = {}
    for item in fcm.items[first_push:]:
        note = int(item["data"].get("notification_id") or 0)
        event_id = event_of.get(note)
        if event_id in saved:
            arrivals.setdefault(event_id, []).append(item["at"])
    latencies = [min(times) - saved[e] for e, times in arrivals.items()]
    lost = total - len(arrivals)
    duplicated = sum(len(times) - 1 for times in arrivals.values())
    if latencies:
        print(
            f"    mark saved -> push at the FCM stand-in: p50 {statistics.median(latencies):.3f} s"
            f"  p95 {pct(latencies, 95):.3f} s  p99 {pct(latencies, 99):.3f} s"
            f"  max {max(latencies):.3f} s",
        )
    print(
        f"    pushes: {len(arrivals)} marks reached, lost {lost}, duplicated {duplicated}"
        f" (extra pushes of a mark already pushed)",
        flush=True,
    )
    if spent and arrivals:
        pushed = len(arrivals)
        print(
            "    CPU per delivered push (ms): "
            + ", ".join(f"{part} {1000 * sec / pushed:.2f}" for part, sec in spent.items())
            + f"; workers + API {1000 * (spent['workers'] + spent.get('api', 0)) / pushed:.2f}"
            + f"; all {1000 * sum(spent.values()) / pushed:.2f}"
            + f" (CPU s: {', '.join(f'{k} {v:.1f}' for k, v in spent.items())})",
            flush=True,
        )
    if commands and arrivals:
        pushed = len(arrivals)
        top = sorted(commands.items(), key=lambda kv: -kv[1])[:12]
        print(
            f"    Redis commands per delivered push: {sum(commands.values()) / pushed:.2f} ("
            + ", ".join(f"{k} {v / pushed:.2f}" for k, v in top)
            + f"); PostgreSQL commits per push {commits.get('commits', 0) / pushed:.2f}"
            + "; Redis's read calls per push (about the round trips it served): "
            + f"{commits.get('redis reads', 0) / pushed:.2f}",
            flush=True,
        )
    if duplicated:
        # A gap of about the receipt grace or more: the phone's receipt came too late; a gap
        # near zero would mean two workers sent the same delivery at once.
        gaps = sorted(
            round(sorted(times)[1] - sorted(times)[0], 1)
            for times in arrivals.values()
            if len(times) > 1
        )
        print(f"    seconds between a duplicated mark's first two pushes: {gaps}", flush=True)
    received = await Delivery.count().where(
        (Delivery.event_id >= min(saved)) & (Delivery.status == "delivered")
    )
    print(f"    deliveries the phones confirmed (receipts written down): {received}", flush=True)
    pushed = max(1, len(arrivals))
    return {
        "rate": rate,
        "achieved": achieved,
        "load": load,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": pct(latencies, 95) if latencies else float("nan"),
        "p99": pct(latencies, 99) if latencies else float("nan"),
        "lost": lost,
        "duplicated": duplicated,
        "cpu_ms": 1000 * (spent.get("workers", 0) + spent.get("api", 0)) / pushed,
        "cpu_workers_ms": 1000 * spent.get("workers", 0) / pushed,
        "cpu_api_ms": 1000 * spent.get("api", 0) / pushed,
        "cpu_pg_ms": 1000 * spent.get("postgres", 0) / pushed,
        "cpu_all_ms": 1000 * sum(spent.values()) / pushed,
        "cpu_parts_ms": {part: 1000 * sec / pushed for part, sec in spent.items()},
    }


async def health_ceiling(port: int, seconds: float = 3.0, concurrency: int = 16) -> float:
    """GET /health as fast as 16 clients of this process can: requests a second (a ceiling
    measured beside each run: what the machine gave a trivial request just then)."""
    url = f"http://127.0.0.1:{port}/health"
    done = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:

        async def one() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                await client.get(url)
                done += 1

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return done / seconds


async def announcement(
    standins: StandIns, queue_redis: Redis, school_id: int, families: int, label: str
) -> tuple[float, float]:
    """Emit one announcement; seconds until its deliveries are all queued (the fan-out job's
    end, read from the queue) and until the last message arrived."""
    from saq.queue.redis import RedisQueue

    queue = RedisQueue(queue_redis, name=QUEUE)
    async with db.transaction():
        event_id = await emit(
            "announcement.created",
            {"school_id": school_id, "title": "Собрание", "text": "Родительское собрание в 18:00."},
            school_id=school_id,
        )
    committed = time.time()
    key = f"fanout:{event_id}:{event_id}"
    deadline = time.monotonic() + 120
    while True:
        job = await queue.job(key)
        if job is not None and job.completed:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: the fan-out did not finish in 120 s")
        await asyncio.sleep(0.02)
    queued = job.completed / 1000 - committed
    count = await Delivery.count().where(Delivery.event_id == event_id)
    assert count == families, (count, families)
    print(
        f"    {families} deliveries queued {queued:.2f} s after the commit "
        f"(fan-out job ran {(job.completed - job.started) / 1000:.2f} s)",
        flush=True,
    )
    return queued, committed


async def wait_count(items: list[dict[str, Any]], start: int, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while len(items) - start < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # the stand-in fills `items` from another thread


# ---- main -------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument(
        "--rates", default="", help="(a) at each of these rates, e.g. 100,200,300,400,500"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate with --rates")
    parser.add_argument(
        "--worker-setting",
        action="append",
        default=[],
        help="NAME=VALUE for the workers, e.g. notify_relay_interval=0.1",
    )
    parser.add_argument("--families", type=int, default=2000)
    parser.add_argument("--telegram-chats", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill", type=int, default=0, help="SIGKILL a worker N times in (a)")
    parser.add_argument("--only", default="abc", help="which scenarios: any of a, b, c")
    parser.add_argument(
        "--no-receipts", action="store_true", help="phones without the app's push receipts"
    )
    args = parser.parse_args()

    global REDIS_URL
    work = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    redis_server: RedisServer | None = None
    if not REDIS_URL:
        redis_server = RedisServer(work)
        await redis_server.start()
        REDIS_URL = redis_server.url
    redis_pid = redis_server.proc.pid if redis_server and redis_server.proc else None
    database = f"parta_bench_notify_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    standins = StandIns(work / "standins", telegram_enforce=True)
    standins.start_in_thread()
    base = Settings(environment="test", database_url=url, redis_url=REDIS_URL)
    pointed = standins.settings(base)
    settings = Settings.model_validate(
        {**{n: getattr(base, n) for n in Settings.model_fields}, **pointed, "notify_queue": QUEUE}
    )
    engine = db.make_engine(settings)
    db.bind_engine(engine, bootstrap.all_tables())
    workers: Workers | None = None
    phones: Phones | None = None
    try:
        await bootstrap.create_tables(engine)
        await db.open_engine(engine, settings)
        region = Region(name="Регион", code="99")
        await region.save()
        push_school = await make_school(region.id, 1)
        telegram_school = await make_school(region.id, 2)
        conn = await asyncpg.connect(url)
        started = time.perf_counter()
        students = await make_families(conn, push_school, 1, args.families, "push")
        await make_families(conn, telegram_school, 1_000_001, args.telegram_chats, "telegram")
        await fix_sequences(conn)
        await conn.execute("ANALYZE")
        await conn.close()
        print(
            f"arranged {args.families} + {args.telegram_chats} families in "
            f"{time.perf_counter() - started:.1f} s; database {database}, Redis {REDIS_URL}"
        )

        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
        for name, value in {
            **pointed,
            "database_url": url,
            "redis_url": REDIS_URL,
            "notify_queue": QUEUE,
            "log_level": "WARNING",
            "environment": "production",
            "secret_key": SecretStr(secrets.token_urlsafe(32)),
        }.items():
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"PARTA_{name.upper()}"] = str(plain)
        for setting in args.worker_setting:
            name, _, value = setting.partition("=")
            env[f"PARTA_{name.upper()}"] = value
        if not args.no_receipts:
            phones = Phones(env, standins, work)
            await phones.start()
        workers = Workers(env, args.workers, work)
        workers.start()
        await wait_ready(standins, students[0], push_school)
        print(
            f"{args.workers} `parta worker` processes ready; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )

        if args.rates:
            rows = []
            for rate in [float(r) for r in args.rates.split(",")]:
                for _ in range(args.repeat):
                    ceiling = await health_ceiling(phones.port) if phones is not None else 0.0
                    figures = await marks(
                        standins,
                        workers,
                        push_school,
                        students,
                        rate,
                        args.seconds,
                        0,
                        CpuMeter(workers, phones, database, redis_pid),
                    )
                    rows.append({**figures, "health": ceiling})
                    await asyncio.sleep(3)
            print("\n| rate/s (achieved) | load | /health req/s | p50 s | p95 s | p99 s | lost "
                  "| twice | CPU ms/push, all processes | by process |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|---|---|")
            for r in rows:
                parts = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_parts_ms"].items())
                print(
                    f"| {r['rate']:g} ({r['achieved']:.0f}) | {r['load']:.2f} | "
                    f"{r['health']:.0f} | {r['p50']:.3f} | {r['p95']:.3f} | {r['p99']:.3f} | "
                    f"{r['lost']} | {r['duplicated']} | {r['cpu_all_ms']:.2f} | {parts} |",
                    flush=True,
                )
        elif "a" in args.only:
            meter = CpuMeter(workers, phones, database, redis_pid)
            await marks(
                standins,
                workers,
                push_school,
                students,
                args.rate,
                args.seconds,
                args.kill,
                meter,
            )
        if "b" in args.only and not args.rates:
            print(f"\n(b) announcement to the {args.families} families of one school", flush=True)
            fcm = standins.fcm.received
            start = len(fcm.items)
            _, committed = await announcement(standins, redis, push_school, args.families, "b")
            await wait_count(fcm.items, start, args.families, 120)
            last = max(i["at"] for i in fcm.items[start:]) if len(fcm.items) > start else 0
            print(
                f"    {len(fcm.items) - start} pushes arrived, the last "
                f"{last - committed:.2f} s after the commit "
                f"(FCM pacing {settings.notify_fcm_rate:g}/s)",
                flush=True,
            )
        if "c" in args.only and not args.rates:
            chats = args.telegram_chats
            print(
                f"\n(c) Telegram: an announcement to {chats} chats, the stand-in enforcing "
                f"{standins.telegram.bot_window.limit:g}/s per bot",
                flush=True,
            )
            tg = standins.telegram
            start, too_many = len(tg.received.items), tg.too_many
            await announcement(standins, redis, telegram_school, chats, "c")
            await wait_count(tg.received.items, start, chats, chats / 10 + 60)
            got = tg.received.items[start:]
            times = sorted(i["at"] for i in got)
            rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
            limit = settings.notify_telegram_rate
            print(
                f"    {len(got)} of {chats} messages in {times[-1] - times[0]:.1f} s: "
                f"{rate:.2f}/s = {rate / limit * 100:.1f}% of the configured {limit:g}/s; "
                f"429 answers: {tg.too_many - too_many}",
                flush=True,
            )
        print(f"\nload average at the end: {os.getloadavg()}")
    finally:
        if workers is not None:
            workers.stop()
        if phones is not None:
            phones.stop()
            print(f"the phones' receipts, by the API's answer: {phones.answers}")
            print(f"seconds from a push to its receipt's answer: {phones.late}")
        with contextlib.suppress(Exception):
            await db.close_engine(engine)
        standins.stop_thread()
        await redis.flushdb()
        await redis.aclose()
        if redis_server is not None:
            redis_server.stop()
        admin = await asyncpg.connect(POSTGRES_URL)
        if not os.environ.get("BENCH_KEEP"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def run() -> None:
    """`main`, cancelled by SIGTERM or SIGINT so that its processes are stopped and its
    database dropped."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    await main()


if __name__ == "__main__":
    asyncio.run(run())
