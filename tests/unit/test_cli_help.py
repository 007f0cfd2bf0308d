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


def test_the_command_and_the_bot_say_what_they_are_in_russian() -> None:
    """Trial 2026-12-07: «Parta: the school system.»; `bot` named Telegram alone."""
    top = CliRunner().invoke(main, ["--help"], prog_name="parta").output
    assert "Парта: электронный журнал и дневник" in top
    assert "school system" not in top and "Parta" not in top
    bot = CliRunner().invoke(main, ["bot", "--help"], prog_name="parta").output
    assert "в Telegram и MAX" in " ".join(bot.split())


def test_defaults_and_required_options_are_named_in_russian() -> None:
    demo = CliRunner().invoke(main, ["demo", "--help"], prog_name="parta").output
    assert "[по умолчанию: 8000]" in demo
    createadmin = CliRunner().invoke(main, ["createadmin", "--help"], prog_name="parta").output
    assert "обязательный" in createadmin
    assert "worker" in main.commands


USAGE_ERRORS = [
    (["export", "pupils"], "Ошибка: Не указан параметр '--school'."),
    (["export", "pupils", "--school", "x", "-o", "x.csv"], "«x» — не число."),
    (["seed", "--classes-per-grade", "99"], "99 — вне допустимого диапазона 1<=x<=10."),
    (["export", "pupil", "--school", "1", "-o", "x.csv"], "«pupil» — не из допустимых:"),
    (["serve", "--prot", "1"], "Нет параметра «--prot». Возможно, имелось в виду:"),
    (["nosuch"], "Ошибка: Нет команды «nosuch»."),
    (["migrate", "extra"], "Лишние аргументы: extra"),
    (["import", "pupils", "/nonexistent.csv", "--school", "1"], "«/nonexistent.csv» не найден."),
]


def test_an_option_without_its_value_is_named_in_russian() -> None:
    result = CliRunner().invoke(main, ["serve", "--port"], prog_name="parta")
    assert result.exit_code == 2
    assert result.output == "Ошибка: Параметру «--port» нужно значение.\n"


@pytest.mark.parametrize(("command", "expected"), USAGE_ERRORS)
def test_usage_errors_are_in_russian(command: list[str], expected: str) -> None:
    result = CliRunner().invoke(main, command, prog_name="parta")
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "Справка: parta" in result.output
    for word in ("Error", "Missing", "Invalid value", "Try '", "No such", "Usage:", "Got "):
        assert word not in result.output, (command, word, result.output)
