"""The app's settings: the server, where its data lives, the window. From the environment so
tests and a developer's desktop can point it anywhere; Android reads the same names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mobile.common import platform

DEFAULT_SERVER = "http://127.0.0.1:8000"


@dataclass
class TeacherConfig:
    server: str
    data_dir: Path
    today: date | None  # a fixed "today" (demo and tests); None: the tablet's clock
    width: int = 1280
    height: int = 800
    sync_interval: float = 15.0

    @classmethod
    def from_env(cls) -> TeacherConfig:
        data = os.environ.get("PARTA_TEACHER_DATA")
        today = os.environ.get("PARTA_TODAY")
        return cls(
            server=os.environ.get("PARTA_SERVER", DEFAULT_SERVER),
            data_dir=Path(data) if data else platform.current().data_dir("teacher"),
            today=date.fromisoformat(today) if today else None,
            width=int(os.environ.get("PARTA_WINDOW_WIDTH", "1280")),
            height=int(os.environ.get("PARTA_WINDOW_HEIGHT", "800")),
            sync_interval=float(os.environ.get("PARTA_SYNC_INTERVAL", "15")),
        )


def prepare_kivy(config: TeacherConfig) -> None:
    """Kivy reads its settings at its first import: set them before it (landscape tablet)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_METRICS_DENSITY", "1")
    kivy_home = config.data_dir / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)  # Kivy exits silently if it cannot write it
    os.environ.setdefault("KIVY_HOME", str(kivy_home))
    from kivy.config import Config

    Config.set("graphics", "width", str(config.width))
    Config.set("graphics", "height", str(config.height))
    Config.set("graphics", "resizable", "1")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
