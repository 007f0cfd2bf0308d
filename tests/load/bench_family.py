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


BARE = """
import os, sys, time
os.environ.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_METRICS_DENSITY="2")
from kivy.config import Config
Config.set("graphics", "width", "720"); Config.set("graphics", "height", "1440")
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.label import Label
t0 = float(sys.argv[1])
class Bare(App):
    def build(self):
        Clock.schedule_once(self.drawn, 0)
        return Label(text="Дневник")
    def drawn(self, *_):
        print(time.time() - t0)
        self.stop()
Bare().run()
"""


def bare_kivy_start() -> float:
    """A window with one label, process start to its first frame: the floor under the app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_"))}
    env.pop("DISPLAY", None)
    with tempfile.TemporaryDirectory() as home:
        env["KIVY_HOME"] = home
        script = Path(home) / "bare.py"  # Kivy looks for the app's source file
        script.write_text(BARE, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script), str(time.time())],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    return float(done.stdout.strip().splitlines()[-1])


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
        bare = [bare_kivy_start() for _ in range(3)]
        starts, cpu, built, drawn, rss = [], [], [], [], []
        for _ in range(options.starts):
            t0 = time.time()
            result = run("bench", server, data, {"t0": t0}, {"PARTA_START_SCREEN": "diary"})
            starts.append(float(result["start_to_diary_s"]))  # type: ignore[arg-type]
            cpu.append(float(result["start_cpu_s"]))  # type: ignore[arg-type]
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
        print(f"  CPU time of the app's process to then: median {statistics.median(cpu):.2f} s")
        floor = statistics.median(bare)
        print(f"bare Kivy window, start to first frame (floor): median {floor:.2f} s")
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
