"""Texts people see, from the mobile package's own catalogue (`mobile/i18n/ru.toml`).

The apps cannot read the backend's catalogue (they ship without it), so they keep their own.
`t(key, **params)` (keys are "section.name") formats the text with `str.format`; a missing
key shows the key itself, so a gap is visible on screen and caught by the catalogue test.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "i18n"


@cache
def catalogue(locale: str = "ru") -> dict[str, str]:
    with (CATALOGUE_DIR / f"{locale}.toml").open("rb") as f:
        data = tomllib.load(f)
    flat: dict[str, str] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(name + ".", value)
            else:
                flat[name] = str(value)

    walk("", data)
    return flat


def t(key: str, **params: Any) -> str:
    text = catalogue().get(key)
    if text is None:
        return key
    return text.format(**params) if params else text


def plural(n: int, one: str, few: str, many: str) -> str:
    """Russian plural form for n: 1 урок, 2 урока, 5 уроков."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many
