"""CPU and database statements per meal order, in one process (run by hand).

Arranges a small slice with the cut-off benchmark's `arrange` (its own PostgreSQL database,
dropped afterwards), then places `--orders` orders for tomorrow through the real app in this
process (Litestar's ASGI app through httpx, each with its guardian's access token) and counts,
per order: the process CPU (the app and the client; the PostgreSQL backends apart) and the
statements sent to PostgreSQL (asyncpg calls, BEGIN and COMMIT included). `--profile FILE`
writes a cProfile of the orders; `--top N` prints its N costliest functions.

    uv run python -m tests.load.profile_meals_order --orders 300
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import resource
import secrets
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr

from backend import bootstrap
from backend.accounts.tokens import AccessTokens, build_jwt_auth
from backend.app import create_app
from backend.core import db
from backend.core.rights import Grant, Role, ScopeKind
from backend.settings import Settings
from tests.load.bench_meals_cutoff import ADMIN_URL, REDIS, ROOT, ZONE, arrange, env_for

STATEMENTS: Counter[str] = Counter()


def count_statements() -> None:
    """Count what asyncpg sends (every ORM query, BEGIN and COMMIT go through these)."""
    from asyncpg.connection import Connection

    for name in ("execute", "fetch", "fetchrow", "fetchval", "executemany"):
        original = getattr(Connection, name)

        def wrapped(self: Any, query: str, *args: Any, _original: Any = original, **kw: Any):
            STATEMENTS[" ".join(str(query).split())[:110]] += 1
            return _original(self, query, *args, **kw)

        setattr(Connection, name, wrapped)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--pupils", type=int, default=600)
    parser.add_argument("--profile", default="")
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print the statements of one order")
    args = parser.parse_args()
    name = f"parta_prof_meals_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    secret = secrets.token_urlsafe(48)
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
        slice_ = await arrange(url, 1, args.pupils, 0.0)
        await db.close_engine(engine)
        pupils: list[tuple[int, int, int]] = slice_["pupils"]  # type: ignore[assignment]
        tokens = AccessTokens(build_jwt_auth(secret, timedelta(hours=2), []), timedelta(hours=2))
        env = env_for(url, secret)
        app_settings = Settings(
            environment="production",
            database_url=url,
            redis_url=REDIS,
            secret_key=SecretStr(secret),
            api_rate_limit_per_minute=100_000_000,
            log_level="WARNING",
        )
        del env
        app = create_app(app_settings)
        from datetime import datetime
        from zoneinfo import ZoneInfo

        tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
        count_statements()
        transport = httpx.ASGITransport(app=app)
        async with (
            Lifespan(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            plan = pupils[: args.orders + 20]

            def token(sid: int) -> str:
                return tokens.issue(
                    1_000_000 + sid,
                    [Grant(Role.GUARDIAN, ScopeKind.STUDENT, sid)],
                    uuid.uuid4().hex,
                    "Родитель",
                )

            async def order(sid: int, set_id: int) -> int:
                response = await client.post(
                    f"/api/v1/meals/pupils/{sid}/orders",
                    json={"date": tomorrow.isoformat(), "meal_set_id": set_id},
                    headers={"Authorization": f"Bearer {token(sid)}"},
                )
                return response.status_code

            for sid, _, set_id in plan[:20]:  # warm the pool and the statement caches
                assert await order(sid, set_id) == 201, "warm-up order refused"
            STATEMENTS.clear()
            profiler = cProfile.Profile(time.process_time) if args.profile or args.top else None
            before, wall = cpu(), time.monotonic()
            if profiler:
                profiler.enable()
            codes: Counter[int] = Counter()
            for sid, _, set_id in plan[20:]:
                codes[await order(sid, set_id)] += 1
            if profiler:
                profiler.disable()
            spent, took = cpu() - before, time.monotonic() - wall
            n = len(plan) - 20
            print(f"orders: {n}, answers {dict(codes)}")
            print(
                f"CPU per order (app + client, this process): {spent / n * 1000:.2f} ms; "
                f"wall per order {took / n * 1000:.2f} ms"
            )
            print(f"statements per order: {sum(STATEMENTS.values()) / n:.1f}")
            if args.show:
                for text, k in STATEMENTS.most_common():
                    print(f"  {k / n:5.2f}  {text}")
            if profiler:
                if args.profile:
                    profiler.dump_stats(args.profile)
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(args.top or 40)
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class Lifespan:
    """The app's ASGI lifespan (start-up and shut-down) run in this event loop."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def __aenter__(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        answer = await self.outbox.get()
        assert answer["type"] == "lifespan.startup.complete", answer

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        await self.task


if __name__ == "__main__":
    asyncio.run(main())
