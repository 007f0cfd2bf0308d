"""Money as people read it: integer kopecks from the API shown as roubles, exactly
(`150000` -> «1 500,00 ₽»), never through a float."""

from __future__ import annotations

NBSP = "\u00a0"  # between thousands and before ₽, so a sum never breaks across lines


def roubles(kopecks: int, *, sign: bool = False) -> str:
    """«1 500,00 ₽»; with `sign`, «+1 500,00 ₽» / «−95,00 ₽» (a statement's movements)."""
    whole, part = divmod(abs(kopecks), 100)
    digits = f"{whole:,}".replace(",", NBSP)
    prefix = "−" if kopecks < 0 else ("+" if sign and kopecks > 0 else "")
    return f"{prefix}{digits},{part:02d}{NBSP}₽"


def parse_roubles(text: str) -> int | None:
    """What a person typed («150», «150,50», «1 500.5») in kopecks; None when it is not a sum."""
    cleaned = text.replace(NBSP, "").replace(" ", "").replace("₽", "").replace(",", ".")
    if not cleaned:
        return None
    whole, _, part = cleaned.partition(".")
    if not whole.isdigit() or (part and (not part.isdigit() or len(part) > 2)):
        return None
    return int(whole) * 100 + int(part.ljust(2, "0") or "0")
