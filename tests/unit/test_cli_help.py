"""`parta … --help` speaks Russian, Click's own words included, for every command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from backend.cli import main

ENGLISH = ("Usage:", "Options:", "Commands:", "Show this message", "[default:", "[OPTIONS]")


@pytest.mark.parametrize("command", [[], *[[name] for name in sorted(main.commands)]])
def test_help_is_in_russian(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="parta")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Запуск: parta")
    assert "Показать эту справку и выйти." in result.output
    for word in ENGLISH:
        assert word not in result.output, (command, word, result.output)


def test_defaults_and_required_options_are_named_in_russian() -> None:
    demo = CliRunner().invoke(main, ["demo", "--help"], prog_name="parta").output
    assert "[по умолчанию: 8000]" in demo
    createadmin = CliRunner().invoke(main, ["createadmin", "--help"], prog_name="parta").output
    assert "обязательный" in createadmin
    assert "worker" in main.commands
