"""The kinds of events families hear about: who hears, how urgent, on which channels by default."""

from __future__ import annotations

from dataclasses import dataclass

from backend.schools.contacts import CLASS_TEACHER, DELEGATE, GUARDIAN, PUPIL

PUSH, TELEGRAM, SMS, EMAIL = "push", "telegram", "sms", "email"
CHANNELS = (PUSH, TELEGRAM, EMAIL, SMS)
# When a channel cannot reach the person, the next one takes over; SMS costs money: last.
FALLBACK_ORDER = (PUSH, TELEGRAM, EMAIL, SMS)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    audience: frozenset[str]  # roles that hear about it
    urgent: bool = False  # passes through quiet hours
    # A delegate hears only if the legal representative gave them this part.
    delegate_part: str = "diary.read"
    # Whether the text carries a pupil's personal data (marks, absences): then it goes abroad
    # (FCM, Telegram, foreign e-mail) only with consent.
    personal: bool = True


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("mark.created", frozenset({GUARDIAN, DELEGATE, PUPIL})),
        Kind("mark.changed", frozenset({GUARDIAN, DELEGATE, PUPIL})),
        Kind("final_mark.set", frozenset({GUARDIAN, PUPIL})),
        Kind("attendance.absent", frozenset({GUARDIAN, DELEGATE})),
        Kind("attendance.late", frozenset({GUARDIAN, DELEGATE})),
        Kind("homework.created", frozenset({PUPIL, GUARDIAN})),
        Kind("remark.created", frozenset({GUARDIAN, CLASS_TEACHER})),
        Kind("access.entered", frozenset({GUARDIAN, DELEGATE}), delegate_part="access.read"),
        Kind("access.exited", frozenset({GUARDIAN, DELEGATE}), delegate_part="access.read"),
        Kind("announcement.created", frozenset({GUARDIAN}), personal=False),
        Kind("account.password_reset_code", frozenset(), urgent=True, personal=False),
    )
}


def kind_of(name: str) -> Kind | None:
    return KINDS.get(name)
