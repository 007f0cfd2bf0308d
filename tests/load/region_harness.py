"""Region load harness: every scenario of a region, apart and then at once (run by hand).

One command builds (or reuses) a region slice on PostgreSQL sized by the options, starts the
API under uvicorn (`--nodes` servers on consecutive ports, the client going round robin over
them), and drives each scenario at an offered rate, first alone and then all together (each at
`--together-share` of its rate). It prints one table (scenario, offered, achieved, p50/p95/p99,
errors) with the ceilings measured in the same run: `/health` of the same servers and, for the
diary, the bare SQL lookup of a stored week through asyncpg.

    uv run python -m tests.load.region_harness --quick            # ~4 min on a busy machine
    uv run python -m tests.load.region_harness --quick --no-side  # the API's scenarios, ~1 min
    uv run python -m tests.load.region_harness --schools 20 --pupils-per-class 30 --days 60 \\
        --families 6000 --seconds 30 --write-docs

Scenarios, each reusing the existing benchmark of its area:

  diary        GET a pupil's diary week as the pupil's guardian (`bench_diary`'s server and
               tokens); the pupil-weeks read are first read once, as after a lesson save
  lesson save  POST a whole lesson (30 attendance marks, 6 marks, topic, homework) as its
               teacher, through the sync endpoint (`bench_lesson_save`'s body and `run`)
  turnstile    signed batches of `--batch` passes from a school's gateway, the 08:00 rush
               (`bench_access_ingest.arrange` makes the school, its lanes and cards)
  notify       marks committed to the outbox -> push at the FCM stand-in, through `parta
               worker` processes (`bench_notify --only a`, a subprocess with its own database)
  bot          chats sending /today to the Telegram bot through the stand-in, unpaced
               (`bench_bot`, a subprocess on SQLite)
  meal cut-off guardians ordering tomorrow's lunch (the day after, so that the school's cut-off
               is still open whenever the harness runs), paced evenly, `--meal-repeat` of them
               a second tap on an order already made (refused "already ordered"); a slice of
               `--meal-schools` schools is arranged by `bench_meals_cutoff.arrange` beside the
               region slice in each run (a region of its own: fresh pupils, fresh accounts),
               the requests, refusals and the books check are that bench's (`order_plan`,
               `order_outcome`, `check_books`). Reported beside the table: stored and refused
               by reason, errors, and the books after each phase (the orders in the database
               equal to the stored answers, every school's ledger exact)

The slice is `region_slice.py` with its sizes replaced by the options (25 classes a school,
`--days` school days of lessons ending on 2026-05-29). The database `parta_bench_region` is
kept between runs and rebuilt only when the sizes change (`--rebuild` forces it).

`--replica-url URL` names a streaming replica of the slice's database: the API nodes read the
diary's stored weeks and the reports from it (`PARTA_DATABASE_REPLICA_URL`, decision 1111;
`--no-api-replica` keeps them on the primary, for comparison), the bare SQL ceiling is also
measured there, and the header says how many lookups of the stored weeks each server ran
(`pg_stat_user_tables`, less the ceilings' own). How to start such a replica on this machine:
docs/capacity.md, section 5.

`--plot PATH` writes a PNG (matplotlib); `--write-docs` replaces the harness's section of
docs/performance.md with this run's table. The figures depend on the load average, which is
printed; on a shared machine they are what the machine had left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from backend import bootstrap
from backend.access.ingest import sign
from backend.accounts.tokens import AccessTokens, build_jwt_auth
from backend.core import db
from backend.core.rights import Grant, Role, ScopeKind
from backend.settings import Settings
from tests.load import bench_access_ingest, bench_diary, bench_meals_cutoff
from tests.load.bench_lesson_save import op, pct

ROOT = Path(__file__).resolve().parents[2]
ADMIN = os.environ.get("PARTA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
URL = ADMIN.rsplit("/", 1)[0] + "/parta_bench_region"
FIRST_PORT = int(os.environ.get("PARTA_BENCH_PORT", "8831"))
LAST_DAY = date(2026, 5, 29)
# A school of the region slice, not of a meal cut-off slice arranged beside it (whose regions
# are coded "m<digits>", `prepare_meals`).
SLICE_SCHOOL = (
    "{} IN (SELECT s.id FROM school s JOIN municipality m ON m.id = s.municipality "
    "JOIN region r ON r.id = m.region WHERE r.code NOT LIKE 'm%')"
)


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Result:
    name: str
    offered: float
    unit: str = "req/s"
    latencies: list[float] = field(default_factory=list)  # ms
    ok: int = 0
    errors: int = 0
    dropped: int = 0  # not sent: too many requests already waiting
    seconds: float = 1.0
    ceiling: str = ""
    note: str = ""
    achieved_override: float | None = None
    statuses: dict[int, int] = field(default_factory=dict)  # errors by HTTP status (0: none)
    outcomes: Counter[str] = field(default_factory=Counter)  # meal orders: stored, refused why
    books: str = ""  # meal orders: the books checked after the phase

    @property
    def achieved(self) -> float:
        if self.achieved_override is not None:
            return self.achieved_override
        return self.ok / self.seconds

    def row(self) -> list[str]:
        ms = self.latencies
        p = (
            [f"{statistics.median(ms):.1f}", f"{pct(ms, 95):.1f}", f"{pct(ms, 99):.1f}"]
            if ms
            else ["–"] * 3
        )
        errors = f"{self.errors}" + (f" (+{self.dropped} not sent)" if self.dropped else "")
        if self.statuses:
            seen = ", ".join(f"{k or 'no answer'}: {v}" for k, v in self.statuses.items())
            errors += f" ({seen})"
        return [
            self.name,
            f"{self.offered:g} {self.unit}",
            f"{self.achieved:.1f}",
            *p,
            errors,
            self.ceiling,
        ]


# --- the slice ---------------------------------------------------------------------------


def size_tag(args: argparse.Namespace) -> str:
    return f"schools={args.schools} ppc={args.pupils_per_class} days={args.days}"


async def ensure_slice(args: argparse.Namespace) -> None:
    """The slice of `region_slice.py` at the options' sizes, built in a subprocess (it binds
    the ORM) unless the kept database already has these sizes."""
    admin = await asyncpg.connect(ADMIN)
    tag = await admin.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname = 'parta_bench_region'"
    )
    await admin.close()
    if tag == size_tag(args) and not args.rebuild:
        # The code may have new migrations since the slice was built: applied first (none: a
        # second).
        env = {**os.environ, "PARTA_DATABASE_URL": URL}
        subprocess.run(  # noqa: ASYNC221
            [sys.executable, "-m", "backend.cli", "migrate"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"slice reused: {tag} (migrated)", flush=True)
        return
    start = LAST_DAY - timedelta(days=args.days * 7 // 5)
    code = (
        "import asyncio, datetime\n"
        "from tests.load import region_slice as r\n"
        f"r.URL = {URL!r}\n"
        f"r.SCHOOLS = {args.schools}\n"
        f"r.PUPILS_PER_CLASS = {args.pupils_per_class}\n"
        f"r.YEAR_START = datetime.date.fromisoformat({start.isoformat()!r})\n"
        f"r.YEAR_END = datetime.date.fromisoformat({LAST_DAY.isoformat()!r})\n"
        "asyncio.run(r.main())\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)  # noqa: ASYNC221
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f"COMMENT ON DATABASE parta_bench_region IS '{size_tag(args)}'")
    await admin.close()
    print(f"slice built in {time.perf_counter() - started:.0f} s", flush=True)


async def prepare(args: argparse.Namespace, tokens: AccessTokens) -> dict[str, Any]:
    """Tokens, the pupil-weeks to read, fresh lessons to save and a turnstile school."""
    conn = await asyncpg.connect(URL)
    await conn.execute("UPDATE staff SET user_id = 1000000 + id WHERE user_id IS NULL")
    await conn.execute("""UPDATE school SET settings = '{"marking_window_days": 100000}'""")
    pupils = [
        r["id"]
        for r in await conn.fetch(
            "SELECT s.id FROM student s JOIN enrollment e ON e.student = s.id "
            f"WHERE {SLICE_SCHOOL.format('s.school')} ORDER BY s.id LIMIT $1",
            args.families,
        )
    ]
    first, last = await conn.fetchrow(
        "SELECT min(date), max(date) FROM lesson WHERE lesson_number <= 6"
    )
    mondays = []
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        mondays.append(monday)
        monday += timedelta(weeks=1)
    guardian = {
        s: tokens.issue(2_000_000 + s, [Grant(Role.GUARDIAN, ScopeKind.STUDENT, s)], "g", "bench")
        for s in pupils
    }
    rng = random.Random(5)
    reads = [(s, rng.choice(mondays) + timedelta(days=2)) for s in pupils for _ in range(3)]
    rng.shuffle(reads)
    # Fresh lessons (numbers 7-11 on the slice's last days) for the saves, as bench_lesson_save
    # makes them; an earlier run's go first, with what was written for them.
    old = "SELECT id FROM lesson WHERE lesson_number > 6"
    for table, column in (
        ("attendance_record", "lesson"),
        ("mark", "lesson"),
        ("homework", "lesson"),
        ("lesson_record", "lesson"),
        ("remark", "lesson"),
        ("journal_change", "lesson_id"),
        ("sync_operation", "lesson_id"),
    ):
        await conn.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({old})')
    await conn.execute("DELETE FROM lesson WHERE lesson_number > 6")
    classes = await conn.fetch(
        "SELECT id, school FROM school_class "
        f"WHERE grade > 1 AND {SLICE_SCHOOL.format('school')} ORDER BY id"
    )
    needed = int(args.save_rate * args.seconds * (1 + args.together_share)) + 20
    saves = []
    for i in range(needed):
        c = classes[i % len(classes)]
        day = last - timedelta(days=i // (len(classes) * 5))
        row = await conn.fetchrow(
            "INSERT INTO lesson (school, date, lesson_number, school_class, subject, teacher, "
            "status, topic, version, updated_at) SELECT $1, $2, $3, $4, "
            "(SELECT id FROM subject WHERE school = $1 ORDER BY id LIMIT 1), "
            "(SELECT id FROM staff WHERE school = $1 ORDER BY id LIMIT 1), 'scheduled', '', 1, "
            "now() RETURNING id, teacher",
            c["school"],
            day,
            7 + (i // len(classes)) % 5,
            c["id"],
        )
        kids = [
            r["student"]
            for r in await conn.fetch(
                "SELECT student FROM enrollment WHERE school_class = $1 ORDER BY student", c["id"]
            )
        ]
        token = tokens.issue(
            1_000_000 + row["teacher"],
            [Grant(Role.TEACHER, ScopeKind.SCHOOL, c["school"])],
            "t",
            "bench",
        )
        saves.append((row["id"], token, kids))
    await conn.execute("DELETE FROM access_event")
    gate = await conn.fetchrow("SELECT id, school_id, signing_key FROM access_gateway LIMIT 1")
    if gate is None:
        # bench_access_ingest.arrange makes a region coded '99', as the slice's is.
        await conn.execute("UPDATE region SET code = 'slice' WHERE code = '99'")
        await conn.close()
        turnstile = (await bench_access_ingest.arrange(URL, 1, args.turnstile_pupils))[0]
    else:
        turnstile = {
            "gateway": gate["id"],
            "key": gate["signing_key"],
            "points": [
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM access_point WHERE school_id = $1", gate["school_id"]
                )
            ],
            "cards": [
                r["raw_value"]
                for r in await conn.fetch(
                    "SELECT raw_value FROM access_card WHERE school_id = $1", gate["school_id"]
                )
            ],
        }
        await conn.close()
    return {"reads": reads, "guardian": guardian, "saved": iter(saves), "gate": turnstile}


async def prepare_meals(args: argparse.Namespace, tokens: AccessTokens) -> dict[str, Any]:
    """The meal cut-off's slice, arranged beside the region slice (a region of its own, coded
    by the run's time: each run's guardians order for pupils who have ordered nothing), and
    the orders of both phases planned: the apart phase's first, then the together phase's."""
    needed = int(args.meal_rate * args.seconds * (1 + args.together_share)) + 20
    per_school = -(-needed // args.meal_schools) + 20
    code = f"m{int(time.time()) % 10**7}"
    started = time.perf_counter()
    slice_ = await bench_meals_cutoff.arrange(
        URL, args.meal_schools, per_school, args.meal_unfunded, region_code=code
    )
    schools: list[int] = slice_["schools"]  # type: ignore[assignment]
    pupils: list[tuple[int, int, int]] = slice_["pupils"]  # type: ignore[assignment]
    plan = bench_meals_cutoff.order_plan(pupils, needed, args.meal_repeat, random.Random(7))
    print(
        f"meals slice {code}: {len(schools)} schools, {len(pupils)} pupils "
        f"({slice_['funded']} with money), arranged in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    zone = bench_meals_cutoff.ZoneInfo(bench_meals_cutoff.ZONE)
    return {
        "schools": schools,
        "plan": iter(plan),
        "token": bench_meals_cutoff.guardian_tokens(tokens, plan),
        "day": datetime.now(zone).date() + timedelta(days=2),
        "stored": 0,  # stored answers over the phases so far
    }


async def check_meal_books(meals: dict[str, Any], result: Result) -> None:
    """The books after a phase (`bench_meals_cutoff.check_books`), into the phase's row."""
    meals["stored"] += result.outcomes["stored"]
    books = await bench_meals_cutoff.check_books(URL, meals["schools"], meals["day"])
    result.books = books.line(meals["stored"])
    if books.in_db != meals["stored"] or not books.exact:
        result.note = "the books do not check out: " + result.books


def lesson_body(kids: list[int]) -> dict[str, Any]:
    """A whole lesson as bench_lesson_save sends it."""
    ops: list[dict[str, Any]] = []
    for n, p in enumerate(kids):
        status = "absent" if n in (3, 17) else "late" if n == 9 else "present"
        item: dict[str, Any] = {"op_id": op(), "kind": "attendance", "student_id": p}
        item["status"] = status
        if status == "late":
            item["late_minutes"] = 7
        ops.append(item)
    ops += [
        {"op_id": op(), "kind": "mark", "student_id": p, "value": v, "work_kind": "answer"}
        for p, v in zip(kids[::5], "543545", strict=False)
    ]
    ops.append({"op_id": op(), "kind": "topic", "topic": "Решение задач"})
    ops.append({"op_id": op(), "kind": "homework", "text": "№ 101-105"})
    return {"operations": ops, "base_version": 1}


def pass_batch(gate: dict[str, Any], size: int, seq: int) -> tuple[bytes, dict[str, str]]:
    """A signed batch of fresh passes, as bench_access_ingest's senders post them."""
    now = datetime.now(UTC)
    events = [
        {
            "device_event_id": f"h{seq}-{k}-{secrets.token_hex(3)}",
            "card": random.choice(gate["cards"]),
            "card_format": "wiegand26",
            "access_point_id": random.choice(gate["points"]),
            "direction": "in",
            "result": "granted",
            "controller_time": now.isoformat(),
        }
        for k in range(size)
    ]
    body = json.dumps({"sent_at": now.isoformat(), "events": events}).encode()
    ts = int(time.time())
    return body, {
        "X-Parta-Gateway": str(gate["gateway"]),
        "X-Parta-Timestamp": str(ts),
        "X-Parta-Signature": sign(str(gate["key"]), ts, body),
        "Content-Type": "application/json",
    }


# --- driving -----------------------------------------------------------------------------

Request = Callable[[aiohttp.ClientSession, str, int], Awaitable[int]]


async def drive(
    session: aiohttp.ClientSession,
    bases: list[str],
    result: Result,
    request: Request,
    seconds: float,
    inflight: int = 64,
) -> Result:
    """Open loop: request i is sent at start + i / rate (round robin over the servers) unless
    `inflight` requests are already waiting, then it is counted as not sent."""
    started = time.perf_counter()
    waiting: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            status = await request(session, bases[i % len(bases)], i)
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        result.latencies.append((time.perf_counter() - t0) * 1000)
        if 200 <= status < 400:
            result.ok += 1
        else:
            result.errors += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1

    for i in range(int(result.offered * seconds)):
        delay = started + i / result.offered - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(waiting) >= inflight:
            result.dropped += 1
            continue
        task = asyncio.create_task(one(i))
        waiting.add(task)
        task.add_done_callback(waiting.discard)
    await asyncio.gather(*waiting)
    result.seconds = time.perf_counter() - started
    return result


async def health_ceiling(
    session: aiohttp.ClientSession, bases: list[str], seconds: float
) -> Result:
    """Closed loop on /health, 32 at once over the servers: the ceiling of this client and
    these servers in this run."""
    result = Result("/health (ceiling)", 0)
    stop = time.perf_counter() + seconds
    started = time.perf_counter()

    async def loop(k: int) -> None:
        base = bases[k % len(bases)]
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            async with session.get(base + "/health") as r:
                await r.read()
                result.ok += r.status == 200
                result.errors += r.status != 200
            result.latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(loop(k) for k in range(32)))
    result.seconds = time.perf_counter() - started
    result.offered = round(result.ok / result.seconds)
    result.unit = "(closed loop)"
    return result


async def sql_ceiling(reads: list[tuple[int, date]], seconds: float, url: str) -> Result:
    """The bare lookup a diary read does, through asyncpg: 16 connections, closed loop."""
    result = Result("diary SQL (ceiling)", 0)
    pool = await asyncpg.create_pool(url, min_size=16, max_size=16)
    stop = time.perf_counter() + seconds
    started = time.perf_counter()

    async def loop(k: int) -> None:
        i = k
        async with pool.acquire() as conn:
            while time.perf_counter() < stop:
                s, day = reads[i % len(reads)]
                i += 16
                t0 = time.perf_counter()
                await conn.fetchrow(
                    "SELECT version, body FROM diary_week WHERE student = $1 AND week_start = $2",
                    s,
                    day - timedelta(days=day.weekday()),
                )
                result.latencies.append((time.perf_counter() - t0) * 1000)
                result.ok += 1

    await asyncio.gather(*(loop(k) for k in range(16)))
    await pool.close()
    result.seconds = time.perf_counter() - started
    result.offered = round(result.ok / result.seconds)
    result.unit = "(closed loop)"
    return result


def http_scenarios(
    world: dict[str, Any], args: argparse.Namespace, share: float
) -> list[tuple[Result, Request]]:
    reads, guardian, gate = world["reads"], world["guardian"], world["gate"]
    saved = world["saved"]
    meals = world["meals"]
    plan: Iterator[tuple[int, int, int]] = meals["plan"]
    meal_result = Result("meal cut-off (orders)", round(args.meal_rate * share, 1))

    async def diary(session: aiohttp.ClientSession, base: str, i: int) -> int:
        s, day = reads[i % len(reads)]
        async with session.get(
            f"{base}/api/v1/diary/students/{s}/week?date={day.isoformat()}",
            headers={"Authorization": f"Bearer {guardian[s]}"},
        ) as r:
            await r.read()
            return r.status

    async def save(session: aiohttp.ClientSession, base: str, i: int) -> int:
        lesson, token, kids = next(saved)
        async with session.post(
            f"{base}/api/v1/journal/lessons/{lesson}/sync",
            json=lesson_body(kids),
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            await r.read()
            return r.status

    async def turnstile(session: aiohttp.ClientSession, base: str, i: int) -> int:
        body, headers = pass_batch(gate, args.batch, i)
        async with session.post(f"{base}/api/v1/access/ingest", data=body, headers=headers) as r:
            await r.read()
            return r.status

    async def meal(session: aiohttp.ClientSession, base: str, i: int) -> int:
        sid, _, set_id = next(plan)
        async with session.post(
            base + bench_meals_cutoff.order_path(sid),
            json=bench_meals_cutoff.order_json(meals["day"], set_id),
            headers={"Authorization": f"Bearer {meals['token'][sid]}"},
        ) as r:
            text = await r.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        outcome = bench_meals_cutoff.order_outcome(r.status, body)
        if outcome is None:
            return r.status  # an error, counted by its status
        meal_result.outcomes[outcome] += 1
        return 200  # stored, or refused with a reason: an answer, not an error

    return [
        (Result("diary (after school)", round(args.diary_rate * share, 1)), diary),
        (Result("lesson save (30 pupils)", round(args.save_rate * share, 1)), save),
        (
            Result(
                f"turnstile (batches of {args.batch})",
                round(args.turnstile_rate * share, 1),
                unit="batches/s",
            ),
            turnstile,
        ),
        (meal_result, meal),
    ]


# --- the scenarios in their own processes -------------------------------------------------


def notify_command(args: argparse.Namespace, share: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.load.bench_notify",
        "--only",
        "a",
        "--no-receipts",
        "--seconds",
        str(args.seconds),
        "--rate",
        str(round(args.notify_rate * share, 1)),
        "--families",
        str(args.notify_families),
        "--telegram-chats",
        "10",
        "--workers",
        "1",
    ]


def bot_command(args: argparse.Namespace) -> list[str]:
    code = (
        "import asyncio, json, tempfile, pathlib, sys\n"
        "from tests.load import bench_bot as b\n"
        "async def go():\n"
        "    with tempfile.TemporaryDirectory() as tmp:\n"
        f"        parta, chats = await b._world(pathlib.Path(tmp), {args.bot_chats})\n"
        "        try:\n"
        "            print('READY', flush=True)\n"
        "            sys.stdin.readline()\n"
        "            rate, refused = await b._run(parta, chats, paced=False)\n"
        "        finally:\n"
        "            await parta.stop()\n"
        "    print('RESULT', json.dumps({'rate': rate, 'refused': refused}), flush=True)\n"
        "asyncio.run(go())\n"
    )
    return [sys.executable, "-c", code]


class Side:
    """A scenario in its own process: started, ready when `marker` is printed (its world
    arranged), then run; its output kept in `log`."""

    def __init__(self, cmd: list[str], log: Path, marker: str) -> None:
        self.cmd, self.log, self.marker = cmd, log, marker
        self.ready = asyncio.Event()
        self.text = ""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        lines = []
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            if self.marker in line:
                self.ready.set()
        await self.proc.wait()
        self.ready.set()
        self.text = "".join(lines)
        await asyncio.to_thread(self.log.write_text, self.text)

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def done(self) -> str:
        await self.reader
        return self.text


def notify_result(text: str, offered: float, seconds: float) -> Result:
    result = Result("notify (mark -> push)", offered, unit="marks/s")
    m = re.search(r"p50 ([\d.]+) s\s+p95 ([\d.]+) s\s+p99 ([\d.]+) s", text)
    reached = re.search(r"pushes: (\d+) marks reached, lost (\d+), duplicated (\d+)", text)
    if m is None or reached is None:
        result.note = "bench_notify gave no figures (see its log)"
        result.errors = -1
        return result
    # Three points stand for the run's percentiles (the bench keeps the rest to itself).
    result.latencies = [float(m.group(k)) * 1000 for k in (1, 2, 3)]
    result.ok = int(reached.group(1))
    result.errors = int(reached.group(2)) + int(reached.group(3))
    result.seconds = seconds
    result.ceiling = "lost + duplicated in errors"
    return result


def bot_result(text: str, chats: int) -> Result:
    result = Result("bot (/today, unpaced)", chats, unit="chats at once")
    m = re.search(r"RESULT (\{.*\})", text)
    if m is None:
        result.note = "bench_bot gave no figures"
        result.errors = -1
        return result
    data = json.loads(m.group(1))
    result.achieved_override = data["rate"]
    result.errors = data["refused"]
    result.ceiling = "Telegram allows 30/s a bot"
    return result


# --- the run -----------------------------------------------------------------------------


async def phase(
    title: str,
    args: argparse.Namespace,
    world: dict[str, Any],
    bases: list[str],
    together: bool,
    logs: Path,
) -> list[Result]:
    share = args.together_share if together else 1.0
    print(f"\n== {title} (load {loadavg()})", flush=True)
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=60)
    results: list[Result] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        scenarios = http_scenarios(world, args, share)
        suffix = "together" if together else "apart"
        notify_cmd = notify_command(args, share)
        notify = Side(notify_cmd, logs / f"notify-{suffix}.log", "arranged")
        bot = Side(bot_command(args), logs / f"bot-{suffix}.log", "READY")
        if args.no_side:
            runs = [drive(session, bases, r, q, args.seconds) for r, q in scenarios]
            if together:
                results = list(await asyncio.gather(*runs))
            else:
                for run in runs:
                    results.append(await run)
                    print(" | ".join(results[-1].row()), flush=True)
        elif together:
            # The side processes arrange their worlds first; all scenarios start together.
            await notify.start()
            await bot.start()
            await asyncio.gather(notify.ready.wait(), bot.ready.wait())
            bot.go()
            await asyncio.sleep(args.side_head_start)  # notify's workers start
            runs = [drive(session, bases, r, q, args.seconds) for r, q in scenarios]
            results = list(await asyncio.gather(*runs))
            notify_text, bot_text = await notify.done(), await bot.done()
        else:
            for r, q in scenarios:
                results.append(await drive(session, bases, r, q, args.seconds))
                print(" | ".join(results[-1].row()), flush=True)
            await notify.start()
            notify_text = await notify.done()
            await bot.start()
            await bot.ready.wait()
            bot.go()
            bot_text = await bot.done()
        if not args.no_side:
            offered = round(args.notify_rate * share, 1)
            results.append(notify_result(notify_text, offered, args.seconds))
            results.append(bot_result(bot_text, args.bot_chats))
    for r in results:
        if r.name.startswith("meal cut-off"):
            await check_meal_books(world["meals"], r)
        r.name = f"{r.name} — {suffix}"
    return results


def meal_summary(results: list[Result]) -> str:
    """The meal cut-off rows' answers: stored and refused by reason, errors, the books."""
    lines = []
    for r in results:
        if not r.name.startswith("meal cut-off"):
            continue
        answers = "; ".join(f"{k}: {v}" for k, v in sorted(r.outcomes.items()))
        lines.append(
            f"- {r.name}: {answers}; errors {r.errors}"
            + (f" (+{r.dropped} not sent)" if r.dropped else "")
            + f"; {r.books}"
        )
    return "\n".join(lines)


async def diary_scans(replica_url: str) -> dict[str, int]:
    """How many times the diary's stored weeks were looked up, on the primary and on the
    replica (each server counts the scans run on it, `pg_stat_user_tables`)."""
    out = {}
    for where, url in (("primary", URL), ("replica", replica_url)):
        if not url:
            continue
        conn = await asyncpg.connect(url)
        out[where] = await conn.fetchval(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
            "WHERE relname = 'diary_week'"
        )
        await conn.close()
    return out


def table(rows: list[list[str]]) -> str:
    head = ["scenario", "offered", "achieved/s", "p50 ms", "p95 ms", "p99 ms", "errors", "ceiling"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def plot(results: list[Result], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in results if r.latencies and r.achieved_override is None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    names = [r.name.replace(" — ", "\n") for r in shown]
    y = range(len(shown))
    left.barh(y, [r.offered if "ceiling" not in r.name else 0 for r in shown], color="#ccc")
    left.barh(y, [r.achieved for r in shown], height=0.5, color="#3a7")
    left.set_yticks(list(y), names, fontsize=7)
    left.set_xscale("log")
    left.set_xlabel("per second (grey: offered, green: achieved)")
    right.barh(y, [pct(r.latencies, 99) for r in shown], color="#e95", label="p99")
    right.barh(y, [pct(r.latencies, 95) for r in shown], color="#c63", label="p95")
    right.barh(y, [statistics.median(r.latencies) for r in shown], color="#722", label="p50")
    right.set_yticks(list(y), [""] * len(shown))
    right.set_xscale("log")
    right.set_xlabel("latency, ms")
    right.legend()
    fig.suptitle(textwrap.fill(title, 160), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"plot: {path}", flush=True)


def write_docs(text: str, key: str) -> None:
    """Replaces this kind of run's section (keyed by nodes and replica) or appends it."""
    page = ROOT / "docs" / "performance.md"
    body = page.read_text()
    start, end = f"<!-- region-harness:{key}:start -->", f"<!-- region-harness:{key}:end -->"
    block = f"{start}\n{text}\n{end}"
    if start in body:
        body = re.sub(re.escape(start) + r".*?" + re.escape(end), block, body, flags=re.S)
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    page.write_text(body)
    print(f"section written into {page}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small slice, 6-second phases")
    parser.add_argument("--schools", type=int, default=4)
    parser.add_argument("--pupils-per-class", type=int, default=30)
    parser.add_argument("--days", type=int, default=20, help="school days of lessons")
    parser.add_argument("--families", type=int, default=2000, help="guardians reading diaries")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--nodes", type=int, default=1, help="API servers, round robin")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes a server")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--diary-rate", type=float, default=400)
    parser.add_argument("--save-rate", type=float, default=4)
    parser.add_argument("--turnstile-rate", type=float, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--turnstile-pupils", type=int, default=1000)
    parser.add_argument("--meal-rate", type=float, default=40, help="meal orders a second")
    parser.add_argument("--meal-schools", type=int, default=2)
    parser.add_argument("--meal-repeat", type=float, default=0.02, help="second taps")
    parser.add_argument("--meal-unfunded", type=float, default=0.03, help="pupils with no money")
    parser.add_argument("--notify-rate", type=float, default=100)
    parser.add_argument("--notify-families", type=int, default=500)
    parser.add_argument("--bot-chats", type=int, default=60)
    parser.add_argument("--together-share", type=float, default=0.5)
    parser.add_argument(
        "--no-side", action="store_true", help="only the API's scenarios (no notify, no bot)"
    )
    parser.add_argument("--side-head-start", type=float, default=3.0)
    parser.add_argument("--ceiling-seconds", type=float, default=5)
    parser.add_argument(
        "--replica-url",
        default="",
        help="a streaming replica of the slice's database: the API nodes read the diary's stored "
        "weeks and the reports from it (PARTA_DATABASE_REPLICA_URL), and the SQL ceiling is "
        "also measured on it",
    )
    parser.add_argument(
        "--no-api-replica",
        action="store_true",
        help="with --replica-url: the API nodes still read only from the primary",
    )
    parser.add_argument("--plot", default="", help="PNG to write")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.schools, args.pupils_per_class, args.days = 2, 12, 10
        args.families, args.seconds, args.ceiling_seconds = 150, 6, 3
        args.diary_rate, args.save_rate, args.turnstile_rate = 150, 3, 2
        args.batch, args.turnstile_pupils, args.notify_rate = 50, 200, 40
        args.meal_rate = 15
        args.notify_families, args.bot_chats = 150, 20
    command = "uv run python -m tests.load.region_harness " + " ".join(sys.argv[1:])
    if "PARTA_BENCH_ADMIN_URL" in os.environ:
        command = f"PARTA_BENCH_ADMIN_URL={ADMIN} {command}"
    print(f"{command}\nload at the start: {loadavg()}", flush=True)
    started = time.perf_counter()
    await ensure_slice(args)
    secret = secrets.token_urlsafe(48)
    tokens = AccessTokens(build_jwt_auth(secret, timedelta(hours=2), []), timedelta(hours=2))
    world = await prepare(args, tokens)
    # The meals slice is arranged and its books checked through the services (the ORM bound
    # to the slice's database in this process).
    settings = Settings(database_url=URL)
    engine = db.make_engine(settings)
    db.bind_engine(engine, bootstrap.all_tables())
    await db.open_engine(engine, settings)
    world["meals"] = await prepare_meals(args, tokens)
    logs = Path(tempfile.mkdtemp(prefix="region-harness-"))
    print(f"the side processes' output: {logs}", flush=True)
    servers = []
    bases = []
    api_replica = bool(args.replica_url) and not args.no_api_replica
    if api_replica:
        # The servers' environment is this process's (bench_diary.server_env).
        os.environ["PARTA_DATABASE_REPLICA_URL"] = args.replica_url
    scans_before = await diary_scans(args.replica_url)
    try:
        for n in range(args.nodes):
            bench_diary.DB = URL
            bench_diary.PORT = FIRST_PORT + n
            bench_diary.BASE = f"http://127.0.0.1:{FIRST_PORT + n}"
            servers.append(bench_diary.start_server(secret, args.workers))
            bench_diary.wait_ready()
            bases.append(bench_diary.BASE)
        async with aiohttp.ClientSession() as session:
            # Every week read once (the projection row built), as a lesson save leaves it.
            reads = len(world["reads"])
            for k in range(0, reads, 32):
                await asyncio.gather(
                    *(
                        http_scenarios(world, args, 1)[0][1](session, bases[0], i)
                        for i in range(k, min(k + 32, reads))
                    )
                )
            health = await health_ceiling(session, bases, args.ceiling_seconds)
        sql = await sql_ceiling(world["reads"], args.ceiling_seconds, URL)
        ceilings = [health, sql]
        if args.replica_url:
            replica = await sql_ceiling(world["reads"], args.ceiling_seconds, args.replica_url)
            replica.name = "diary SQL on the replica (ceiling)"
            counts = []
            for url in (URL, args.replica_url):
                conn = await asyncpg.connect(url)
                counts.append(await conn.fetchval("SELECT count(*) FROM diary_week"))
                await conn.close()
            replica.ceiling = f"stored weeks: primary {counts[0]}, replica {counts[1]}"
            ceilings.append(replica)
        print(" | ".join(health.row()), "\n" + " | ".join(sql.row()), flush=True)
        apart = await phase("apart", args, world, bases, False, logs)
        together = await phase("together", args, world, bases, True, logs)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        await db.close_engine(engine)
    # The servers' backends have ended, so their statistics are in.
    scans_after = await diary_scans(args.replica_url)
    scans = {k: scans_after[k] - scans_before[k] for k in scans_after}
    for r in apart + together:
        if r.name.startswith("diary"):
            r.ceiling = f"/health {health.offered}/s; SQL {sql.offered}/s"
        elif not r.ceiling:
            r.ceiling = f"/health {health.offered}/s"
    results = ceilings + apart + together
    load = loadavg()
    reads_where = ""
    if args.replica_url:
        # Less the bare SQL ceilings' lookups and the count of stored weeks on each.
        scans["primary"] -= sql.ok + 1
        scans["replica"] -= ceilings[-1].ok + 1
        reads_where = (
            f"; the API {'reads' if api_replica else 'does not read'} from the replica "
            f"(lookups of diary_week during the run: primary {scans['primary']}, "
            f"replica {scans['replica']})"
        )
    header = (
        f"{args.nodes} API node(s) × {args.workers} uvicorn workers{reads_where}; "
        f"slice {size_tag(args)}, "
        f"{len(world['guardian'])} families reading; phases of {args.seconds:g} s, together at "
        f"{args.together_share:g} of each rate; load at the end {load} (shared machine, "
        f"2 cores); {time.perf_counter() - started:.0f} s in all"
    )
    text = table([r.row() for r in results])
    print("\n" + header + "\n\n" + text, flush=True)
    meal_lines = meal_summary(results)
    print("\n" + meal_lines, flush=True)
    for r in results:
        if r.note:
            print(f"{r.name}: {r.note}")
    if args.plot:
        plot(results, ROOT / args.plot, header)
    if args.write_docs:
        key = f"{args.nodes}-node" + ("-replica" if args.replica_url else "")
        doc = (
            f"## The region harness (tests/load/region_harness.py), {key}\n\n"
            f"    {command}\n\n{header}.\n\n{text}\n\n"
            "Each row's ceiling is measured in the same run: `/health` of the same servers "
            "through the same client (closed loop, 32 at once) and, for the diary, the bare "
            "lookup of a stored week through asyncpg (16 connections). The notify row counts "
            "lost and duplicated pushes as errors; its p50/p95/p99 are from mark commit to the "
            "push at the FCM stand-in. The bot row is the unpaced rate of `--bot-chats` chats "
            "sending /today at once. The meal cut-off rows are guardians' orders for the day "
            "after tomorrow on a slice of its own (`bench_meals_cutoff`'s arrangement, a fresh "
            "region each run); their answers, stored or refused by reason, and the books "
            "checked after each phase:\n\n"
            f"{meal_lines}\n\n"
            "The capacity model built on these figures is docs/capacity.md.\n"
        )
        if args.plot:
            doc += f"\n![region harness]({args.plot.removeprefix('docs/')})\n"
        write_docs(doc, key)


if __name__ == "__main__":
    asyncio.run(main())
