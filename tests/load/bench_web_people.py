"""Benchmark: the staff web's people pages (/admin/web/people) for a school of ~1,000 pupils.

Uses the database of `bench_staff_journal` (one school seeded as `parta seed` does on PostgreSQL:
33 classes of 30 pupils), seeding it first unless `--reuse` says it is there; migrates it,
starts `parta serve`, signs in through the form as the demo secretary and the demo school
administrator, and reads, one request at a time, `--rounds` times: the section's start page,
a search by name, every class's list, a sample of pupils' personal files (each read is audited,
as in use), the staff list, the accounts page, the audit log and a pupil's «who viewed». Prints
p50/p95/max per page kind, the median `/health` time of the same run (the ceiling) and the load
average.

    uv run python -m tests.load.bench_web_people [--rounds 3] [--reuse]
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

PEOPLE = "/admin/web/people"


def sign_in(base: str, login: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    client.get("/admin/tasks/login")
    r = client.post(
        "/admin/tasks/login",
        data={
            "identifier": login,
            "password": "parta-demo",
            "csrf": client.cookies.get("parta_admin_csrf"),
            "next": f"{PEOPLE}/",
        },
    )
    assert r.status_code == 303, r.text
    return client


def pages(client: httpx.Client, login: str) -> dict[str, list[str]]:
    home = client.get(f"{PEOPLE}/")
    assert home.status_code == 200, home.text[:300]
    classes = sorted(set(re.findall(rf'href="({PEOPLE}/classes/\d+)"', home.text)))
    if login == "secretary":
        first = client.get(classes[0]).text
        pupils = sorted(set(re.findall(rf'href="({PEOPLE}/pupils/\d+)"', first)))[:10]
        return {
            "start page": [f"{PEOPLE}/"],
            "search": [f"{PEOPLE}/?q=ова"],
            "class list": classes,
            "personal file": pupils,
            "staff": [f"{PEOPLE}/staff"],
            "accounts": [f"{PEOPLE}/accounts"],
        }
    first = client.get(classes[0]).text
    pupil = re.findall(rf'href="{PEOPLE}/pupils/(\d+)"', first)[0]
    return {"audit log": [f"{PEOPLE}/audit"], "who viewed": [f"{PEOPLE}/pupils/{pupil}/viewers"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="the database is seeded already")
    args = parser.parse_args()
    url = os.environ.get("PARTA_BENCH_DATABASE_URL", DEFAULT_URL)
    where = Path(tempfile.mkdtemp(prefix="parta-web-people-"))
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
        for login in ("secretary", "schooladmin"):
            client = sign_in(base, login)
            try:
                kinds = pages(client, login)
                for links in kinds.values():
                    for link in links:
                        client.get(link).raise_for_status()  # warm up
                for _ in range(args.rounds):
                    for kind, links in kinds.items():
                        for link in links:
                            started = time.perf_counter()
                            r = client.get(link)
                            times[kind].append(time.perf_counter() - started)
                            assert r.status_code == 200, (link, r.text[:300])
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
                f"p95 {_percentile(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms",
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
