"""What the staff-web benches share: the seeded school on PostgreSQL, `parta serve` started and
stopped, the sign-in through the form as a demo login, and the timing loop (a warm-up read of
each page, then rounds of timed reads with `/health` after each round as the ceiling measured in
the same run, and the load average); the server's and PostgreSQL's CPU read from /proc.

Used by `bench_staff_journal`, `bench_staff_pages`, `bench_web_people` and `bench_web_year`;
each bench keeps its own pages, options and printed table.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/parta_web_bench"
LOGIN = "/admin/tasks/login"
TICK = 1 / os.sysconf("SC_CLK_TCK")  # seconds a /proc clock tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[0]


def parta(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, check=True)


def recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-qc", sql], check=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    """p50, p95 and max of a list of seconds, in milliseconds."""
    return (
        f"p50 {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {percentile(values, 0.95) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
    )


def bench_env(url: str, prefix: str) -> dict[str, str]:
    """The server's environment: the bench database, Redis db 6, a fresh media folder and no
    rate limit (one client reads as fast as it can)."""
    where = Path(tempfile.mkdtemp(prefix=prefix))
    return {
        **os.environ,
        "PARTA_DATABASE_URL": url,
        "PARTA_REDIS_URL": os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
        "PARTA_MEDIA_ROOT": str(where / "media"),
        "PARTA_API_RATE_LIMIT_PER_MINUTE": "100000000",
    }


def seed(env: dict[str, str], url: str, *seed_args: str) -> float:
    """The database made afresh and seeded as `parta seed` does (33 classes of 30 pupils, and
    `seed_args`); answers the seconds it took."""
    started = time.perf_counter()
    recreate(url)
    parta(env, "migrate")
    parta(env, "seed", "--classes-per-grade", "3", "--pupils-per-class", "30", *seed_args)
    return time.perf_counter() - started


def bench_args(rounds: int) -> argparse.ArgumentParser:
    """The options every staff-web bench takes: `--rounds` and `--reuse`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--reuse", action="store_true", help="the database is seeded already")
    return parser


def school_database(prefix: str, reuse: bool) -> tuple[str, dict[str, str]]:
    """The journal bench's database (seeded first unless `reuse`), migrated; its address and
    the server's environment."""
    url = os.environ.get("PARTA_BENCH_DATABASE_URL", DEFAULT_URL)
    env = bench_env(url, prefix)
    if not reuse:
        seed(env, url)
    parta(env, "migrate")
    return url, env


@contextmanager
def served(env: dict[str, str], *serve_args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`parta serve` on a free port, once `/health` answers; its base address and process.
    Stopped on the way out."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port), *serve_args],
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
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def sign_in(base: str, login: str, next_page: str) -> httpx.Client | None:
    """A client signed in through the sign-in form as a demo login (password `parta-demo`),
    or None where the form does not send it on to `next_page`."""
    client = httpx.Client(base_url=base, timeout=60)
    client.get(LOGIN)
    r = client.post(
        LOGIN,
        data={
            "identifier": login,
            "password": "parta-demo",
            "csrf": client.cookies.get("parta_admin_csrf"),
            "next": next_page,
        },
    )
    if r.status_code != 303 or r.headers.get("location") != next_page:
        client.close()
        return None
    return client


def signed_in(base: str, login: str, next_page: str) -> httpx.Client:
    client = sign_in(base, login, next_page)
    assert client is not None, f"{login} could not sign in"
    return client


def warm_up(client: httpx.Client, links: list[str]) -> None:
    for link in links:
        client.get(link).raise_for_status()


def timed_get(client: httpx.Client, link: str) -> tuple[httpx.Response, float]:
    """One read and the seconds it took."""
    started = time.perf_counter()
    r = client.get(link)
    return r, time.perf_counter() - started


def read_kinds(
    client: httpx.Client,
    kinds: dict[str, list[str]],
    rounds: int,
    ceiling: Ceiling,
    times: dict[str, list[float]],
    cpu: tuple[int, dict[str, list[float]]] | None = None,
) -> None:
    """Each kind's pages read once to warm up, then `rounds` times one at a time (each must
    answer 200), the ceiling after each round: each read's seconds go to `times[kind]`; with
    `cpu` (the server's pid and a dict), the server's CPU seconds a request of each kind, a
    value a round."""
    warm_up(client, [link for links in kinds.values() for link in links])
    for _ in ceiling.rounds(client, rounds):
        for kind, links in kinds.items():
            ticks = cpu_ticks(cpu[0]) if cpu else 0
            for link in links:
                r, took = timed_get(client, link)
                times[kind].append(took)
                assert r.status_code == 200, (link, r.text[:300])
            if cpu:
                cpu[1][kind].append((cpu_ticks(cpu[0]) - ticks) * TICK / len(links))


@dataclass
class Ceiling:
    """`/health` read five times after each round (the ceiling in the same run) and the load
    average before the first and after each round."""

    health: list[float] = field(default_factory=list)
    loads: list[str] = field(default_factory=lambda: [load()])

    def rounds(self, client: httpx.Client, count: int) -> Iterator[int]:
        """Round numbers; after each round, the ceiling and the load are taken."""
        for number in range(count):
            yield number
            for _ in range(5):
                r, took = timed_get(client, "/health")
                r.raise_for_status()
                self.health.append(took)
            self.loads.append(load())

    def summary(self) -> str:
        return (
            f"/health median {statistics.median(self.health) * 1000:.1f} ms; "
            f"load average {', '.join(self.loads)}"
        )


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks of the server and its children (uvicorn's worker)."""
    return ticks_of([pid, *_children(pid)])


def db_backends(database: str) -> list[int]:
    """The PostgreSQL backends serving `database` (their title is `postgres: user db ...`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


def ticks_of(pids: list[int]) -> int:
    total = 0
    for proc in pids:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(k) for k in kids]
    for k in list(found):
        found += _children(k)
    return found
