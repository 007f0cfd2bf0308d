"""Benchmark: the family app against the demo backend (run by hand).

Starts `parta demo` (or uses `--server`), signs the demo parent in once (tokens and copies
stay in the app's directory, as on a phone after the first day), then starts the app
`--starts` times, each a fresh interpreter at a phone's size (720x1440, density 2) opening on
the diary, and reports medians of:

  start → diary   from the process's start to the first frame with the week drawn
  week view       one week's widgets built, and built plus its frame drawn (turning weeks)
  memory          the app's resident memory after every main screen was opened once
  /health         the server's own answer time in the same run (a ceiling for the noise)

    uv run python -m tests.load.bench_family [--starts 5] [--server URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.demo_server import DEMO_PASSWORD, start_demo

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"PARTA_WINDOW_WIDTH": "720", "PARTA_WINDOW_HEIGHT": "1440", "PARTA_DENSITY": "2"}


def run(
    scenario: str, server: str, data: Path, args: dict[str, object], env_extra: dict[str, str]
) -> dict[str, object]:
    out = data.parent / f"{scenario}.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_"))},
        **PHONE,
        **env_extra,
        "PARTA_SERVER": server,
        "PARTA_FAMILY_DATA": str(data),
        "PARTA_SCENARIO_ARGS": json.dumps(args),
    }
    env.pop("DISPLAY", None)
    subprocess.run(
        [sys.executable, "-m", "tests.ui.family_run", scenario, str(out)],
        cwd=ROOT,
        env=env,
        check=False,
        timeout=300,
    )
    result: dict[str, object] = json.loads(out.read_text())
    if "error" in result:
        raise SystemExit(str(result["error"]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--server", default="")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-family-"))
    demo = None
    server = options.server
    if not server:
        demo = start_demo(work)
        server = demo.base
    try:
        data = work / "phone"
        run("first_day", server, data, {"login": "parent", "password": DEMO_PASSWORD}, {})
        starts, built, drawn, rss = [], [], [], []
        for _ in range(options.starts):
            t0 = time.time()
            result = run("bench", server, data, {"t0": t0}, {"PARTA_START_SCREEN": "diary"})
            starts.append(float(result["start_to_diary_s"]))  # type: ignore[arg-type]
            built += list(result["built_ms"])  # type: ignore[call-overload]
            drawn += list(result["drawn_ms"])  # type: ignore[call-overload]
            rss.append(float(result["rss_mib"]))  # type: ignore[arg-type]
        health = []
        with httpx.Client(base_url=server) as client:
            for _ in range(20):
                began = time.perf_counter()
                client.get("/health")
                health.append((time.perf_counter() - began) * 1000)
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average: {' '.join(load)}")
        runs = ", ".join(f"{s:.2f}" for s in starts)
        print(f"start → diary drawn: median {statistics.median(starts):.2f} s (runs: {runs})")
        print(f"week view built: median {statistics.median(built):.1f} ms, max {max(built):.1f} ms")
        drawn_median = statistics.median(drawn)
        print(f"week view built and drawn: median {drawn_median:.1f} ms, max {max(drawn):.1f} ms")
        print(f"memory (RSS after every screen): median {statistics.median(rss):.0f} MiB")
        print(f"/health from here: median {statistics.median(health):.1f} ms")
    finally:
        if demo is not None:
            demo.stop()


if __name__ == "__main__":
    main()
