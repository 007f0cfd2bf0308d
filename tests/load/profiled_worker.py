"""`parta worker` under cProfile, for the notify benchmark (`BENCH_PROFILE=<dir>`): the stats
go to `<dir>/worker-<pid>.prof` when the worker stops (SIGTERM). Read them with
`python -m pstats <file>` (`sort tottime`, `stats 40`)."""

from __future__ import annotations

import asyncio
import cProfile
import os
import sys
from pathlib import Path

from backend.settings import Settings
from notifications.worker import event_loop_factory, run_worker

if __name__ == "__main__":  # run by the benchmark
    out = Path(sys.argv[1]) / f"worker-{os.getpid()}.prof"
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(run_worker(Settings()))
    finally:
        profiler.disable()
        profiler.dump_stats(out)
