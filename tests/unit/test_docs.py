"""The operator's guide lists every setting, so that docs stay true to the code."""

from __future__ import annotations

from pathlib import Path

from backend.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [
        f"PARTA_{name.upper()}"
        for name in Settings.model_fields
        if f"`PARTA_{name.upper()}`" not in text
    ]
    assert not missing, f"settings missing from docs/operations.md: {missing}"


def test_readme_gives_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "uv run parta demo" in text
    assert "uv run pytest" in text


def test_readme_says_how_long_the_suite_takes_and_how_to_run_a_part() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "The whole suite takes about" in text
    assert "uv run pytest tests/unit" in text and " -k " in text


def test_the_licence_text_is_in_the_repository() -> None:
    """pyproject.toml declares AGPL-3.0-or-later: the full text must ship with the code."""
    licence = ROOT / "LICENSE"
    assert licence.is_file(), "LICENSE is missing"
    text = licence.read_text(encoding="utf-8")
    assert text.startswith("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007")
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = { text = "AGPL-3.0-or-later" }' in (ROOT / "pyproject.toml").read_text()


def test_readme_names_the_chat_the_demo_linked_and_how_metrics_are_read() -> None:
    """Trial 2026-12-07: README said the demo parent "has a linked Telegram chat" while its
    example chat (200001) got nothing until linked, and that /metrics serves metrics, which
    answers 404 without PARTA_METRICS_TOKEN."""
    from backend.seed import DEMO_TELEGRAM_CHAT

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"a Telegram chat linked by the seed, the stand-in's chat `{DEMO_TELEGRAM_CHAT}`" in text
    assert "the chat `200001` below is a new one, linked with a code" in text
    assert "Authorization: Bearer <PARTA_METRICS_TOKEN>" in text
    assert "without `PARTA_METRICS_TOKEN` set there is no such route: 404" in text
