"""Card numbers: every printed form of one card resolves to it; different cards never match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.access.cards import CardFormatError, CardId, from_canonical, parse, printed_forms

em40 = st.integers(min_value=0, max_value=(1 << 40) - 1)
uid4 = st.binary(min_size=4, max_size=4)
uid7 = st.binary(min_size=7, max_size=7)


def test_the_forms_printed_on_one_em_marine_card_agree() -> None:
    # A card printed "0008106606 123,45678", read in hex mode as 00 00 7B B2 6E.
    w26 = parse("123,45678", "wiegand26")
    w34 = parse("0008106606", "wiegand34")
    em_text = parse("123, 45678", "em_marine")
    em_digits = parse("0008106606", "em_marine")
    em_hex = parse("00 00 7B B2 6E", "em_marine_hex")
    assert w26 == em_text == CardId("px", 24, 0x7BB26E)
    assert w34 == em_digits == CardId("px", 32, 0x007BB26E)
    assert em_hex.canonical == "px40:00007BB26E"
    for a in (w26, w34, em_hex):
        for b in (w26, w34, em_hex):
            assert a.same_card(b)


def test_mifare_uid_in_any_printed_order_is_one_card() -> None:
    iso = parse("04:A2:3B:C1", "mifare_uid")
    assert iso.canonical == "mf4:04A23BC1"
    assert parse("C13BA204", "mifare_uid_reversed") == iso
    assert parse("3241910788", "mifare_uid_decimal") == iso
    seven = parse("04 A2 3B C1 D2 E3 80", "mifare_uid")
    assert seven.canonical == "mf7:04A23BC1D2E380"
    assert parse("80E3D2C13BA204", "mifare_uid_reversed") == seven
    assert not seven.same_card(iso)


@given(em40)
def test_every_printed_form_of_a_proximity_card_resolves_to_it(value: int) -> None:
    card = CardId("px", 40, value)
    for fmt, text in printed_forms(card).items():
        reading = parse(text, fmt)
        assert reading.same_card(card), (fmt, text)
        assert reading.key24 == card.key24


@given(em40, em40)
def test_proximity_cards_that_differ_never_match_where_the_bits_are_known(a: int, b: int) -> None:
    card_a, card_b = CardId("px", 40, a), CardId("px", 40, b)
    for fmt_a, text_a in printed_forms(card_a).items():
        for fmt_b, text_b in printed_forms(card_b).items():
            ra, rb = parse(text_a, fmt_a), parse(text_b, fmt_b)
            bits = min(ra.bits, rb.bits)
            mask = (1 << bits) - 1
            assert ra.same_card(rb) == ((a & mask) == (b & mask))


@given(st.one_of(uid4, uid7))
def test_every_printed_form_of_a_mifare_uid_resolves_to_it(uid: bytes) -> None:
    card = CardId("mf", len(uid) * 8, int.from_bytes(uid, "big"))
    for fmt, text in printed_forms(card).items():
        assert parse(text, fmt) == card, (fmt, text)
    assert from_canonical(card.canonical) == card


@given(st.one_of(uid4, uid7), st.one_of(uid4, uid7))
def test_different_mifare_uids_never_collide(a: bytes, b: bytes) -> None:
    ca = parse(a.hex(), "mifare_uid")
    cb = parse(b.hex(), "mifare_uid")
    assert (ca == cb) == (a == b)
    assert (ca.canonical == cb.canonical) == (a == b)
    assert ca.same_card(cb) == (a == b)


@given(em40, st.one_of(uid4, uid7))
def test_a_proximity_card_is_never_a_mifare_card(value: int, uid: bytes) -> None:
    px = CardId("px", 40, value)
    mf = parse(uid.hex(), "mifare_uid")
    assert not px.same_card(mf)
    assert px.canonical != mf.canonical


@given(em40)
def test_the_canonical_form_loses_no_bit(value: int) -> None:
    for bits in (24, 32, 40):
        card = CardId("px", bits, value & ((1 << bits) - 1))
        assert from_canonical(card.canonical) == card


@pytest.mark.parametrize(
    ("raw", "fmt", "reason"),
    [
        ("256,1", "wiegand26", "facility_range"),
        ("1,65536", "wiegand26", "number_range"),
        ("12345", "wiegand26", "not_facility_number"),
        ("4294967296", "wiegand34", "decimal_range"),
        ("12345678901", "wiegand34", "not_decimal10"),
        ("7BB26E1", "em_marine_hex", "em_hex_length"),
        ("GG00AA11", "mifare_uid", "not_hex"),
        ("04A23B", "mifare_uid", "mifare_length"),
        ("  ", "wiegand34", "empty"),
        ("1", "iso_unknown", "format_unknown"),
    ],
)
def test_malformed_numbers_are_refused_with_a_reason(raw: str, fmt: str, reason: str) -> None:
    with pytest.raises(CardFormatError) as caught:
        parse(raw, fmt)
    assert caught.value.reason == reason
