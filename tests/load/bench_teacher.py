"""Figures of the teacher app (docs/performance.md), against `parta demo` on this machine.

    uv run python tests/load/bench_teacher.py [--runs 3]

Each run starts the app in a fresh interpreter (offscreen, 1280x800), signs in, opens a lesson
of the demo teacher, cuts the network and enters a whole lesson through the widgets (30
attendance taps, 30 marks from the quick-marks popup), then brings the network back and
syncs it. Printed: a tap to its row committed on the tablet (p50/p95, timed on the store's
thread at the commit), the lesson entered (wall time, and the app process's own CPU time, which
a shared machine's other load does not inflate), the sync after reconnecting; with the load
average and /health's time as the machine's ceiling in the same run (the machine may be
shared)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.demo_server import free_port, start_demo  # noqa: E402


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = start_demo(Path(tmp), wait_s=600)
        try:
            runs = [one_run(demo.base, Path(tmp), n) for n in range(args.runs)]
        finally:
            demo.stop()
    for r in runs:
        print(json.dumps({k: v for k, v in r.items() if not k.endswith("_ms")}))
    taps = [ms for r in runs for ms in r["tap_ms"]]
    marks = [ms for r in runs for ms in r["mark_ms"]]
    print(f"load average: {os.getloadavg()}")
    print(f"/health median: {statistics.median(r['health_ms'] for r in runs):.1f} ms")
    print(f"tap -> row committed: p50 {statistics.median(taps):.1f} ms, p95 {p95(taps):.1f} ms")
    print(f"mark -> row committed: p50 {statistics.median(marks):.1f} ms, p95 {p95(marks):.1f} ms")
    print(f"whole lesson entered (median): {statistics.median(r['entered_s'] for r in runs):.2f} s")
    cpu = statistics.median(r["entered_cpu_s"] for r in runs)
    print(f"  of which the app's own CPU (all its threads, software GL included): {cpu:.2f} s")
    print(f"sync after reconnecting (median): {statistics.median(r['sync_s'] for r in runs):.2f} s")


def one_run(base: str, tmp: Path, n: int) -> dict[str, object]:
    client = httpx.Client(base_url=base, timeout=30)
    token = client.post(
        "/api/v1/auth/login", json={"identifier": "teacher", "password": "parta-demo"}
    ).json()["access_token"]
    today = date.today()
    lessons = client.get(
        "/api/v1/me/lessons",
        params={"date_from": (today - timedelta(days=10)).isoformat(),
                "date_to": today.isoformat(), "limit": 500},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["items"]  # fmt: skip
    day = max(x["date"] for x in lessons)
    todays = [x for x in lessons if x["date"] == day]
    lesson = todays[n % len(todays)]
    started = time.perf_counter()
    for _ in range(20):
        client.get("/health")
    health_ms = (time.perf_counter() - started) / 20 * 1000
    result = tmp / f"bench-{n}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_"))}
    env.pop("DISPLAY", None)
    env.update(
        PARTA_SERVER=base,
        PARTA_TEACHER_DATA=str(tmp / f"tablet-{n}"),
        PARTA_TODAY=day,
        PARTA_SCENARIO_ARGS=json.dumps({
            "login": "teacher", "password": "parta-demo", "lesson_id": lesson["id"],
            "nowhere": f"http://127.0.0.1:{free_port()}", "real": base,
        }),
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "tests.ui.run_app", "bench", str(result)],
        cwd=ROOT, env=env, check=True, timeout=600,
    )  # fmt: skip
    out: dict[str, object] = json.loads(result.read_text(encoding="utf-8"))
    if "error" in out:
        raise SystemExit(out["error"])
    out["health_ms"] = health_ms
    return out


if __name__ == "__main__":
    main()
