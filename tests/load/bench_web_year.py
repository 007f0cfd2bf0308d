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

import re
import statistics
from collections import defaultdict

import httpx

from tests.load.staff_web import (
    Ceiling,
    bench_args,
    read_kinds,
    school_database,
    served,
    signed_in,
    spread,
)

BASE = "/admin/web/timetable"


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
    args = bench_args(rounds=3).parse_args()
    _, env = school_database("parta-web-year-", args.reuse)
    with served(env) as (base, server):
        ceiling = Ceiling()
        times: dict[str, list[float]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        client = signed_in(base, "coordinator", f"{BASE}/")
        try:
            read_kinds(client, pages(client), args.rounds, ceiling, times, (server.pid, cpu))
        finally:
            client.close()
        for kind, values in times.items():
            print(
                f"{kind}: {len(values)} reads: {spread(values)}, "
                f"server CPU {statistics.median(cpu[kind]) * 1000:.0f} ms a request",
                flush=True,
            )
        print(ceiling.summary())


if __name__ == "__main__":
    main()
