"""Benchmark: every school-wide report file (PDF and XLSX) of the demo school, through the API.

Seeds a school as `parta demo` does (SQLite, two classes a grade, the journal filled from
1 September) unless `--database` names one already seeded, starts `parta serve` on it, signs in
as the demo coordinator and asks each school-wide report for the first quarter in both formats,
`--repeat` times. Prints the median and the worst time of each file, the file's size, the
median `/health` time of the same run (the ceiling: what any request costs on the machine right
now) and the load average.

    uv run python -m tests.load.bench_school_reports [--repeat 5] [--database /tmp/x.sqlite]
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
from pathlib import Path

import httpx

REPORTS = ("performance", "attendance", "quality", "completeness", "at-risk")
FORMATS = ("pdf", "xlsx")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _parta(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, check=True)


def _load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[0]


def _health(client: httpx.Client, times: int = 10) -> list[float]:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        client.get("/health").raise_for_status()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", type=Path, default=None, help="an SQLite file already seeded")
    parser.add_argument("--period", type=int, default=1, help="study period id (1: 1st quarter)")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="parta-reports-"))
    database = args.database or where / "db.sqlite"
    port = _free_port()
    env = {
        **os.environ,
        "PARTA_DATABASE_URL": f"sqlite:///{database}",
        "PARTA_REDIS_URL": "memory://",
        "PARTA_MEDIA_ROOT": str(where / "media"),
    }
    if args.database is None:
        from backend.cli import _weeks_of_term

        print("seeding the demo school...", flush=True)
        _parta(env, "migrate")
        _parta(
            env,
            "seed",
            "--classes-per-grade",
            "2",
            "--journal-weeks",
            str(_weeks_of_term()),
        )
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            signed = client.post(
                "/api/v1/auth/login", json={"identifier": "coordinator", "password": "parta-demo"}
            )
            signed.raise_for_status()
            headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            loads = [_load()]
            health: list[float] = []
            print(f"{'report':<14}{'format':<8}{'median':>9}{'worst':>9}{'size':>10}")
            for report in REPORTS:
                for fmt in FORMATS:
                    url = f"/api/v1/reports/schools/1/{report}?period_id={args.period}&format={fmt}"
                    client.get(url, headers=headers).raise_for_status()  # warm up
                    times, size = [], 0
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        r = client.get(url, headers=headers)
                        times.append(time.perf_counter() - started)
                        r.raise_for_status()
                        size = len(r.content)
                    health += _health(client)
                    loads.append(_load())
                    print(
                        f"{report:<14}{fmt:<8}{statistics.median(times):>8.2f}s"
                        f"{max(times):>8.2f}s{size // 1024:>8} KB",
                        flush=True,
                    )
            print(
                f"/health median {statistics.median(health) * 1000:.1f} ms "
                f"(max {max(health) * 1000:.1f} ms); load average {', '.join(loads)}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
