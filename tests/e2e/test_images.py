"""Issue 21: the image of `infra/Dockerfile` builds and `infra/compose.yaml` comes up where a
Docker engine answers: the API answers `/health` and `/ready`, the worker and the bot report
healthy (the bot long-polls a Telegram stand-in on this host), and the stack is torn down.
Without an engine the test is skipped and says why; the manifests are checked always
(tests/unit/test_infra.py, and `docker compose config` there wherever the Compose plugin is).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from notifications.standins.suite import BOT_TOKEN
from notifications.standins.telegram import TelegramStandIn
from tests.demo_server import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "compose.yaml"
UP_TIMEOUT_S = 900  # a cold build downloads the base images and installs every package


def docker_engine_problem() -> str | None:
    """Why the stack cannot be started here, or None when a Docker engine and Compose answer."""
    if shutil.which("docker") is None:
        return "no `docker` command on PATH"
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if info.returncode != 0:
        said = (info.stderr or info.stdout).strip().splitlines()
        return (
            "the Docker client is installed but no Docker engine answers it (`docker info` "
            f"exited with {info.returncode}: {said[-1] if said else 'no output'})"
        )
    compose = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    if compose.returncode != 0:
        said = (compose.stderr or compose.stdout).strip().splitlines()
        return (
            "a Docker engine answers but the Compose plugin is missing (`docker compose version`: "
            f"{said[0] if said else compose.returncode})"
        )
    return None


class HostTelegram:
    """The Telegram stand-in served on every interface of this host (the containers reach it
    through `host.docker.internal`), noting which Bot API methods were called."""

    def __init__(self) -> None:
        self.standin = TelegramStandIn()
        self.port = free_port()
        self.methods: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.methods.append(request.match_info["method"])
        return await self.standin.handle(request)

    async def _start(self) -> None:
        self.standin._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "0.0.0.0", self.port).start()  # noqa: S104

    def __enter__(self) -> HostTelegram:
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="host-telegram", daemon=True)
        self._thread.start()
        assert started.wait(30), "the Telegram stand-in did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def engine() -> None:
    problem = docker_engine_problem()
    if problem:
        pytest.skip(problem)


@dataclass
class Stack:
    compose: list[str]  # `docker compose` for a project of this test's own
    env: dict[str, str]
    api_port: int
    telegram: HostTelegram


@pytest.fixture
def stack(engine: None, tmp_path: Path) -> Iterator[Stack]:
    """The compose project, torn down (containers, network, volumes) whatever the test did."""
    api_port = free_port()
    telegram = HostTelegram()
    override = tmp_path / "compose.test.yaml"
    override.write_text(
        "services:\n"
        "  bot:\n"
        "    environment:\n"
        f"      PARTA_TELEGRAM_API_URL: http://host.docker.internal:{telegram.port}\n"
        '    extra_hosts: ["host.docker.internal:host-gateway"]\n',
        encoding="utf-8",
    )
    project = f"parta-test-{uuid.uuid4().hex[:8]}"
    compose = ["docker", "compose", "-p", project, "-f", str(COMPOSE), "-f", str(override)]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PARTA_")},
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "PARTA_SECRET_KEY": secrets.token_urlsafe(48),
        "PARTA_API_PORT": str(api_port),
        "PARTA_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
    }
    with telegram:
        try:
            yield Stack(compose, env, api_port, telegram)
        finally:
            subprocess.run(
                [*compose, "down", "--volumes", "--remove-orphans", "--timeout", "20"],
                env=env, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip


def _run(command: list[str], env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _services(compose: list[str], env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """`docker compose ps` of every container (exited ones too), by service."""
    out = _run([*compose, "ps", "--all", "--format", "json"], env, 60).strip()
    # One JSON object a line (Compose >= 2.21), or one array (older releases).
    rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines()]
    return {row["Service"]: row for row in rows}


def test_the_image_builds_and_the_compose_stack_comes_up_healthy(stack: Stack) -> None:
    compose, env, api_port = stack.compose, stack.env, stack.api_port
    # --wait: every service running and, where it has a health check, healthy (migrate done).
    up = [*compose, "up", "--build", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_S)]
    try:
        _run(up, env, UP_TIMEOUT_S + 120)
    except AssertionError:
        logs = subprocess.run(
            [*compose, "logs", "--no-color", "--tail", "60"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        raise AssertionError(f"the stack did not come up:\n{logs.stdout}") from None

    base = f"http://127.0.0.1:{api_port}"
    assert httpx.get(f"{base}/health", timeout=10).json()["status"] == "ok"
    ready = httpx.get(f"{base}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"

    services = _services(compose, env)
    assert services["migrate"]["State"] == "exited" and services["migrate"]["ExitCode"] == 0
    for name in ("api", "worker", "bot", "db"):
        assert services[name]["State"] == "running", services[name]
        assert services[name]["Health"] == "healthy", services[name]
    # Still healthy a while later: the worker's check needs its reports to go on, and a bot
    # that had failed to poll would have exited.
    time.sleep(15)
    services = _services(compose, env)
    for name in ("api", "worker", "bot"):
        assert services[name]["State"] == "running", services[name]
        assert services[name]["Health"] == "healthy", services[name]
    assert "getUpdates" in stack.telegram.methods, stack.telegram.methods  # the bot polls
