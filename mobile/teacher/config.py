"""The app's settings: the server, where its data lives, the window. From the environment so
tests and a developer's desktop can point it anywhere; Android reads the same names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mobile.common import platform, window

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
    """Kivy's settings before its first import (landscape tablet)."""
    window.prepare_kivy(config.data_dir, config.width, config.height, 1.0)
