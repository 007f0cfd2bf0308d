"""SNILS checksums and the other personal data normal forms."""

from __future__ import annotations

import pytest

from backend.core.errors import ValidationFailed
from backend.schools.validators import (
    format_snils,
    normalize_health_group,
    normalize_pe_group,
    normalize_positions,
    normalize_sex,
    normalize_snils,
    snils_check_number,
)


@pytest.mark.parametrize(
    "raw, digits",
    [
        ("112-233-445 95", "11223344595"),
        ("11223344595", "11223344595"),
        (" 087-654-303 00 ", "08765430300"),  # sum 202 -> 202 mod 101 = 0
        ("001-001-998 00", "00100199800"),  # below the checked range: any control number
    ],
)
def test_valid_snils(raw: str, digits: str) -> None:
    assert normalize_snils(raw) == digits


@pytest.mark.parametrize("raw", ["112-233-445 96", "11223344594", "12345678901"])
def test_snils_with_a_wrong_control_number_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        normalize_snils(raw)
    assert "контрольное число" in exc.value.message


@pytest.mark.parametrize("raw", ["", "1122334459", "112-233-445 9X", "112233445950"])
def test_snils_of_the_wrong_shape_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        normalize_snils(raw)
    assert "11 цифр" in exc.value.message


@pytest.mark.parametrize(
    "nine, control",
    [
        ("112233445", 95),  # sum below 100: the sum itself
        ("920000003", 0),  # sum 100
        ("920000004", 0),  # sum 101
        ("555500000", 49),  # sum 150: 150 mod 101
        ("996000006", 0),  # sum 201: mod 101 is 100, which becomes 0
        ("087654303", 0),  # sum 202: mod 101 is 0
    ],
)
def test_check_number(nine: str, control: int) -> None:
    assert snils_check_number(nine) == control


def test_snils_is_shown_grouped() -> None:
    assert format_snils("11223344595") == "112-233-445 95"


def test_other_fields() -> None:
    assert normalize_sex("Ж") == "ж"
    assert normalize_sex("") == ""
    assert normalize_health_group("2") == "II"
    assert normalize_health_group("iii") == "III"
    assert normalize_pe_group("Основная") == "basic"
    assert normalize_positions(["teacher", "Class_Teacher", "teacher"]) == [
        "teacher",
        "class_teacher",
    ]
    for bad in (
        lambda: normalize_sex("x"),
        lambda: normalize_health_group("VI"),
        lambda: normalize_pe_group("любая"),
        lambda: normalize_positions(["astronaut"]),
    ):
        with pytest.raises(ValidationFailed):
            bad()
