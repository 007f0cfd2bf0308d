"""README's first command: `parta demo` starts on SQLite with nothing else installed, serves the
API, and the printed demo logins work."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_serves_and_its_logins_work(tmp_path: Path) -> None:
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
            str(tmp_path / "demo"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"parta demo exited early:\n{process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("parta demo did not answer /health within 120 s")
            time.sleep(0.5)
        assert httpx.get(f"{base}/ready").json()["status"] == "ok"
        schema = httpx.get(f"{base}/schema/openapi.json").json()
        assert "/api/v1/auth/login" in schema["paths"]
        for login in ("admin", "teacher", "coordinator"):
            response = httpx.post(
                f"{base}/api/v1/auth/login", json={"identifier": login, "password": "parta-demo"}
            )
            assert response.status_code == 200, response.text
            me = httpx.get(
                f"{base}/api/v1/accounts/me",
                headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            )
            assert me.status_code == 200 and me.json()["grants"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "parta-demo" in output  # the logins were printed
    assert "teacher" in output
