"""`parta demo` as a real process for the tests that need a whole running system (the demo
e2e test, the apps' UI tests): started on a free port, waited for, stopped with SIGINT."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

DEMO_PASSWORD = "parta-demo"  # printed by `parta demo`; the tests use the printed logins


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DemoServer:
    base: str
    process: subprocess.Popen[str] | None  # None: a server started elsewhere

    def token(self, login: str, password: str = DEMO_PASSWORD) -> str:
        response = httpx.post(
            f"{self.base}/api/v1/auth/login", json={"identifier": login, "password": password}
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def client(self, login: str) -> httpx.Client:
        """A client of the API signed in as one of the demo's logins."""
        return httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {self.token(login)}"},
            timeout=30,
        )

    def stop(self) -> str:
        """SIGINT (as Ctrl+C), then the process's whole output."""
        if self.process is None:
            return ""
        self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""


def _demo_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}


def demo_template(shared_dir: Path, timeout_s: float = 600) -> Path:
    """Demo data made once by `parta demo --prepare` in `shared_dir` (the test run's common
    temporary directory, so every xdist worker finds it) and reused by each `start_demo`
    after it: seeding takes ~25 s idle, a minute or more on a busy machine, and the browser,
    app and e2e tests used to seed once each. The first worker seeds under a file lock while
    the others wait for it."""
    template = shared_dir / "demo-template"
    ready = template / "READY"
    with (shared_dir / "demo-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(template, ignore_errors=True)
            template.mkdir(parents=True)
            command = [sys.executable, "-m", "backend.cli", "demo", "--prepare", "--data-dir"]
            done = subprocess.run(
                [*command, str(template / "demo")],
                cwd=template, env=_demo_env(), capture_output=True, text=True, timeout=timeout_s,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"parta demo --prepare failed:\n{done.stdout}\n{done.stderr}")
            ready.write_text(done.stdout, encoding="utf-8")
    return template / "demo"


def start_demo(work_dir: Path, wait_s: float = 300, template: Path | None = None) -> DemoServer:
    """Start `parta demo` in `work_dir` and wait until it answers /health: on fresh demo data,
    or on a copy of `template` (`demo_template`, started with `--keep`: no seeding).
    Raises RuntimeError with its output when it exits or does not answer in time."""
    port = free_port()
    env = _demo_env()
    data_dir = work_dir / "demo"
    keep: list[str] = []
    if template is not None:
        shutil.copytree(template, data_dir)
        keep = ["--keep"]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *keep,
        ],
        cwd=work_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = DemoServer(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + wait_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"parta demo exited early:\n{server.stop()}")
        try:
            if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            output = server.stop()  # never leave it running behind the failure
            raise RuntimeError(f"parta demo did not answer /health within {wait_s} s:\n{output}")
        time.sleep(0.5)
