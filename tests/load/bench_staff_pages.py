"""Benchmark: every page of the staff web (/admin/web) for a school of ~1,000 pupils, found by
crawling, so each section's pages are measured as they land without editing this script.

Seeds one school as `parta seed` does on PostgreSQL (33 classes of 30 pupils: 990 pupils, the
lessons of the year, `--journal-weeks` of marks and absences; the same as
`bench_staff_journal.py`) unless `--reuse` says the database is seeded already, starts
`parta serve` (one worker), and for each demo staff login: signs in through the form, crawls
every GET page under /admin/web reachable from the start page by following same-origin links
(at most `--per-route` addresses per route pattern and role; downloads, static files and
sign-out are not followed), then reads each address found `--rounds` times, one request at a
time, with `/health` between rounds (the ceiling measured in the same run).

A route pattern is the path with numbers replaced by `{id}` and the names (not the values) of
the query's parameters: `/admin/web/journal?class_id&subject_id`. The table gives per pattern:
the roles that reached it, requests, p50, p95, max, and the CPU time per request of the server
and of PostgreSQL's backends for the database (from /proc: far less noisy than latency on a
shared machine); a p95 over the budget is marked.

    uv run python -m tests.load.bench_staff_pages [--rounds 5] [--per-route 3] [--reuse]
"""

from __future__ import annotations

import html
import os
import re
import statistics
import subprocess
from collections import defaultdict
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.load.staff_web import (
    DEFAULT_URL,
    Ceiling,
    bench_args,
    bench_env,
    cpu_ticks,
    db_backends,
    percentile,
    seed,
    served,
    sign_in,
    ticks_of,
    timed_get,
)

START = "/admin/web/"
BUDGET_MS = 200.0
LOGINS = (
    "coordinator",
    "teacher",
    "classteacher",
    "schooladmin",
    "secretary",
    "nurse",
    "caterer",
    "security",
    "municipality",
    "region",
)
HREF = re.compile(r'href="([^"#]+)')
SKIP = re.compile(r"/static/|/files/|[?&]format=(xlsx|pdf|csv)|/logout|/export|\.(pdf|xlsx|csv)$")


def pattern_of(url: str) -> str:
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/{id}", parts.path.rstrip("/") or "/")
    names = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(names) if names else "")


def links_of(page: str, here: str) -> list[str]:
    found = []
    for raw in HREF.findall(page):
        href = html.unescape(raw)
        if href.startswith("http://") or href.startswith("https://") or href.startswith("//"):
            continue  # another origin (our pages link their own addresses only)
        if not href.startswith("/"):
            href = here.rsplit("/", 1)[0] + "/" + href
        if href.startswith("/admin/web") and not SKIP.search(href):
            found.append(href)
    return found


def crawl(
    client: httpx.Client, per_route: int, limit: int
) -> tuple[list[str], dict[int, int], list[str]]:
    """The addresses found from the start page (breadth first), at most `per_route` per route
    pattern; how many answered each status; and links that answered an error (a page linking
    what its reader may not open, or a broken link), each with the page that linked it."""
    seen: set[str] = set()
    taken: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    queue = [(START, "")]
    found: list[str] = []
    statuses: dict[int, int] = defaultdict(int)
    broken: list[str] = []
    while queue and len(found) < limit:
        url, source = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        key = pattern_of(url)
        if taken[key] >= per_route or failed[key] >= per_route:
            continue
        r = client.get(url)
        statuses[r.status_code] += 1
        if r.status_code != 200:
            failed[key] += 1
            broken.append(f"{r.status_code} {url} (linked from {source})")
            continue
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        taken[key] += 1
        found.append(url)
        queue.extend((u, url) for u in links_of(r.text, urlsplit(url).path) if u not in seen)
    return found, statuses, broken


def main() -> None:
    parser = bench_args(rounds=5)
    parser.add_argument("--per-route", type=int, default=3)
    parser.add_argument("--limit", type=int, default=150, help="pages per role at most")
    parser.add_argument("--journal-weeks", type=int, default=6)
    parser.add_argument("--logins", default=",".join(LOGINS))
    args = parser.parse_args()
    url = os.environ.get("PARTA_BENCH_DATABASE_URL", DEFAULT_URL)
    env = bench_env(url, "parta-web-pages-")
    if not args.reuse:
        took = seed(env, url, "--journal-weeks", str(args.journal_weeks))
        # The planner's statistics, as autovacuum would gather them after a bulk load: without
        # them a school-wide report plans its joins for one row.
        subprocess.run(["psql", url, "-qc", "ANALYZE"], check=True)
        print(f"seeded in {took:.0f} s", flush=True)
    with served(env, "--workers", "1") as (base, server):
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        ceiling = Ceiling()
        times: dict[str, list[float]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        db_cpu: dict[str, list[float]] = defaultdict(list)
        database = url.rsplit("/", 1)[1]
        roles: dict[str, set[str]] = defaultdict(set)
        for login in args.logins.split(","):
            client = sign_in(base, login, START)
            if client is None:
                print(f"{login}: no such staff login here, skipped", flush=True)
                continue
            try:
                urls, statuses, broken = crawl(client, args.per_route, args.limit)
                print(
                    f"{login}: {len(urls)} pages found "
                    f"({', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))})",
                    flush=True,
                )
                for line in broken[:10]:
                    print(f"  {line}", flush=True)
                for u in urls:
                    roles[pattern_of(u)].add(login)
                for _ in ceiling.rounds(client, args.rounds):
                    backends = db_backends(database)  # the pool's connections, once a round
                    for u in urls:
                        key = pattern_of(u)
                        before, db_before = cpu_ticks(server.pid), ticks_of(backends)
                        r, took = timed_get(client, u)
                        times[key].append(took)
                        cpu[key].append((cpu_ticks(server.pid) - before) / ticks_per_s)
                        db_cpu[key].append((ticks_of(backends) - db_before) / ticks_per_s)
                        assert r.status_code == 200, (u, r.status_code, r.text[:300])
            finally:
                client.close()
        health = ceiling.health
        if not times or not health:
            return  # --rounds 0: the crawl only (its broken links above)
        width = max([len(k) for k in times] + [20])
        print(f"\n{'route pattern':<{width}}  roles  reqs    p50    p95    max  cpu/req  db cpu")
        over = 0
        for key in sorted(times):
            values = times[key]
            p95 = percentile(values, 0.95) * 1000
            over += p95 > BUDGET_MS
            print(
                f"{key:<{width}}  {len(roles[key]):>5}  {len(values):>4}"
                f"  {statistics.median(values) * 1000:>5.0f}  {p95:>5.0f}"
                f"  {max(values) * 1000:>5.0f}  {statistics.mean(cpu[key]) * 1000:>5.0f} ms"
                f"  {statistics.mean(db_cpu[key]) * 1000:>4.0f} ms"
                f"{'  OVER' if p95 > BUDGET_MS else ''}"
            )
        print(
            f"\n{len(times)} route patterns, {over} over {BUDGET_MS:.0f} ms at p95; "
            f"/health median {statistics.median(health) * 1000:.1f} ms "
            f"(p95 {percentile(health, 0.95) * 1000:.1f} ms); "
            f"load average {', '.join(ceiling.loads)}"
        )


if __name__ == "__main__":
    main()
