"""The apps' catalogue holds every text key the apps use, and Russian plurals are right."""

from __future__ import annotations

import re
from pathlib import Path

from mobile.common.i18n import catalogue, plural, t

MOBILE = Path(__file__).resolve().parents[2] / "mobile"


def test_every_key_used_by_the_apps_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in MOBILE.rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()))
    assert used, "no keys found: the pattern no longer matches the code"
    missing = sorted(used - set(catalogue()))
    assert missing == []


def test_texts_take_their_parameters() -> None:
    assert t("day.unmarked_count", count=3) == "Неотмеченные уроки: 3"
    assert t("no.such_key") == "no.such_key"


def test_russian_plurals() -> None:
    forms = ("урок", "урока", "уроков")
    assert [plural(n, *forms) for n in (1, 2, 5, 11, 12, 21, 22, 25, 111)] == [
        "урок",
        "урока",
        "уроков",
        "уроков",
        "уроков",
        "урок",
        "урока",
        "уроков",
        "уроков",
    ]
