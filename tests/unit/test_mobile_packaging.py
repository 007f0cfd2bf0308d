"""The teacher app's Android package description reads and says what a tablet build needs
(CI cannot download the Android SDK, so this is what can be checked here)."""

from __future__ import annotations

import configparser
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "mobile" / "teacher" / "buildozer.spec"


def test_the_buildozer_spec_reads_and_describes_a_landscape_tablet_app() -> None:
    spec = configparser.ConfigParser()
    assert spec.read(SPEC, encoding="utf-8") == [str(SPEC)]
    app = spec["app"]
    assert app["title"] == "Парта · Учитель"
    assert app["orientation"] == "landscape"
    assert "kivy==2.3.1" in app["requirements"].split(",")
    assert "msgspec" in app["requirements"]
    assert "INTERNET" in app["android.permissions"]
    source = (SPEC.parent / app["source.dir"]).resolve()
    assert (source / "main.py").exists() and (source / "teacher" / "__main__.py").exists()
    assert "family" in app["source.exclude_dirs"].split(",")  # main.py then starts this app
