"""What the access context publishes to other contexts: whose card a reading is.

The canteen counter and the buffet identify a pupil by the same card the turnstiles read
(decision 0900: one canonical id per reading, matched on the bits both sides know). They ask
here instead of reading the card registry's tables; the answer says whose card it is and
whether it is still live, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.access import cards, registry

CardFormat = cards.CardFormat
FORMATS = cards.FORMATS


@dataclass(frozen=True, slots=True)
class CardHolder:
    """The card row a reading belongs to. `active` is False for a lost, replaced or withdrawn
    card (`blocked_reason` says which)."""

    card_id: int
    holder_kind: str  # student | staff
    holder_id: int
    active: bool
    blocked_reason: str


async def card_holder(
    school_id: int, raw_value: str, card_format: str, *, field: str = "raw_value"
) -> CardHolder | None:
    """Whose card of the school `raw_value` (printed in `card_format`) is: a live card wins
    over a blocked one with the same number; None when the school issued no such card.
    An unreadable number is refused (422) naming `field`."""
    reading = registry.parse_card(raw_value, card_format, field)
    found = (await registry.match_cards(school_id, [reading])).get(reading.canonical)
    if found is None:
        return None
    row = await registry.card(int(found["id"]))
    return CardHolder(
        card_id=int(row["id"]),
        holder_kind=str(row["holder_kind"]),
        holder_id=int(row["holder_id"]),
        active=row["status"] == "active",
        blocked_reason=str(row["blocked_reason"] or ""),
    )
