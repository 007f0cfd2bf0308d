"""A real backend for the app tests: `parta demo` (SQLite, its notifications worker and the
stand-ins) started once per module as a process on a free port, like tests/e2e/test_demo.py.
The app itself runs in a fresh interpreter per step (`run_app.py`)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_server import free_port, start_demo

__all__ = ["free_port"]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"


@dataclass
class Demo:
    url: str
    database: Path

    def token(self, login: str) -> str:
        answer = httpx.post(
            f"{self.url}/api/v1/auth/login",
            json={"identifier": login, "password": "parta-demo"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def get(self, login: str, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(login)}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, login: str, path: str, body: Any, status: int = 200) -> Any:
        answer = httpx.post(
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token(login)}"},
            timeout=30,
        )
        assert answer.status_code == status, answer.text
        return answer.json()

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the demo's database (read only) to check what the server holds."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[Demo]:
    work = tmp_path_factory.mktemp("demo")
    # A copy of the run's seeded demo data (seeding takes ~25 s idle, minutes on a busy machine).
    server = start_demo(work, wait_s=420, template=demo_template)
    try:
        yield Demo(server.base, work / "demo" / "parta.sqlite")
    finally:
        server.stop()


def teaching_day(demo: Demo) -> tuple[date, list[dict[str, Any]]]:
    """The latest day up to today with the demo teacher's lessons (today may be a Sunday)."""
    today = date.today()
    lessons = demo.get(
        "teacher",
        "/api/v1/me/lessons",
        date_from=(today - timedelta(days=10)).isoformat(),
        date_to=today.isoformat(),
        limit=500,
    )["items"]
    day = max(x["date"] for x in lessons if x["status"] != "cancelled")
    return date.fromisoformat(day), [x for x in lessons if x["date"] == day]


def run_app(
    scenario: str, demo_url: str, data: Path, today: date, result: Path, **args: Any
) -> dict[str, Any]:
    """The app in a fresh interpreter, running one scenario; its result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_"))}
    env.update(
        PARTA_SERVER=demo_url,
        PARTA_TEACHER_DATA=str(data),
        PARTA_TODAY=today.isoformat(),
        PARTA_SCENARIO_ARGS=json.dumps(args),
        PARTA_SYNC_INTERVAL="0.5",
    )
    env.pop("DISPLAY", None)  # offscreen rendering (SDL's offscreen driver, Mesa)
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.run_app", scenario, str(result)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.exists(), f"the app wrote no result:\n{done.stdout}\n{done.stderr}"
    answer: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    assert "error" not in answer, answer
    assert done.returncode == 0, done.stderr
    return answer


def shot_dirs(tmp_path: Path) -> list[str]:
    """Screenshots always go to the test's directory; to docs/screenshots when asked."""
    dirs = [str(tmp_path / "screenshots")]
    if os.environ.get("PARTA_UPDATE_SCREENSHOTS"):
        dirs.append(str(SCREENSHOTS))
    return dirs
