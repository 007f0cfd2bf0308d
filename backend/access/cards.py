"""Card numbers: from what a reader prints to one canonical identifier, without losing a bit.

Pure functions, no I/O. A card (карта, браслет, брелок) reaches Parta as the text a controller
or a reader printed, in one of the formats below. `parse(raw, fmt)` turns it into a `CardId`:
the family of the card, how many bits of its number are known, and those bits. Its `canonical`
text is what is stored and matched; the raw text and its format are stored beside it, so
nothing a reader said is ever thrown away.

Two families, because they are two different technologies and never the same card:

**Proximity, 125 kHz (family ``px``): EM-Marine and the Wiegand outputs of its readers.**

- *EM-Marine* (EM4100/EM4102, «EM-Marin»): the card sends a 64-bit frame: 9 header ones,
  then 10 rows of 4 data bits each followed by an even row parity bit, 4 column parity bits
  and a stop bit. The payload is **40 bits**: an 8-bit version (customer) byte and a 32-bit
  number. Cards are printed with two forms of the low bits, e.g. ``0008106606 123,45678``:
  the 10-digit decimal is the **low 32 bits**; ``FFF,NNNNN`` is the **low 24 bits** split
  as an 8-bit "facility" and a 16-bit number. Readers in hex mode print all **40 bits** as 10
  hex digits (``00 7B B2 6E 1A``).
- *Wiegand-26*: 26 bits on the wire: an even parity bit over the next 12, **24 data bits**
  (8-bit facility code + 16-bit card number) and an odd parity bit over the previous 12.
  Controllers print it as ``facility,number`` (``123,45678``). It is the low 24 bits of the
  EM-Marine number.
- *Wiegand-34*: an even parity bit, **32 data bits**, an odd parity bit; printed as a
  10-digit decimal (``0008106606``). It is the low 32 bits of the EM-Marine number.

So one proximity card may be known by 24, 32 or 40 of its bits. Two readings are the same
card when their common low bits agree (`CardId.same_card`). A 24-bit reading cannot tell two
cards apart that differ only above bit 24: a school's registry refuses a second live card
with the same low 24 bits (`CardId.key24`), so a Wiegand-26 reading never matches two cards.
Parity bits are the reader's business: what arrives here is the decoded number.

**Mifare, 13.56 MHz (family ``mf``): ISO/IEC 14443-A UIDs.**

- The UID is **4 bytes** (single size; NUID) or **7 bytes** (double size; the first byte is
  the manufacturer, 0x04 for NXP), in the order the card sends them in anticollision (UID0
  first). The canonical form is that order, in hex: ``mf4:04A23BC1``, ``mf7:04A23BC1D2E380``.
- Many readers print the bytes **reversed** (the UID read as a little-endian integer): the
  card above shows as ``C13BA204``; format ``mifare_uid_reversed`` undoes it.
- Some print that reversed integer in decimal (``3241910788``): ``mifare_uid_decimal``.
  The number of digits tells the size: up to 10 digits is a 4-byte UID; a 7-byte UID is
  written with 11 to 17 digits (readers pad it to 17; a shorter 7-byte number must be padded
  too, or its size could not be told).

A Mifare card read through a reader that turns it into Wiegand-26/34 output is registered as
the reader prints it (that reader's number is what the controller will send).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

CardFormat = Literal[
    "wiegand26",
    "wiegand34",
    "em_marine",
    "em_marine_hex",
    "mifare_uid",
    "mifare_uid_reversed",
    "mifare_uid_decimal",
]
FORMATS: tuple[str, ...] = (
    "wiegand26",
    "wiegand34",
    "em_marine",
    "em_marine_hex",
    "mifare_uid",
    "mifare_uid_reversed",
    "mifare_uid_decimal",
)
RAW_MAX = 64  # longest raw text accepted (a 7-byte UID with separators is 20 characters)

_FACILITY_NUMBER = re.compile(r"^(\d{1,3})\s*,\s*(\d{1,5})$")
_DECIMAL = re.compile(r"^\d{1,20}$")
_HEX_SEPARATORS = re.compile(r"[\s:\-]")
_HEX = re.compile(r"^[0-9A-F]+$")


class CardFormatError(ValueError):
    """The text is not a card number of the named format. `reason` names a catalogue key
    (``access.card.<reason>``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CardId:
    """A card number as far as it is known: family (``px`` or ``mf``), bits known, value."""

    family: Literal["px", "mf"]
    bits: int  # px: 24, 32 or 40; mf: 32 or 56
    value: int

    @property
    def canonical(self) -> str:
        if self.family == "mf":
            return f"mf{self.bits // 8}:{self.value:0{self.bits // 4}X}"
        return f"px{self.bits}:{self.value:0{self.bits // 4}X}"

    @property
    def key24(self) -> str | None:
        """The low 24 bits, as a Wiegand-26 reading of this card would give them (proximity
        cards only): the key a school's registry keeps unique."""
        if self.family != "px":
            return None
        return f"px24:{self.value & 0xFFFFFF:06X}"

    @property
    def key32(self) -> str | None:
        """The low 32 bits when known (proximity cards read with 32 or 40 bits)."""
        if self.family != "px" or self.bits < 32:
            return None
        return f"px32:{self.value & 0xFFFFFFFF:08X}"

    def same_card(self, other: CardId) -> bool:
        """Both readings can be of one card: same family and their common bits agree. For
        Mifare that is the whole UID."""
        if self.family != other.family:
            return False
        if self.family == "mf":
            return self.bits == other.bits and self.value == other.value
        mask = (1 << min(self.bits, other.bits)) - 1
        return (self.value & mask) == (other.value & mask)


@lru_cache(maxsize=65536)
def from_canonical(text: str) -> CardId:
    """The inverse of `CardId.canonical` (for ids read back from storage)."""
    head, _, digits = text.partition(":")
    family, width = head[:2], int(head[2:])
    if family == "mf":
        return CardId("mf", width * 8, int(digits, 16))
    if family == "px":
        return CardId("px", width, int(digits, 16))
    raise CardFormatError("format_unknown")


def _hex_bytes(raw: str) -> str:
    text = _HEX_SEPARATORS.sub("", raw.upper())
    if text.startswith("0X"):
        text = text[2:]
    if not text or not _HEX.match(text):
        raise CardFormatError("not_hex")
    return text


def _facility_number(raw: str) -> CardId:
    match = _FACILITY_NUMBER.match(raw)
    if match is None:
        raise CardFormatError("not_facility_number")
    facility, number = int(match.group(1)), int(match.group(2))
    if facility > 0xFF:
        raise CardFormatError("facility_range")
    if number > 0xFFFF:
        raise CardFormatError("number_range")
    return CardId("px", 24, (facility << 16) | number)


def _decimal32(raw: str) -> CardId:
    if not _DECIMAL.match(raw) or len(raw) > 10:
        raise CardFormatError("not_decimal10")
    value = int(raw)
    if value > 0xFFFFFFFF:
        raise CardFormatError("decimal_range")
    return CardId("px", 32, value)


def parse(raw: str, fmt: str) -> CardId:
    """The card number in `raw`, printed in format `fmt`. Raises `CardFormatError`."""
    text = raw.strip()
    if not text:
        raise CardFormatError("empty")
    if len(text) > RAW_MAX:
        raise CardFormatError("too_long")
    if fmt == "wiegand26":
        return _facility_number(text)
    if fmt == "wiegand34":
        return _decimal32(text)
    if fmt == "em_marine":
        # The two forms printed on the card: "123,45678" (low 24 bits) or 10 digits (low 32).
        return _facility_number(text) if "," in text else _decimal32(text)
    if fmt == "em_marine_hex":
        digits = _hex_bytes(text)
        if len(digits) not in (6, 8, 10):
            raise CardFormatError("em_hex_length")
        return CardId("px", len(digits) * 4, int(digits, 16))
    if fmt in ("mifare_uid", "mifare_uid_reversed"):
        digits = _hex_bytes(text)
        if len(digits) not in (8, 14):
            raise CardFormatError("mifare_length")
        data = bytes.fromhex(digits)
        if fmt == "mifare_uid_reversed":
            data = data[::-1]
        return CardId("mf", len(data) * 8, int.from_bytes(data, "big"))
    if fmt == "mifare_uid_decimal":
        if not _DECIMAL.match(text) or len(text) > 17:
            raise CardFormatError("not_decimal")
        size = 4 if len(text) <= 10 else 7
        value = int(text)
        if value >= 1 << (size * 8):
            raise CardFormatError("decimal_range")
        data = value.to_bytes(size, "little")  # the printed integer is the UID reversed
        return CardId("mf", size * 8, int.from_bytes(data, "big"))
    raise CardFormatError("format_unknown")


def printed_forms(card: CardId) -> dict[str, str]:
    """The forms a reader could print for this card, by format (for staff screens and tests)."""
    if card.family == "mf":
        size = card.bits // 8
        data = card.value.to_bytes(size, "big")
        return {
            "mifare_uid": data.hex().upper(),
            "mifare_uid_reversed": data[::-1].hex().upper(),
            "mifare_uid_decimal": f"{int.from_bytes(data, 'little'):0{10 if size == 4 else 17}d}",
        }
    low24 = card.value & 0xFFFFFF
    forms = {"wiegand26": f"{low24 >> 16},{low24 & 0xFFFF}"}
    if card.bits >= 32:
        forms["wiegand34"] = f"{card.value & 0xFFFFFFFF:010d}"
    if card.bits == 40:
        forms["em_marine_hex"] = f"{card.value:010X}"
    return forms
