"""Kivy's settings, made before its first import (Kivy reads them then): both apps' window,
density and Kivy's own directory inside the app's data directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from mobile.common.i18n import t


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


def offscreen(environ: Mapping[str, str] = os.environ, system: str = sys.platform) -> bool:
    """Whether SDL will draw the window off any screen: asked to (`SDL_VIDEODRIVER=offscreen`),
    or on Linux with neither an X nor a Wayland display to draw on (SDL then picks offscreen)."""
    driver = environ.get("SDL_VIDEODRIVER", "")
    if driver:
        return driver == "offscreen"
    return system.startswith("linux") and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    )


def start_line(
    title: str, server: str, environ: Mapping[str, str] = os.environ, system: str = sys.platform
) -> str:
    """What a desktop app says as it starts: which server, and, without a screen, that its
    window is drawn where nobody sees it and how to show it (trial 2026-12-07: the apps
    started silently)."""
    line = t("desktop.started", app=title, server=server)
    if offscreen(environ, system):
        line += "\n" + t("desktop.no_screen")
    return line


def say_start(title: str, server: str) -> None:
    print(start_line(title, server), flush=True)
