"""The desktop apps say, as they start, which server they use and, without a screen, that the
window is drawn where nobody sees it and how to show it (trial 2026-12-07: `python -m
mobile.family` and `parta-teacher` started silently offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mobile.common.window import offscreen, start_line

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
SERVER = "http://127.0.0.1:9"  # nobody answers: the apps start and wait for their sign-in


def _first_lines(command: list[str], tmp_path: Path) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PARTA_", "KIVY_", "SDL_"))},
        "PARTA_SERVER": SERVER,
        "PARTA_FAMILY_DATA": str(tmp_path / "family"),
        "PARTA_TEACHER_DATA": str(tmp_path / "teacher"),
    }
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        time.sleep(6)  # the line comes first; the app goes on (drawing offscreen) after it
        assert process.poll() is None, "the app exited"
    finally:
        process.kill()
        said, _ = process.communicate(timeout=30)
    return said


@pytest.mark.parametrize(
    ("command", "title"),
    [
        ([sys.executable, "-m", "mobile.family"], "Парта · Семья"),
        ([sys.executable, "-m", "mobile.teacher"], "Парта · Учитель"),
    ],
)
def test_an_app_without_a_screen_says_so_in_russian(
    command: list[str], title: str, tmp_path: Path
) -> None:
    said = _first_lines(command, tmp_path)
    assert said.startswith(f"{title}: сервер {SERVER}.\n"), said
    assert "Экрана нет (не задан DISPLAY): окно рисуется вне экрана" in said
    assert "DISPLAY=:0" in said


def test_with_a_screen_only_the_server_is_named() -> None:
    assert not offscreen({"DISPLAY": ":0"}, "linux")
    assert not offscreen({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not offscreen({}, "win32") and not offscreen({}, "darwin")
    assert offscreen({}, "linux") and offscreen({"DISPLAY": ":0", "SDL_VIDEODRIVER": "offscreen"})
    assert start_line("Парта · Семья", "https://parta.example", {"DISPLAY": ":0"}, "linux") == (
        "Парта · Семья: сервер https://parta.example."
    )
