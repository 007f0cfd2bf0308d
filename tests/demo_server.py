"""`parta demo` as a real process for the tests that need a whole running system (the demo
e2e test, the apps' UI tests): started on a free port, waited for, stopped with SIGINT."""

from __future__ import annotations

import os
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


def start_demo(work_dir: Path, wait_s: float = 300) -> DemoServer:
    """Start `parta demo` in `work_dir` (fresh demo data) and wait until it answers /health.
    Raises RuntimeError with its output when it exits or does not answer in time."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(work_dir / "demo"),
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
