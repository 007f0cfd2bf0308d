"""The message catalogue: every text a person sees is looked up here by a stable key.

Catalogues are TOML files in one folder per locale (`ru/` is the reference, `en/` follows),
one file per area (`core.toml`, `schools.toml`, `journal.toml`, ...), merged on load; a key
defined twice is an error. Keys are dotted (`auth.invalid_credentials`); values use
`str.format` fields (`{minutes}`).
A key missing from a locale falls back to Russian; a key missing everywhere is a bug and raises.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_LOCALE = "ru"
_HERE = Path(__file__).parent


def _flatten(prefix: str, tree: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in tree.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All messages of one locale, flattened to dotted keys."""
    out: dict[str, str] = {}
    for path in sorted((_HERE / locale).glob("*.toml")):
        part: dict[str, str] = {}
        _flatten("", tomllib.loads(path.read_text(encoding="utf-8")), part)
        clash = out.keys() & part.keys()
        if clash:
            raise ValueError(f"message keys defined twice in {locale}/: {sorted(clash)}")
        out.update(part)
    return out


def available_locales() -> list[str]:
    return sorted(p.name for p in _HERE.iterdir() if p.is_dir() and any(p.glob("*.toml")))


def t(key: str, locale: str | None = None, /, **params: Any) -> str:
    """The text for `key` in `locale` (Russian by default), with `params` filled in."""
    text = catalogue(locale or DEFAULT_LOCALE).get(key)
    if text is None:
        text = catalogue(DEFAULT_LOCALE).get(key)
    if text is None:
        raise KeyError(f"message key {key!r} is not in the catalogue")
    return text.format(**params) if params else text


def has(key: str) -> bool:
    return key in catalogue(DEFAULT_LOCALE)
