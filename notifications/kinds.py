"""Who hears about each kind of event, how urgently, and what a delegate needs for it. The
names of the kinds and channels come from the catalogue (`backend.events.kinds`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.events import kinds as k
from backend.events.kinds import CHANNELS, EMAIL, FALLBACK_ORDER, PUSH, SMS, TELEGRAM
from backend.schools.people.contacts import CLASS_TEACHER, DELEGATE, GUARDIAN, PUPIL, SECURITY

__all__ = ["CHANNELS", "EMAIL", "FALLBACK_ORDER", "KINDS", "PUSH", "SMS", "TELEGRAM", "Kind"]


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
    kind.name: kind
    for kind in (
        Kind(k.MARK_CREATED, frozenset({GUARDIAN, DELEGATE, PUPIL})),
        Kind(k.MARK_CHANGED, frozenset({GUARDIAN, DELEGATE, PUPIL})),
        Kind(k.FINAL_MARK_SET, frozenset({GUARDIAN, PUPIL})),
        Kind(k.ATTENDANCE_ABSENT, frozenset({GUARDIAN, DELEGATE})),
        Kind(k.ATTENDANCE_LATE, frozenset({GUARDIAN, DELEGATE})),
        Kind(k.HOMEWORK_CREATED, frozenset({PUPIL, GUARDIAN})),
        Kind(k.REMARK_CREATED, frozenset({GUARDIAN, CLASS_TEACHER})),
        Kind(k.ACCESS_ENTERED, frozenset({GUARDIAN, DELEGATE}), delegate_part="access.read"),
        Kind(k.ACCESS_EXITED, frozenset({GUARDIAN, DELEGATE}), delegate_part="access.read"),
        Kind(k.ACCESS_NOT_ARRIVED, frozenset({GUARDIAN, DELEGATE}), delegate_part="access.read"),
        Kind(k.ACCESS_ABSENT_INSIDE, frozenset({CLASS_TEACHER})),
        Kind(k.ACCESS_PASSED, frozenset({GUARDIAN, DELEGATE}), delegate_part="access.read"),
        Kind(k.ACCESS_CARD_REFUSED, frozenset({SECURITY})),
        Kind(k.ACCESS_CLOCK_SKEW, frozenset({SECURITY}), personal=False),
        # The guardian's threshold: a delegate with the meals part orders meals too.
        Kind(k.MEALS_LOW_BALANCE, frozenset({GUARDIAN, DELEGATE}), delegate_part="meals.order"),
        Kind(k.ANNOUNCEMENT_CREATED, frozenset({GUARDIAN}), personal=False),
        Kind(k.PASSWORD_RESET_CODE, frozenset(), urgent=True, personal=False),
    )
}
# Every kind families or staff hear about has its policy here (and the reset code, sent to its
# owner).
assert set(KINDS) == {*k.NOTIFIED, *k.STAFF_NOTIFIED, k.PASSWORD_RESET_CODE}


def kind_of(name: str) -> Kind | None:
    return KINDS.get(name)
