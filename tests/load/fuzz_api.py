"""Fuzz the API with schemathesis as a guardian, a teacher and an administrator.

Starts `parta demo` (SQLite, the demo school, its journal of the term) on a free local port
with the API's rate limit lifted, signs in as each role and runs `schemathesis run` against
`/schema/openapi.json` with that role's token and the response checks: no 5xx, every answer's
status, content type, headers and body as the document declares. Exits non-zero when any role
found a failure. Only 127.0.0.1 is contacted.

    uv run python -m tests.load.fuzz_api [--examples 100] [--roles parent,teacher,admin]
    uv run python -m tests.load.fuzz_api --examples 2 --max-time 25   # CI's short run

Not a timed test and not part of pytest (the demo's start and three roles take minutes);
docs/api.md gives the command and its last result.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROLES = {"parent": "guardian", "teacher": "teacher", "admin": "system administrator"}
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
# Operations that would end the run's own session or the demo itself, not bugs to find.
EXCLUDED = [
    "--exclude-path",
    "/api/v1/auth/logout",
    "--exclude-path",
    "/api/v1/accounts/me/password",
    # Revoking a grant of the signed-in person refuses their tokens at once (issue 13, item 6):
    # an administrator's run that revokes its own grant answered 401 to everything after.
    "--exclude-path",
    "/api/v1/accounts/grants/{grant_id}/revoke",
    "--exclude-path-regex",
    "^/admin",
    "--exclude-path-regex",
    "^/demo",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo(port: int, data_dir: Path, log: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env["PARTA_API_RATE_LIMIT_PER_MINUTE"] = "10000000"
    env["PARTA_LOGIN_FAILURES_PER_ACCOUNT"] = "1000000"
    env["PARTA_LOGIN_FAILURES_PER_ADDRESS"] = "1000000"
    env["PARTA_ACCESS_TOKEN_MINUTES"] = "120"  # a role's run outlives the usual 15 minutes
    command = [sys.executable, "-m", "backend.cli", "demo", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(base: str, process: subprocess.Popen[str], log: Path, seconds: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise SystemExit("parta demo exited before it answered:\n" + log.read_text())
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"parta demo did not answer within {seconds:.0f} s")


def token(base: str, login: str) -> str:
    answer = httpx.post(
        f"{base}/api/v1/auth/login", json={"identifier": login, "password": "parta-demo"}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def fuzz(base: str, login: str, examples: int, seed: int, report: Path, max_time: int = 0) -> int:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/schema/openapi.json",
        "--url",
        base,
        "-H",
        f"Authorization: Bearer {token(base, login)}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *EXCLUDED,
    ]
    if max_time:
        command += ["--max-time", str(max_time)]
    return subprocess.call(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation")
    parser.add_argument("--roles", default=",".join(ROLES), help="demo logins to fuzz as")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--max-time", type=int, default=0, help="seconds per role at most (0: no limit)"
    )
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="parta-fuzz-") as tmp:
        log = Path(tmp) / "demo.log"
        process = start_demo(port, Path(tmp) / "demo", log)
        try:
            started_in = wait_for(base, process, log)
            print(f"demo answered after {started_in:.1f} s at {base}", flush=True)
            results = {}
            for login in args.roles.split(","):
                print(f"\n=== as {login} ({ROLES.get(login, login)}) ===", flush=True)
                report = Path(tmp) / f"{login}.xml"
                results[login] = fuzz(base, login, args.examples, args.seed, report, args.max_time)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    print("\n" + ", ".join(f"{k}: {'ok' if v == 0 else 'FAILED'}" for k, v in results.items()))
    raise SystemExit(0 if all(v == 0 for v in results.values()) else 1)


if __name__ == "__main__":
    main()
