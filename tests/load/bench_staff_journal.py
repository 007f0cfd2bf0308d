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

import os
import re
import time

from tests.load.staff_web import (
    DEFAULT_URL,
    Ceiling,
    bench_args,
    bench_env,
    seed,
    served,
    signed_in,
    spread,
    timed_get,
    warm_up,
)

JOURNAL = "/admin/web/journal"


def main() -> None:
    parser = bench_args(rounds=5)
    parser.add_argument("--journal-weeks", type=int, default=6)
    args = parser.parse_args()
    url = os.environ.get("PARTA_BENCH_DATABASE_URL", DEFAULT_URL)
    env = bench_env(url, "parta-web-")
    if not args.reuse:
        took = seed(env, url, "--journal-weeks", str(args.journal_weeks))
        print(f"seeded in {took:.0f} s", flush=True)
    with served(env) as (base, _):
        ceiling = Ceiling()
        for login in ("teacher", "coordinator"):
            client = signed_in(base, login, JOURNAL)
            try:
                pick = client.get(JOURNAL)
                assert pick.status_code == 200, pick.text
                links = sorted(set(re.findall(rf'href="({JOURNAL}\?[^"]+)"', pick.text)))
                links = [link.replace("&amp;", "&") for link in links]
                if login == "coordinator":
                    links = links[::6]  # every class would be ~500 grids: a sample of each grade
                times: list[float] = []
                cells = 0
                warm_up(client, links)
                for _ in ceiling.rounds(client, args.rounds):
                    for link in links:
                        r, took = timed_get(client, link)
                        times.append(took)
                        assert r.status_code == 200, r.text[:300]
                        cells = max(cells, r.text.count('class="cell'))
                started = time.perf_counter()
                client.get(JOURNAL).raise_for_status()
                pick_ms = (time.perf_counter() - started) * 1000
                print(
                    f"{login}: {len(links)} grids x {args.rounds}: {spread(times)}; "
                    f"largest grid {cells} cells; the list of journals {pick_ms:.0f} ms",
                    flush=True,
                )
            finally:
                client.close()
        print(ceiling.summary())


if __name__ == "__main__":
    main()
