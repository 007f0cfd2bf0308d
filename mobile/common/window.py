"""Kivy's settings, made before its first import (Kivy reads them then): both apps' window,
density and Kivy's own directory inside the app's data directory."""

from __future__ import annotations

import os
from pathlib import Path


def prepare_kivy(data_dir: Path, width: int, height: int, density: float = 1.0) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_METRICS_DENSITY", str(density))
    kivy_home = data_dir / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)  # Kivy exits silently if it cannot write it
    os.environ.setdefault("KIVY_HOME", str(kivy_home))
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "1")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
