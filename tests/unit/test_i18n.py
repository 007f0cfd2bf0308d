"""The message catalogue: Russian is complete, other locales only translate existing keys."""

from __future__ import annotations

import re

import pytest

from backend.i18n import available_locales, catalogue, t


def test_russian_is_the_reference_and_loads() -> None:
    assert "ru" in available_locales()
    assert t("error.not_found") == "Запрошенный объект не найден."


def test_parameters_are_filled_and_missing_keys_raise() -> None:
    assert "5" in t("auth.throttled_login", minutes=5)
    with pytest.raises(KeyError):
        t("no.such.key")


def test_english_falls_back_to_russian() -> None:
    assert t("auth.invalid_credentials", "en") == "Wrong login or password."
    assert t("auth.account_disabled", "en") == t("auth.account_disabled")


@pytest.mark.parametrize("locale", [loc for loc in available_locales() if loc != "ru"])
def test_translations_use_known_keys_and_the_same_fields(locale: str) -> None:
    reference = catalogue("ru")
    for key, text in catalogue(locale).items():
        assert key in reference, f"{locale}: {key} is not in the Russian catalogue"
        fields = set(re.findall(r"\{(\w+)\}", text))
        assert fields == set(re.findall(r"\{(\w+)\}", reference[key])), key
