"""Benchmark: the last minute before the meals cut-off across a region slice (run by hand).

Issue 15: "10,000 orders in the last 60 seconds before a cut-off across a region slice, p99 ≤
150 ms, every one either stored or refused with a reason, the ledger exact afterwards; the
requisitions of all schools of the slice built in ≤ 5 s."

Creates a PostgreSQL database of its own (dropped afterwards), migrates it and arranges a slice:
`--schools` schools (one region, two municipalities, the Tyumen time zone), classes of grades
1-11 with `--pupils` pupils per school, a caterer with a menu (lunch for 1-4 and 5-11, the
two-week cycle on every day), free lunch for grades 1-4 (`primary_free_meals`), and the pupils'
accounts topped up in cash (all but `--unfunded` of them; those orders are refused for lack of
money). The school's cut-off for tomorrow is set to a minute boundary a little ahead; then the
real API (uvicorn, `--workers` processes) receives `--orders` orders for tomorrow, paced evenly
over the last 60 seconds before it (open loop: a slow answer does not delay the next order),
each with its own guardian's access token (signed with the server's key, the guardian's
grant on that pupil, as the sign-in issues). `--repeat` of them repeat an earlier pupil's order
(a second tap: refused "already ordered").

Reported: latency p50/p95/p99/max, stored vs refused by reason (anything else is an error), the
server's and its PostgreSQL backends' CPU per order, this process's own (the firing client:
it shares the two cores with the server), the load average, and the same server's
`/health` ceiling in the same run. Afterwards, in this process: every school's books checked
(debits = credits, each account = the replay of its entries, nobody past the limit), the orders
and holds in the database equal to the stored answers; once the cut-off has passed, the
requisitions of all schools frozen and timed (`requisitions.freeze`), then the cut-off run that
posts the holds (`--post`, timed apart) and the books checked again.

    uv run python -m tests.load.bench_meals_cutoff                     # 10,000 orders, 5 schools
    uv run python -m tests.load.bench_meals_cutoff --orders 2000 --seconds 20   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from backend import bootstrap
from backend.accounts.tokens import AccessTokens, build_jwt_auth
from backend.core import db
from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.meals import benefits, ledger, menus, orders, requisitions
from backend.meals import schemas as s
from backend.schools.structure import schemas as ss
from backend.schools.structure import services as structure
from backend.settings import Settings

ADMIN_URL = os.environ.get("PARTA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
PORT = int(os.environ.get("PARTA_BENCH_PORT", "8815"))
BASE = f"http://127.0.0.1:{PORT}"
ROOT = Path(__file__).resolve().parents[2]
ZONE = "Asia/Yekaterinburg"  # Tyumen
LETTERS = "АБВГДЕЖИКЛ"
TOP_UP = 200_000  # kopecks in each funded pupil's account
SYSTEM = Actor.system()
TICKS = os.sysconf("SC_CLK_TCK")
IN_FLIGHT = 64


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def env_for(url: str, secret: str) -> dict[str, str]:
    return {
        **os.environ,
        "PARTA_ENVIRONMENT": "production",
        "PARTA_DATABASE_URL": url,
        "PARTA_REDIS_URL": REDIS,
        "PARTA_SECRET_KEY": secret,
        "PARTA_API_RATE_LIMIT_PER_MINUTE": "100000000",
        "PARTA_LOG_LEVEL": "WARNING",
        "PARTA_DATABASE_POOL_MAX": "20",
        "PARTA_ACCESS_TOKEN_MINUTES": "120",
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (from /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def children_of(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            out += children_of(int(child))
    return out


async def arrange(
    url: str, n_schools: int, pupils: int, unfunded: float, *, region_code: str = "72"
) -> dict[str, object]:
    """The slice. Bulk rows by SQL; the meal settings and menus through the services.
    `region_code` (unique): another code arranges a second slice beside other data (the
    region harness adds one to its kept database each run); only the slice's own pupils are
    returned."""
    conn = await asyncpg.connect(url)
    name = "Тюменская область" + ("" if region_code == "72" else f" ({region_code})")  # unique
    region = await conn.fetchval(
        "INSERT INTO region (name, code, time_zone) VALUES ($3, $2, $1) RETURNING id",
        ZONE,
        region_code,
        name,
    )
    munis = [
        await conn.fetchval(
            "INSERT INTO municipality (region, name) VALUES ($1, $2) RETURNING id", region, name
        )
        for name in ("Тюмень", "Тюменский район")
    ]
    today = datetime.now(ZoneInfo(ZONE)).date()
    schools = []
    per_class = -(-pupils // (11 * len(LETTERS)))
    classes_needed = -(-pupils // per_class)
    for n in range(n_schools):
        school = await conn.fetchval(
            "INSERT INTO school (municipality, full_name, short_name, address, time_zone, "
            "settings, is_active, created_at) VALUES ($1, $2, $3, '', $4, '{}', true, now()) "
            "RETURNING id",
            munis[n % 2],
            f"Школа № {n + 1}",
            f"СОШ № {n + 1}",
            ZONE,
        )
        year = await conn.fetchval(
            "INSERT INTO academic_year (school, name, starts_on, ends_on) "
            "VALUES ($1, '2026/2027', $2, $3) RETURNING id",
            school,
            today - timedelta(days=100),
            today + timedelta(days=200),
        )
        await conn.execute(
            "INSERT INTO school_class (school, academic_year, grade, letter, shift) "
            "SELECT $1, $2, g, l, 1 FROM generate_series(1, 11) g, "
            "unnest($3::text[]) WITH ORDINALITY AS x(l, i) WHERE (i - 1) * 11 + g <= $4",
            school,
            year,
            list(LETTERS),
            classes_needed,
        )
        await conn.execute(
            "INSERT INTO student (school, personal_file_number, last_name, first_name, "
            "middle_name, sex, citizenship, document_kind, document_series, document_number, "
            "document_issued_by, registration_address, residence_address, health_group, "
            "pe_group, archived, created_at, updated_at) "
            "SELECT c.school, c.id || '-' || p, 'Ученик' || p, 'Иван', '', 'м', 'RUS', '', '', "
            "'', '', '', '', 'II', 'basic', false, now(), now() "
            "FROM school_class c, generate_series(1, $2) p WHERE c.school = $1 "
            "ORDER BY c.id, p LIMIT $3",
            school,
            per_class,
            pupils,
        )
        await conn.execute(
            "INSERT INTO enrollment (student, school, school_class, kind, date, order_number, "
            "reason, created_at) "
            "SELECT s.id, s.school, c.id, 'admitted', $2, '1', '', now() FROM student s "
            "JOIN school_class c ON c.id = split_part(s.personal_file_number, '-', 1)::int "
            "WHERE s.school = $1",
            school,
            today - timedelta(days=100),
        )
        schools.append(school)

    # Menus, benefits and settings through the services (what a caterer and a school do).
    lunch_sets: dict[tuple[int, int], int] = {}  # (school, grade) -> the lunch set
    monday = today - timedelta(days=today.isoweekday() - 1)
    for school in schools:
        await structure.update_settings(
            SYSTEM,
            school,
            ss.SchoolSettingsUpdate(
                meal_cutoff_time="23:59",
                meal_cutoff_days_before=1,
                study_days=[1, 2, 3, 4, 5, 6, 7],
            ),
        )
        caterer = await menus.create_caterer(SYSTEM, school, s.CatererCreate(name="Комбинат"))
        dishes = [
            (
                await menus.create_dish(
                    SYSTEM,
                    caterer.id,
                    s.DishCreate(
                        name=name, weight_g=250, kcal=150, proteins_g=5, fats_g=4, carbs_g=20
                    ),
                )
            ).id
            for name in ("Суп овощной", "Гуляш с гречкой", "Компот")
        ]
        junior = await menus.create_meal_set(
            SYSTEM,
            school,
            s.MealSetCreate(
                caterer_id=caterer.id,
                name="Обед 1–4",
                kind="lunch",
                price=9_500,
                grades=[1, 2, 3, 4],
                dish_ids=dishes,
            ),
        )
        senior = await menus.create_meal_set(
            SYSTEM,
            school,
            s.MealSetCreate(
                caterer_id=caterer.id,
                name="Обед 5–11",
                kind="lunch",
                price=12_000,
                grades=list(range(5, 12)),
                dish_ids=dishes,
            ),
        )
        await menus.set_cycle(
            SYSTEM,
            school,
            s.MenuCycleUpdate(
                starts_on=monday,
                days=[
                    s.MenuCycleDayIn(week=w, weekday=d, meal_set_ids=[junior.id, senior.id])
                    for w in (1, 2)
                    for d in range(1, 8)
                ],
            ),
        )
        await benefits.add_cover(
            SYSTEM,
            school,
            s.BenefitCoverCreate(
                category="primary_free_meals",
                cover="full",
                kinds=["lunch"],
                valid_from=today - timedelta(days=100),
                document="ФЗ-273, ст. 37",
            ),
        )
        for grade in range(1, 12):
            lunch_sets[(school, grade)] = junior.id if grade <= 4 else senior.id

    # The pupils' accounts, topped up in cash: the ledger's rows and totals written as
    # `ledger.transfer` writes them (one posted top-up per pupil), so the books balance.
    pupils_rows = await conn.fetch(
        "SELECT s.id, s.school, c.grade FROM student s JOIN enrollment e ON e.student = s.id "
        "JOIN school_class c ON c.id = e.school_class WHERE s.school = ANY($1::int[]) "
        "ORDER BY s.id",
        schools,
    )
    rng = random.Random(15)
    funded = [r for r in pupils_rows if rng.random() >= unfunded]
    for school in schools:
        mine = [r for r in funded if r["school"] == school]
        desk = await ledger.book_account(ledger.AccountKind.CASH_DESK, school)
        await conn.execute(
            "INSERT INTO ledger_account (code, kind, school, student, overdraft_limit, "
            "debits_pending, debits_posted, credits_pending, credits_posted, created_at) "
            "SELECT 'pupil:' || sid, 'pupil', $1, sid, 0, 0, 0, 0, $2, now() "
            "FROM unnest($3::int[]) sid",
            school,
            TOP_UP,
            [r["id"] for r in mine],
        )
        await conn.execute(
            "INSERT INTO pupil_account (student, school, ledger_account, stop_list, created_at, "
            "updated_at) SELECT a.student, a.school, a.id, '[]', now(), now() "
            "FROM ledger_account a WHERE a.school = $1 AND a.kind = 'pupil'",
            school,
        )
        await conn.execute(
            "INSERT INTO ledger_transfer (debit_account, credit_account, amount, status, kind, "
            "idempotency_key, school, reference, reason, created_at) "
            "SELECT $2, a.id, $3, 'posted', 'top_up', 'bench-cash:' || a.student, $1, 'cash', "
            "'', now() FROM ledger_account a WHERE a.school = $1 AND a.kind = 'pupil'",
            school,
            desk,
            TOP_UP,
        )
        await conn.execute(
            "UPDATE ledger_account SET debits_posted = $2 WHERE id = $1", desk, TOP_UP * len(mine)
        )
    await conn.close()
    return {
        "schools": schools,
        "pupils": [
            (r["id"], r["school"], lunch_sets[(r["school"], r["grade"])]) for r in pupils_rows
        ],
        "funded": len(funded),
    }


async def freeze_only(url: str, schools: list[int], pupils: list[tuple[int, int, int]]) -> None:
    """The requisitions of all schools when every pupil ordered tomorrow's lunch: the orders
    are written by SQL (the freeze reads only the orders, sets and classes), then frozen."""
    tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    conn = await asyncpg.connect(url)
    await conn.execute(
        "INSERT INTO meal_order (student, school, date, meal_kind, meal_set, caterer, "
        "school_class, price, paid_by, benefit_amount, status, live, cancel_reason, note, "
        "created_at) "
        "SELECT p.sid, p.school, $2, 'lunch', p.set_id, m.caterer, e.school_class, m.price, "
        "CASE WHEN c.grade <= 4 THEN 'benefit' ELSE 'balance' END, "
        "CASE WHEN c.grade <= 4 THEN m.price ELSE 0 END, 'ordered', 1, '', '', now() "
        "FROM unnest($1::int[], $3::int[], $4::int[]) AS p(sid, school, set_id) "
        "JOIN meal_set m ON m.id = p.set_id JOIN enrollment e ON e.student = p.sid "
        "JOIN school_class c ON c.id = e.school_class",
        [p[0] for p in pupils],
        tomorrow,
        [p[1] for p in pupils],
        [p[2] for p in pupils],
    )
    count = await conn.fetchval("SELECT count(*) FROM meal_order")
    await conn.close()
    t = time.monotonic()
    frozen = sum([await requisitions.freeze(school, tomorrow) for school in schools])
    print(
        f"requisitions of {count} orders: {frozen} frozen for {len(schools)} schools in "
        f"{time.monotonic() - t:.2f} s; load {loadavg()}",
        flush=True,
    )


def start_server(url: str, secret: str, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", "backend.asgi:app_factory",
            "--host", "127.0.0.1", "--port", str(PORT), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
            "--timeout-keep-alive", "120",
        ],
        env=env_for(url, secret),
        cwd=ROOT,
    )  # fmt: skip


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError("the server did not become ready")


async def health_ceiling(client: httpx.AsyncClient, seconds: float = 5.0) -> float:
    count, stop = 0, time.monotonic() + seconds

    async def one() -> None:
        nonlocal count
        while time.monotonic() < stop:
            (await client.get("/health")).raise_for_status()
            count += 1

    await asyncio.gather(*(one() for _ in range(16)))
    return count / seconds


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# --- the pieces of a burst, also driven by the region harness (tests/load/region_harness.py) ---


def order_plan(
    pupils: list[tuple[int, int, int]], orders: int, repeat: float, rng: random.Random
) -> list[tuple[int, int, int]]:
    """The first `orders` of `pupils` (shuffled), `repeat` of them replaced in the second half
    by an earlier pupil's order (a second tap: refused "already ordered")."""
    pupils = list(pupils)
    rng.shuffle(pupils)
    plan = pupils[:orders]
    for i in rng.sample(range(orders // 2, orders), int(orders * repeat)):
        plan[i] = plan[rng.randrange(0, orders // 2)]
    return plan


def guardian_tokens(tokens: AccessTokens, plan: list[tuple[int, int, int]]) -> dict[int, str]:
    """An access token for each planned pupil's guardian, as the sign-in issues it."""
    return {
        sid: tokens.issue(
            1_000_000 + sid,
            [Grant(Role.GUARDIAN, ScopeKind.STUDENT, sid)],
            uuid.uuid4().hex,
            "Родитель",
        )
        for sid, _, _ in plan
    }


async def set_cutoff(schools: list[int], cutoff: datetime) -> None:
    """Every school's cut-off for the next day at `cutoff`'s local time of day."""
    for school in schools:
        await structure.update_settings(
            SYSTEM, school, ss.SchoolSettingsUpdate(meal_cutoff_time=cutoff.strftime("%H:%M"))
        )


def order_path(sid: int) -> str:
    return f"/api/v1/meals/pupils/{sid}/orders"


def order_json(day: date, set_id: int) -> dict[str, object]:
    return {"date": day.isoformat(), "meal_set_id": set_id}


def order_outcome(status: int, body: object) -> str | None:
    """ "stored", or "refused <status>: <reason>" (the reason with its numbers blanked: one
    line per kind of refusal); None: neither (an error)."""
    if status == 201:
        return "stored"
    if 400 <= status < 500 and isinstance(body, dict) and body.get("message"):
        reason = re.sub(r"\d[\d,.: ]*", "…", body["message"])[:90]
        return f"refused {status}: {reason}"
    return None


@dataclass
class Books:
    in_db: int  # live orders for the day in the database
    holds: int  # pending meal holds in the ledger
    exact: bool  # every school's books check out
    debits_posted: int
    debits_pending: int

    def line(self, stored: int) -> str:
        return (
            f"orders in the database {self.in_db} (stored answers {stored}), holds "
            f"{self.holds}; books exact: {self.exact} (debits = credits posted "
            f"{self.debits_posted}, pending {self.debits_pending})"
        )


async def check_books(url: str, schools: list[int], day: date) -> Books:
    """The slice's orders for `day` and holds counted in the database, and every school's
    books checked (`ledger.check_books`: debits = credits, each account = the replay of its
    entries, nobody past the limit). Needs the ORM bound to `url`'s database."""
    conn = await asyncpg.connect(url)
    in_db = await conn.fetchval(
        "SELECT count(*) FROM meal_order WHERE date = $1 AND live = 1 AND school = ANY($2)",
        day,
        schools,
    )
    holds = await conn.fetchval(
        "SELECT count(*) FROM ledger_transfer WHERE status = 'pending' AND kind IN "
        "('meal_order', 'benefit_meal') AND school = ANY($1)",
        schools,
    )
    await conn.close()
    books = [await ledger.check_books(school) for school in schools]
    return Books(
        in_db,
        holds,
        all(b.ok for b in books),
        sum(b.debits_posted for b in books),
        sum(b.debits_pending for b in books),
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--schools", type=int, default=5)
    parser.add_argument("--pupils", type=int, default=2_000, help="per school")
    parser.add_argument("--unfunded", type=float, default=0.03)
    parser.add_argument("--repeat", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--post", action="store_true", help="run the cut-off (post the holds)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--freeze-only",
        action="store_true",
        help="time only the requisitions of a lunch ordered for every pupil (orders by SQL)",
    )
    parser.add_argument(
        "--arrange-only", action="store_true", help="arrange the slice, keep it, print its URL"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up: the minute starts on a server whose pools and copies are empty",
    )
    args = parser.parse_args()

    name = f"parta_bench_meals_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    secret = secrets.token_urlsafe(48)
    server = None
    engine = None
    try:
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli", "migrate", env=env_for(url, secret), cwd=ROOT
        )
        if await migrate.wait() != 0:
            raise RuntimeError("migrations failed")
        settings = Settings(database_url=url)
        engine = db.make_engine(settings)
        db.bind_engine(engine, bootstrap.all_tables())
        await db.open_engine(engine, settings)
        t0 = time.monotonic()
        slice_ = await arrange(url, args.schools, args.pupils, args.unfunded)
        schools: list[int] = slice_["schools"]  # type: ignore[assignment]
        pupils: list[tuple[int, int, int]] = slice_["pupils"]  # type: ignore[assignment]
        print(
            f"slice: {len(schools)} schools, {len(pupils)} pupils ({slice_['funded']} with money), "
            f"arranged in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        if args.freeze_only:
            await freeze_only(url, schools, pupils)
            return
        if args.arrange_only:
            args.keep = True
            print(f"kept: {url}", flush=True)
            return
        plan = order_plan(pupils, args.orders, args.repeat, random.Random(7))
        tokens = AccessTokens(build_jwt_auth(secret, timedelta(hours=2), []), timedelta(hours=2))
        token_of = guardian_tokens(tokens, plan)

        # The cut-off: the next minute boundary at least 40 s after the server is up.
        server = start_server(url, secret, args.workers)
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        async with httpx.AsyncClient(base_url=BASE, timeout=60, limits=limits) as client:
            await wait_ready(client)
            ceiling = await health_ceiling(client)
            print(f"/health ceiling: {ceiling:.0f} req/s, load {loadavg()}", flush=True)
            zone = ZoneInfo(ZONE)
            local_now = datetime.now(zone)
            cutoff = (local_now + timedelta(seconds=args.seconds + 40)).replace(
                second=0, microsecond=0
            ) + timedelta(minutes=1)
            await set_cutoff(schools, cutoff)
            tomorrow = (cutoff + timedelta(days=1)).date()
            start_at = cutoff.timestamp() - args.seconds
            print(
                f"cut-off {cutoff:%H:%M} local ({ZONE}) for {tomorrow}; "
                f"orders from {args.seconds:.0f} s before it",
                flush=True,
            )
            # Warm each worker's connections (not counted).
            for _ in range(20):
                await client.get("/health")
            if not args.cold:
                # A server at its cut-off minute has served the day: its database pools are
                # grown and the schools' menus copied. Families look at tomorrow's menu first
                # (48 at once, 400 families spread over the schools) — not counted; `--cold`
                # leaves this out, to see a server started just before the minute.
                warm_gate = asyncio.Semaphore(48)

                async def look(sid: int) -> None:
                    async with warm_gate:
                        auth = {"Authorization": f"Bearer {token_of[sid]}"}
                        await client.get(
                            f"/api/v1/meals/pupils/{sid}/menu",
                            params={"date": tomorrow.isoformat()},
                            headers=auth,
                        )
                        # ... and a tap on a set that is not on it (refused, nothing stored):
                        # the order path's reads and the schools' menu copies, warm.
                        await client.post(
                            order_path(sid), json=order_json(tomorrow, 999_999), headers=auth
                        )

                lookers = [sid for sid, _, _ in plan[:: max(1, len(plan) // 400)]]
                await asyncio.gather(*(look(sid) for sid in lookers))
            await asyncio.sleep(max(0.0, start_at - time.time()))

            pids = children_of(server.pid)
            conn = await asyncpg.connect(url)
            backends = [
                r["pid"]
                for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                    "pg_backend_pid()",
                    name,
                )
            ]
            cpu_before = cpu_seconds(pids), cpu_seconds(backends)
            client_cpu_before = time.process_time()  # this process: the firing client
            latencies: list[float] = []
            timeline: list[tuple[float, float]] = []  # (when due, s into the run; latency)
            outcomes: Counter[str] = Counter()
            errors: list[str] = []
            stored_ids: list[int] = []
            interval = args.seconds / args.orders
            started = time.monotonic()
            started_wall = time.time()

            # At most IN_FLIGHT requests at once (httpx's pool slows down badly with
            # thousands of waiters); latency is counted from each order's scheduled moment,
            # so time spent waiting for a free connection behind slow answers counts too.
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def one(i: int, sid: int, set_id: int) -> None:
                due = started + i * interval
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                try:
                    async with gate:
                        response = await client.post(
                            order_path(sid),
                            json=order_json(tomorrow, set_id),
                            headers={"Authorization": f"Bearer {token_of[sid]}"},
                        )
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    return
                latencies.append(time.monotonic() - due)
                timeline.append((due - started, latencies[-1]))
                body = response.json()
                outcome = order_outcome(response.status_code, body)
                if outcome is None:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    return
                outcomes[outcome] += 1
                if outcome == "stored":
                    stored_ids.append(body["id"])

            waits: Counter[str] = Counter()
            sampling = True

            async def sample() -> None:
                """What the slice's PostgreSQL backends are doing, once a second."""
                watcher = await asyncpg.connect(url)
                while sampling:
                    for r in await watcher.fetch(
                        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                        "WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'",
                        name,
                    ):
                        waits[f"{r['state']}/{r['wait_event_type']}/{r['wait_event']}"] += 1
                    await asyncio.sleep(1)
                await watcher.close()

            sampler = asyncio.create_task(sample())
            # Each order's task is made at its moment (open loop, as wrk2 does), not all
            # 10,000 at the start: making them all at once held this loop for a second or two
            # while the first orders were due, and that wait was counted as the server's.
            fired: list[asyncio.Task[None]] = []
            for i, (sid, _, st) in enumerate(plan):
                await asyncio.sleep(max(0.0, started + i * interval - time.monotonic()))
                fired.append(asyncio.create_task(one(i, sid, st)))
            await asyncio.gather(*fired)
            sampling = False
            await sampler
            elapsed = time.monotonic() - started
            # Backends the pool opened during the run count whole (they did nothing before).
            later = [
                r["pid"]
                for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                    "pg_backend_pid()",
                    name,
                )
            ]
            backends = sorted(set(backends) | set(later))
            cpu_after = cpu_seconds(pids), cpu_seconds(backends)
            client_cpu = time.process_time() - client_cpu_before
            load_after = loadavg()
            last_sent = datetime.fromtimestamp(started_wall + (len(plan) - 1) * interval, UTC)
            await conn.close()
        server.terminate()
        server.wait(timeout=30)
        server = None

        ms = [x * 1000 for x in latencies]
        api_cpu = cpu_after[0] - cpu_before[0]
        pg_cpu = cpu_after[1] - cpu_before[1]
        print(
            f"{len(plan)} orders sent in {elapsed:.1f} s ({len(plan) / elapsed:.0f}/s), last "
            f"{(cutoff.astimezone(UTC) - last_sent).total_seconds():.1f} s before the cut-off",
            flush=True,
        )
        print(
            f"latency ms: p50 {statistics.median(ms):.1f}, p95 {pct(ms, 0.95):.1f}, "
            f"p99 {pct(ms, 0.99):.1f}, max {max(ms):.1f}; load after {load_after}",
            flush=True,
        )
        print(
            f"CPU per order: API {api_cpu / len(plan) * 1000:.1f} ms, its PostgreSQL backends "
            f"{pg_cpu / len(plan) * 1000:.1f} ms; this client {client_cpu / len(plan) * 1000:.1f} "
            f"ms ({client_cpu / elapsed:.0%} of a core)",
            flush=True,
        )
        print(f"PostgreSQL backends busy (samples): {dict(waits.most_common(6))}", flush=True)
        windows = []
        for w in range(0, int(args.seconds), 10):
            inside = [lat * 1000 for at, lat in timeline if w <= at < w + 10]
            if inside:
                windows.append(f"{w}-{w + 10} s: p99 {pct(inside, 0.99):.0f}")
        print(f"latency by 10-s window (ms): {'; '.join(windows)}", flush=True)
        slow = sorted(timeline, key=lambda x: -x[1])[:8]
        print(
            "slowest (due at s: ms): "
            + ", ".join(f"{at:.1f}: {lat * 1000:.0f}" for at, lat in sorted(slow)),
            flush=True,
        )
        for key, value in sorted(outcomes.items()):
            print(f"  {key}: {value}", flush=True)
        print(f"errors (neither stored nor refused with a reason): {len(errors)}", flush=True)
        for e in errors[:5]:
            print("   ", e, flush=True)

        # The ledger afterwards.
        print((await check_books(url, schools, tomorrow)).line(outcomes["stored"]), flush=True)

        # The requisitions of all schools, frozen once the cut-off has passed.
        await asyncio.sleep(max(0.0, cutoff.timestamp() - time.time() + 1))
        if args.post:
            t = time.monotonic()
            posted = 0
            for school in schools:
                posted += (await orders.run_cutoff(SYSTEM, school)).posted
            print(f"cut-off run: {posted} orders posted in {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        frozen = 0
        for school in schools:
            frozen += await requisitions.freeze(school, tomorrow)
        took = time.monotonic() - t
        print(
            f"requisitions: {frozen} frozen for {len(schools)} schools in {took:.2f} s; "
            f"load {loadavg()}",
            flush=True,
        )
        if args.post:
            books = [await ledger.check_books(school) for school in schools]
            print(f"books exact after posting: {all(b.ok for b in books)}", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if engine is not None:
            await db.close_engine(engine)
        if not args.keep:
            admin = await asyncpg.connect(ADMIN_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
