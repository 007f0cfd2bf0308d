"""Chat-link codes as people type them, and the bot's button data limit."""

from __future__ import annotations

import pytest

from backend.messaging.links import SHORT_LENGTH, looks_like_code, normalize
from bots.core import CALLBACK_LIMIT, Button


def test_a_short_code_is_read_without_case_spaces_or_dashes() -> None:
    assert normalize(" abcd-efgh ") == "ABCDEFGH"
    assert normalize("ab cd ef gh") == "ABCDEFGH"
    assert len(normalize("abcd-efgh")) == SHORT_LENGTH
    # a deep-link payload is taken as it is (its case matters)
    assert normalize("UbahJp9wZfOkBuewylwmRXomIjgC6XL_") == "UbahJp9wZfOkBuewylwmRXomIjgC6XL_"


def test_only_code_shaped_texts_are_tried_as_codes() -> None:
    assert looks_like_code("abcd-efgh")
    assert looks_like_code("UbahJp9wZfOkBuewylwmRXomIjgC6XL_")
    assert not looks_like_code("Привет")
    assert not looks_like_code("какие оценки")
    assert not looks_like_code("ABCD-EFG0")  # 0 is not in the alphabet: a typo, not a code
    assert not looks_like_code("x" * 65)


def test_button_data_over_telegrams_limit_is_refused_when_built() -> None:
    Button("ok", "x" * CALLBACK_LIMIT)
    with pytest.raises(ValueError, match="64 bytes"):
        Button("too long", "я" * 33)  # 66 bytes in UTF-8
