"""Benchmark: reports on the region slice (`tests/load/region_slice.py`), through the API.

  class sheet   GET /api/v1/reports/classes/{id}/performance?period_id=... (JSON), per class
  class xlsx    the same as an XLSX file
  school xlsx   GET /api/v1/reports/schools/{id}/performance?period_id=...&format=xlsx
                (every class's sheet, a summary sheet with a chart)
  school pdf    the same as a PDF

    PARTA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/parta_bench \
        uv run python -m tests.load.bench_reports
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from datetime import timedelta

import asyncpg
import httpx

from backend.accounts.tokens import AccessTokens, build_jwt_auth
from backend.core.rights import Grant, Role, ScopeKind
from tests.load.bench_diary import BASE, DB, start_server, wait_ready


async def timed(client: httpx.AsyncClient, url: str, token: str) -> tuple[float, int]:
    started = time.perf_counter()
    r = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
    return elapsed * 1000, len(r.content)


async def main() -> None:
    conn = await asyncpg.connect(DB)
    school = await conn.fetchval("SELECT min(id) FROM school")
    period = await conn.fetchval(
        "SELECT p.id FROM study_period p JOIN academic_year y ON y.id = p.academic_year "
        "WHERE y.school = $1 AND p.number = 2",
        school,
    )
    classes = [
        r["id"] for r in await conn.fetch("SELECT id FROM school_class WHERE school = $1", school)
    ]
    await conn.close()
    secret = secrets.token_urlsafe(48)
    tokens = AccessTokens(build_jwt_auth(secret, timedelta(hours=2), []), timedelta(hours=2))
    token = tokens.issue(
        3_000_000, [Grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, school)], "s", "Завуч"
    )
    server = start_server(secret, 2)
    try:
        wait_ready()
        async with httpx.AsyncClient(base_url=BASE, timeout=120) as client:
            base = f"/api/v1/reports/classes/{{}}/performance?period_id={period}"
            await timed(client, base.format(classes[0]), token)  # warm up
            sheet = [(await timed(client, base.format(c), token))[0] for c in classes]
            xlsx = [
                (await timed(client, base.format(c) + "&format=xlsx", token))[0]
                for c in classes[:5]
            ]
            url = f"/api/v1/reports/schools/{school}/performance?period_id={period}"
            school_xlsx, size_x = await timed(client, url + "&format=xlsx", token)
            school_pdf, size_p = await timed(client, url + "&format=pdf", token)
        print(
            f"class sheet (JSON), {len(sheet)} classes: median {statistics.median(sheet):.0f} ms, "
            f"max {max(sheet):.0f} ms"
        )
        print(
            f"class sheet (XLSX): median {statistics.median(xlsx):.0f} ms, max {max(xlsx):.0f} ms"
        )
        print(f"school XLSX ({len(classes)} classes, {size_x // 1024} KiB): {school_xlsx:.0f} ms")
        print(f"school PDF ({size_p // 1024} KiB): {school_pdf:.0f} ms")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    asyncio.run(main())
