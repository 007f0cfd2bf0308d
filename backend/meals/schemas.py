"""API shapes of the meals context. Request bodies refuse unknown fields; every integer has a
range and every text a length (money is integer kopecks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

# Text a person typed: line breaks and tabs are fine, other control characters are not.
PLAIN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_KOPECKS = 100_000_000  # one million roubles


def plain_text(max_length: int, min_length: int = 0) -> Any:
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=PLAIN)


Kopecks = Annotated[int, msgspec.Meta(ge=1, le=MAX_KOPECKS)]
Limit = Annotated[int, msgspec.Meta(ge=0, le=MAX_KOPECKS)]
IdempotencyKey = Annotated[
    str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class MealSettings(msgspec.Struct):
    school_id: int
    overdraft_limit: int
    order_horizon_days: int
    pupils_may_order: bool


class MealSettingsUpdate(Strict):
    overdraft_limit: Limit | msgspec.UnsetType = msgspec.UNSET
    order_horizon_days: Annotated[int, msgspec.Meta(ge=1, le=60)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    pupils_may_order: bool | msgspec.UnsetType = msgspec.UNSET


class PupilAccountOut(msgspec.Struct):
    """Balances in kopecks: posted (on the account), held (reserved by orders not yet
    posted), available (posted - held: what may still be spent)."""

    student_id: int
    school_id: int
    posted: int
    held: int
    available: int
    overdraft_limit: int
    low_balance_threshold: int | None


class PupilAccountUpdate(Strict):
    low_balance_threshold: Limit | None


class StatementEntry(msgspec.Struct):
    id: int
    at: datetime
    kind: str
    kind_name: str
    amount: int  # signed: + into the pupil's account, - out of it
    status: str
    status_name: str
    hold_state: str | None  # for holds: pending | posted | voided
    pending_id: int | None
    reverses_id: int | None
    refund_of: int | None
    reference: str
    reason: str
    posted_after: int  # the posted balance after this entry


class StatementOut(msgspec.Struct):
    account: PupilAccountOut
    items: list[StatementEntry]
    total: int


class CashTopUp(Strict):
    amount: Kopecks
    idempotency_key: IdempotencyKey
    comment: Annotated[str, plain_text(300)] = ""


class RefundRequest(Strict):
    amount: Kopecks
    idempotency_key: IdempotencyKey
    reason: Annotated[str, plain_text(500)] = ""


class CorrectionRequest(Strict):
    reason: Annotated[str, plain_text(500, min_length=3)]


class TransferOut(msgspec.Struct):
    id: int
    kind: str
    amount: int
    status: str
    pending_id: int | None
    reverses_id: int | None
    refund_of: int | None
    at: datetime
    reason: str


class BookCheckOut(msgspec.Struct):
    school_id: int
    ok: bool
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    accounts: int
    mismatched_accounts: list[int]
    over_limit_accounts: list[int]
