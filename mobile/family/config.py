"""The family app's settings from the environment (tests and desktops point it anywhere;
Android reads the same names), and Kivy's settings made before its first import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mobile.common import platform, window

DEFAULT_SERVER = "http://127.0.0.1:8000"


@dataclass
class FamilyConfig:
    server: str
    data_dir: Path
    today: date | None  # a fixed "today" (tests); None: the phone's clock
    width: int = 360
    height: int = 720
    density: float = 1.0

    @classmethod
    def from_env(cls) -> FamilyConfig:
        data = os.environ.get("PARTA_FAMILY_DATA")
        today = os.environ.get("PARTA_TODAY")
        return cls(
            server=os.environ.get("PARTA_SERVER", DEFAULT_SERVER),
            data_dir=Path(data) if data else platform.current().data_dir("family"),
            today=date.fromisoformat(today) if today else None,
            width=int(os.environ.get("PARTA_WINDOW_WIDTH", "360")),
            height=int(os.environ.get("PARTA_WINDOW_HEIGHT", "720")),
            density=float(os.environ.get("PARTA_DENSITY", "1")),
        )


def prepare_kivy(config: FamilyConfig) -> None:
    """Kivy's settings before its first import (a phone, portrait)."""
    window.prepare_kivy(config.data_dir, config.width, config.height, config.density)
