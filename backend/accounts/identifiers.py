"""How people name themselves at sign-in: a phone (normalised to E.164), an e-mail or a login."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from backend.core.errors import ValidationFailed

IdentifierKind = Literal["phone", "email", "login"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOGIN = re.compile(r"^[A-Za-z0-9._-]{3,64}$")


def normalize_phone(raw: str) -> str:
    """A Russian or international number in E.164 (`8 912 345-67-89` -> `+79123456789`)."""
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and len(digits) == 11 and digits[0] in "78":
        text = "+7" + digits[1:]
    elif not text.startswith("+") and len(digits) == 10 and digits[0] == "9":
        text = "+7" + digits
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        raise ValidationFailed(key="auth.phone_invalid", value=raw) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(key="auth.phone_invalid", value=raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    text = raw.strip().lower()
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValidationFailed(key="auth.email_invalid", value=raw)
    return text


def normalize_login(raw: str) -> str:
    text = raw.strip().lower()
    if not _LOGIN.match(text):
        raise ValidationFailed(key="auth.login_invalid")
    return text


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: IdentifierKind
    value: str


def parse_identifier(raw: str) -> Identifier:
    """Guess what a person typed in the one "phone, e-mail or login" field."""
    text = raw.strip()
    if not text:
        raise ValidationFailed(key="auth.identifier_required")
    if "@" in text:
        return Identifier("email", normalize_email(text))
    if re.fullmatch(r"[+\d\s()\-]{10,20}", text) and sum(c.isdigit() for c in text) >= 10:
        return Identifier("phone", normalize_phone(text))
    return Identifier("login", normalize_login(text))
