"""The apps show kopecks as roubles exactly and read a typed sum back to kopecks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mobile.common.money import NBSP, parse_roubles, roubles


def test_kopecks_are_shown_as_roubles() -> None:
    assert roubles(150_000) == f"1{NBSP}500,00{NBSP}₽"
    assert roubles(9_505) == f"95,05{NBSP}₽"
    assert roubles(7) == f"0,07{NBSP}₽"
    assert roubles(0) == f"0,00{NBSP}₽"
    assert roubles(-16_500, sign=True) == f"−165,00{NBSP}₽"
    assert roubles(100_000_000, sign=True) == f"+1{NBSP}000{NBSP}000,00{NBSP}₽"


def test_typed_sums_are_read_as_kopecks() -> None:
    assert parse_roubles("150") == 15_000
    assert parse_roubles("150,5") == 15_050
    assert parse_roubles("1 500.05 ₽") == 150_005
    for bad in ("", "abc", "1,234", "-5", "1.2.3", ",5"):
        assert parse_roubles(bad) is None, bad


@given(st.integers(min_value=0, max_value=100_000_000))
def test_every_sum_reads_back_exactly(kopecks: int) -> None:
    assert parse_roubles(roubles(kopecks)) == kopecks
