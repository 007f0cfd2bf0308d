"""Benchmark: the staff web's journal page (/admin/web/journal) for a school of ~1,000 pupils.

Seeds one school as `parta seed` does on PostgreSQL (33 classes of 30 pupils: 990 pupils, the
lessons of the year, `--journal-weeks` of marks and absences) unless `--reuse` says the database
is seeded already, starts `parta serve`, signs in through the sign-in form as the demo teacher
and the demo coordinator, and reads every journal grid each of them may open (the current study
period, the page's default), one request at a time, `--rounds` times. Prints p50/p95/max per
person, the median `/health` time of the same run (the ceiling) and the load average.

    uv run python -m tests.load.bench_staff_journal [--rounds 5] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/parta_web_bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[0]


def _parta(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, check=True)


def _recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-qc", sql], check=True)


def _sign_in(base: str, login: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    client.get("/admin/tasks/login")
    r = client.post(
        "/admin/tasks/login",
        data={
            "identifier": login,
            "password": "parta-demo",
            "csrf": client.cookies.get("parta_admin_csrf"),
            "next": "/admin/web/journal",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/web/journal", r.text
    return client


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--journal-weeks", type=int, default=6)
    parser.add_argument("--reuse", action="store_true", help="the database is seeded already")
    args = parser.parse_args()
    url = os.environ.get("PARTA_BENCH_DATABASE_URL", DEFAULT_URL)
    where = Path(tempfile.mkdtemp(prefix="parta-web-"))
    env = {
        **os.environ,
        "PARTA_DATABASE_URL": url,
        "PARTA_REDIS_URL": os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
        "PARTA_MEDIA_ROOT": str(where / "media"),
        "PARTA_API_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    if not args.reuse:
        started = time.perf_counter()
        _recreate(url)
        _parta(env, "migrate")
        _parta(
            env,
            "seed",
            "--classes-per-grade",
            "3",
            "--pupils-per-class",
            "30",
            "--journal-weeks",
            str(args.journal_weeks),
        )
        print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
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
        for login in ("teacher", "coordinator"):
            client = _sign_in(base, login)
            try:
                pick = client.get("/admin/web/journal")
                assert pick.status_code == 200, pick.text
                links = sorted(set(re.findall(r'href="(/admin/web/journal\?[^"]+)"', pick.text)))
                links = [link.replace("&amp;", "&") for link in links]
                if login == "coordinator":
                    links = links[::6]  # every class would be ~500 grids: a sample of each grade
                times: list[float] = []
                cells = 0
                for link in links:
                    client.get(link).raise_for_status()  # warm up
                for _ in range(args.rounds):
                    for link in links:
                        started = time.perf_counter()
                        r = client.get(link)
                        times.append(time.perf_counter() - started)
                        assert r.status_code == 200, r.text[:300]
                        cells = max(cells, r.text.count('class="cell'))
                    for _ in range(5):
                        t0 = time.perf_counter()
                        client.get("/health").raise_for_status()
                        health.append(time.perf_counter() - t0)
                    loads.append(_load())
                started = time.perf_counter()
                client.get("/admin/web/journal").raise_for_status()
                pick_ms = (time.perf_counter() - started) * 1000
                print(
                    f"{login}: {len(links)} grids x {args.rounds}: p50 "
                    f"{statistics.median(times) * 1000:.0f} ms, p95 "
                    f"{_percentile(times, 0.95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
                    f"largest grid {cells} cells; the list of journals {pick_ms:.0f} ms",
                    flush=True,
                )
            finally:
                client.close()
        print(
            f"/health median {statistics.median(health) * 1000:.1f} ms; "
            f"load average {', '.join(loads)}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
