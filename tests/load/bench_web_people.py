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

import re
from collections import defaultdict

import httpx

from tests.load.staff_web import (
    Ceiling,
    bench_args,
    read_kinds,
    school_database,
    served,
    signed_in,
    spread,
)

PEOPLE = "/admin/web/people"


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
    args = bench_args(rounds=3).parse_args()
    _, env = school_database("parta-web-people-", args.reuse)
    with served(env) as (base, _):
        ceiling = Ceiling()
        times: dict[str, list[float]] = defaultdict(list)
        for login in ("secretary", "schooladmin"):
            client = signed_in(base, login, f"{PEOPLE}/")
            try:
                read_kinds(client, pages(client, login), args.rounds, ceiling, times)
            finally:
                client.close()
        for kind, values in times.items():
            print(f"{kind}: {len(values)} reads: {spread(values)}", flush=True)
        print(ceiling.summary())


if __name__ == "__main__":
    main()
