"""Benchmark: the staff web's year and timetable pages and the messages page for a school of
~1,000 pupils, read as the demo coordinator.

Uses the database of `bench_staff_journal` (one school seeded as `parta seed` does on
PostgreSQL: 33 classes of 30 pupils, the lessons of the year), seeding it first unless
`--reuse` says it is there; starts `parta serve`, signs in through the form and reads, one
request at a time, `--rounds` times: the week grid of every class, of ten teachers and of ten
rooms, the year, classes, curriculum-and-loads, the day's lessons and the messages page. Prints
per page kind p50/p95/max and the server's CPU per request (user + system from /proc, far less
noisy than latency on a shared machine), the median `/health` time of the same run (the
ceiling) and the load average.

    uv run python -m tests.load.bench_web_year [--rounds 3] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from tests.load.bench_staff_journal import (
    DEFAULT_URL,
    _free_port,
    _load,
    _parta,
    _percentile,
    _recreate,
)
from tests.load.bench_staff_pages import cpu_ticks

BASE = "/admin/web/timetable"
TICK = 1 / os.sysconf("SC_CLK_TCK")


def sign_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    client.get("/admin/tasks/login")
    r = client.post(
        "/admin/tasks/login",
        data={
            "identifier": "coordinator",
            "password": "parta-demo",
            "csrf": client.cookies.get("parta_admin_csrf"),
            "next": f"{BASE}/",
        },
    )
    assert r.status_code == 303, r.text
    return client


def pages(client: httpx.Client) -> dict[str, list[str]]:
    grid = client.get(f"{BASE}/")
    assert grid.status_code == 200, grid.text[:300]
    school = re.search(r'name="school" value="(\d+)"', grid.text)
    assert school is not None
    q = f"school={school.group(1)}"
    form = grid.text.split('id="entry-form"', 1)[1]
    classes = re.findall(r'<option value="c(\d+)"', form)
    teachers = re.findall(r'<option value="(\d+)"', form.split('name="teacher_id"', 1)[1])[:10]
    rooms = re.findall(
        r'<option value="(\d+)"', form.split('name="room_id"', 1)[1].split("</select>", 1)[0]
    )[:10]
    return {
        "grid of a class": [f"{BASE}/?{q}&by=class&id={c}" for c in classes],
        "grid of a teacher": [f"{BASE}/?{q}&by=teacher&id={t}" for t in teachers],
        "grid of a room": [f"{BASE}/?{q}&by=room&id={r}" for r in rooms],
        "year": [f"{BASE}/year?{q}"],
        "classes and groups": [f"{BASE}/classes?{q}"],
        "curriculum and loads": [f"{BASE}/curriculum?{q}"],
        "day's lessons": [f"{BASE}/day?{q}"],
        "messages": [f"/admin/web/messages?{q}"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="the database is seeded already")
    args = parser.parse_args()
    url = os.environ.get("PARTA_BENCH_DATABASE_URL", DEFAULT_URL)
    where = Path(tempfile.mkdtemp(prefix="parta-web-year-"))
    env = {
        **os.environ,
        "PARTA_DATABASE_URL": url,
        "PARTA_REDIS_URL": os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
        "PARTA_MEDIA_ROOT": str(where / "media"),
        "PARTA_API_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    if not args.reuse:
        _recreate(url)
        _parta(env, "migrate")
        _parta(env, "seed", "--classes-per-grade", "3", "--pupils-per-class", "30")
    _parta(env, "migrate")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        loads = [_load()]
        health: list[float] = []
        times: dict[str, list[float]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        client = sign_in(base)
        try:
            kinds = pages(client)
            for links in kinds.values():
                for link in links:
                    client.get(link).raise_for_status()  # warm up
            for _ in range(args.rounds):
                for kind, links in kinds.items():
                    ticks = cpu_ticks(server.pid)
                    for link in links:
                        started = time.perf_counter()
                        r = client.get(link)
                        times[kind].append(time.perf_counter() - started)
                        assert r.status_code == 200, (link, r.text[:300])
                    used = (cpu_ticks(server.pid) - ticks) * TICK
                    cpu[kind].append(used / len(links))
                for _ in range(5):
                    t0 = time.perf_counter()
                    client.get("/health").raise_for_status()
                    health.append(time.perf_counter() - t0)
                loads.append(_load())
        finally:
            client.close()
        for kind, values in times.items():
            print(
                f"{kind}: {len(values)} reads: p50 {statistics.median(values) * 1000:.0f} ms, "
                f"p95 {_percentile(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms, "
                f"server CPU {statistics.median(cpu[kind]) * 1000:.0f} ms a request",
                flush=True,
            )
        print(
            f"/health median {statistics.median(health) * 1000:.1f} ms; "
            f"load average {', '.join(loads)}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
