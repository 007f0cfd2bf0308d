"""API shapes of the meals context. Request bodies refuse unknown fields; every integer has a
range and every text a length (money is integer kopecks)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from backend.access.services import CardFormat
from backend.core.bounds import ID_ITEMS, Id, documented, items_between

# Text a person typed: line breaks and tabs are fine, other control characters are not.
PLAIN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_KOPECKS = 100_000_000  # one million roubles
Day = date  # fields named `date` cannot use the type's own name in their annotation


def plain_text(max_length: int, min_length: int = 0) -> Any:
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=PLAIN)


Kopecks = Annotated[int, msgspec.Meta(ge=1, le=MAX_KOPECKS)]
# Litestar drops a bound of 0 beside `| None`; `documented` repeats it (backend/core/bounds.py).
Limit = Annotated[int, msgspec.Meta(ge=0, le=MAX_KOPECKS, extra_json_schema=documented(minimum=0))]
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
    reference: str  # the ledger's own code (payment:12, order:18, cash, buffet)
    basis: str  # the same in words: «Пополнение через ЮKassa № 12», «Обед на 08.12.2026»
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


# ---- menus ---------------------------------------------------------------------------------

Allergen = Literal[
    "gluten",
    "crustaceans",
    "eggs",
    "fish",
    "peanuts",
    "soy",
    "milk",
    "tree_nuts",
    "celery",
    "mustard",
    "sesame",
    "sulphites",
    "lupin",
    "molluscs",
]
MealKind = Literal["breakfast", "lunch", "snack"]
Diet = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[a-z_]*$")]
Grams = Annotated[float, msgspec.Meta(ge=0, le=5000)]


class CatererCreate(Strict):
    name: Annotated[str, plain_text(300, min_length=2)]
    inn: Annotated[str, msgspec.Meta(pattern=r"^(\d{10}|\d{12})?$")] = ""
    # Where the day's requisition is e-mailed (with an XLSX) at the cut-off; "" : API only.
    email: Annotated[str, plain_text(254)] = ""


class CatererOut(msgspec.Struct):
    id: int
    name: str
    inn: str
    schools: list[int]
    email: str = ""


class DishCreate(Strict):
    name: Annotated[str, plain_text(200, min_length=2)]
    weight_g: Annotated[int, msgspec.Meta(ge=1, le=5000)]
    kcal: Annotated[float, msgspec.Meta(ge=0, le=5000)]
    proteins_g: Grams
    fats_g: Grams
    carbs_g: Grams
    composition: Annotated[str, plain_text(2000)] = ""
    allergens: Annotated[list[Allergen], msgspec.Meta(max_length=14)] = msgspec.field(
        default_factory=list
    )


class DishOut(msgspec.Struct):
    id: int
    caterer_id: int
    name: str
    composition: str
    allergens: list[str]
    allergen_names: str
    weight_g: int
    kcal: float
    proteins_g: float
    fats_g: float
    carbs_g: float


class MealSetCreate(Strict):
    caterer_id: Id
    name: Annotated[str, plain_text(200, min_length=2)]
    kind: MealKind
    price: Limit
    grades: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=11)]],
        msgspec.Meta(max_length=11, extra_json_schema=items_between(1, 11)),
    ]
    dish_ids: Annotated[
        list[Id], msgspec.Meta(min_length=1, max_length=20, extra_json_schema=ID_ITEMS)
    ]
    diet: Diet = ""


class MealSetOut(msgspec.Struct):
    """`name` as the caterer wrote it; `title` how it reads in a sentence, the meal named once
    («Завтрак «Каша»» for «Каша», «Обед «Борщ и рыба»» as it is)."""

    id: int
    school_id: int
    caterer_id: int
    name: str
    title: str
    kind: str
    kind_name: str
    price: int
    grades: list[int]
    diet: str
    dishes: list[DishOut]
    allergens: list[str]
    kcal: float


class MealPlanUpdate(Strict):
    kinds: Annotated[list[MealKind], msgspec.Meta(max_length=3)]
    weekdays: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=7)]],
        msgspec.Meta(max_length=7, extra_json_schema=items_between(1, 7)),
    ]


class MealPlanOut(msgspec.Struct):
    class_id: int
    kinds: list[str]
    weekdays: list[int]


class MenuCycleDayIn(Strict):
    week: Annotated[int, msgspec.Meta(ge=1, le=2)]
    weekday: Annotated[int, msgspec.Meta(ge=1, le=7)]
    meal_set_ids: Annotated[list[Id], msgspec.Meta(max_length=30, extra_json_schema=ID_ITEMS)]


class MenuCycleUpdate(Strict):
    starts_on: Day
    days: Annotated[list[MenuCycleDayIn], msgspec.Meta(max_length=14)]


class MenuCycleOut(msgspec.Struct):
    school_id: int
    starts_on: Day
    days: list[MenuCycleDayIn]


class PupilMenuSet(msgspec.Struct):
    meal_set: MealSetOut
    blocked_allergens: list[str]  # the pupil's allergens in it: it cannot be ordered


class PupilMenuOut(msgspec.Struct):
    date: Day
    is_school_day: bool
    day_off_reason: str
    sets: list[PupilMenuSet]


class PupilDietUpdate(Strict):
    allergens: Annotated[list[Allergen], msgspec.Meta(max_length=14)]
    diet: Diet = ""


class PupilDietOut(msgspec.Struct):
    student_id: int
    allergens: list[str]
    allergen_names: str
    diet: str


# ---- orders --------------------------------------------------------------------------------


class MealOrderCreate(Strict):
    date: Day
    meal_set_id: Id


class MealOrderOut(msgspec.Struct):
    id: int
    student_id: int
    date: Day
    meal_kind: str
    meal_set_id: int
    meal_set_name: str
    price: int
    paid_by: str
    benefit_amount: int
    status: str
    status_name: str
    cancel_reason: str
    hold_id: int | None
    # How the set reads in a sentence (`menus.set_title`, decision 0820): what texts show.
    meal_set_title: str = ""


class AbsenceReport(Strict):
    date_from: Day
    date_to: Day


class AbsenceOut(msgspec.Struct):
    cancelled: list[MealOrderOut]
    kept_past_cutoff: list[MealOrderOut]


class CutoffOut(msgspec.Struct):
    school_id: int
    posted: int
    default_sets: int  # benefit pupils' default sets ordered at this cut-off


# ---- benefits ------------------------------------------------------------------------------

BenefitCode = Annotated[str, msgspec.Meta(min_length=2, max_length=32, pattern=r"^[a-z0-9_]+$")]


class BenefitCoverCreate(Strict):
    category: BenefitCode
    cover: Literal["full", "partial"]
    kinds: Annotated[list[MealKind], msgspec.Meta(min_length=1, max_length=3)]
    valid_from: Day
    amount: Limit = 0
    valid_to: Day | None = None
    document: Annotated[str, plain_text(300)] = ""


class BenefitCoverOut(msgspec.Struct):
    id: int
    school_id: int
    category: str
    cover: str
    amount: int
    kinds: list[str]
    valid_from: Day
    valid_to: Day | None
    document: str


class BenefitRefusalCreate(Strict):
    date: Day
    meal_kind: MealKind
    reason: Annotated[str, plain_text(300, min_length=3)]


# ---- the canteen counter -------------------------------------------------------------------


class BuffetProductCreate(Strict):
    caterer_id: Id
    name: Annotated[str, plain_text(200, min_length=2)]
    price: Kopecks


class BuffetProductOut(msgspec.Struct):
    id: int
    school_id: int
    name: str
    price: int


class BuffetRules(Strict):
    daily_limit: Limit | None
    stop_list: Annotated[list[Id], msgspec.Meta(max_length=200, extra_json_schema=ID_ITEMS)] = (
        msgspec.field(default_factory=list)
    )


class PupilBuffetOut(msgspec.Struct):
    student_id: int
    daily_limit: int | None
    stop_list: list[int]
    spent_today: int
    products: list[BuffetProductOut]


class BuffetItem(Strict):
    product_id: Id
    quantity: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1


class CardReading(Strict):
    """A card as the counter's reader printed it: the same cards and formats as the
    turnstiles (`/api/v1/access/.../cards`)."""

    raw_value: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    card_format: CardFormat


class BuffetSaleCreate(Strict):
    """The pupil is named by a card (`card`) or, where no card was issued, by the pupil's
    number (`student_id`): exactly one of them."""

    items: Annotated[list[BuffetItem], msgspec.Meta(min_length=1, max_length=30)]
    idempotency_key: IdempotencyKey
    student_id: Id | None = None
    card: CardReading | None = None


class BuffetSaleOut(msgspec.Struct):
    student_id: int
    total: int
    transfer_id: int
    available: int
    spent_today: int


# ---- the canteen counter: serving marks ------------------------------------------------------


class ServeRequest(Strict):
    """Serve one pupil today's meal of `meal_kind`: found by a card (`card`) or, where no card
    was issued, by the pupil's number (`student_id`): exactly one of them."""

    meal_kind: MealKind
    student_id: Id | None = None
    card: CardReading | None = None


class ServingOut(msgspec.Struct):
    id: int
    order_id: int
    student_id: int
    student_name: str
    class_name: str
    date: Day
    meal_kind: str
    meal_set_name: str
    via: str  # list | card | number
    served_at: datetime
    posted_now: bool  # the order's hold was posted by this serving (its cut-off had not run)


class CounterPupil(msgspec.Struct):
    """One pupil of a class list at the counter: today's order of the meal (if any) and
    whether it was served. `reason` says why nothing can be served (no order, cancelled)."""

    student_id: int
    name: str
    order_id: int | None
    meal_set_name: str
    served_at: datetime | None
    reason: str


class CounterClassOut(msgspec.Struct):
    school_id: int
    class_id: int
    class_name: str
    date: Day
    meal_kind: str
    ordered: int
    served: int
    pupils: list[CounterPupil]


class ClassServeRequest(Strict):
    """Serve a class list: the named pupils, or (`student_ids` left out) every pupil of the
    list with an order not yet served."""

    meal_kind: MealKind
    student_ids: (
        Annotated[list[Id], msgspec.Meta(min_length=1, max_length=60, extra_json_schema=ID_ITEMS)]
        | None
    ) = None


class ServeRefusal(msgspec.Struct):
    student_id: int
    name: str
    reason: str


class ClassServingOut(msgspec.Struct):
    served: list[ServingOut]
    already_served: list[ServingOut]
    refused: list[ServeRefusal]


# ---- payments by card or SBP -----------------------------------------------------------------


class TopUpCreate(Strict):
    """A family's top-up through the payment provider. The 54-FZ receipt goes to the e-mail or
    the phone given (one is required)."""

    amount: Kopecks
    idempotency_key: IdempotencyKey
    method: Literal["bank_card", "sbp"] = "bank_card"
    receipt_email: Annotated[str, plain_text(254)] = ""
    receipt_phone: Annotated[str, plain_text(32)] = ""


class PaymentOut(msgspec.Struct):
    """A top-up: `confirmation_url` is the provider's page where the family pays (while the
    payment waits for it); `status` is the provider's last word."""

    id: int
    student_id: int
    school_id: int
    amount: int
    method: str
    provider: str
    provider_payment_id: str | None
    status: str
    status_name: str
    paid_amount: int
    confirmation_url: str
    transfer_id: int | None
    created_at: datetime


class PaymentReturn(msgspec.Struct):
    """A top-up as its payer sees it on the page the provider sends them back to: its number,
    the provider's last word and the amounts, nothing about who it is for."""

    number: int
    status: str
    amount: int
    paid_amount: int


class ProviderNotification(msgspec.Struct):
    """YooKassa's notification body: `{"type": "notification", "event": "payment.succeeded",
    "object": {...}}`. Only the object's id is used; the object is read back from YooKassa."""

    type: Annotated[str, msgspec.Meta(max_length=32)]
    event: Annotated[str, msgspec.Meta(max_length=64)]
    object: dict[str, Any]


class NotificationAccepted(msgspec.Struct):
    outcome: str


class PaymentRefundCreate(Strict):
    amount: Kopecks
    idempotency_key: IdempotencyKey
    reason: Annotated[str, plain_text(500)] = ""


class PaymentRefundOut(msgspec.Struct):
    id: int
    payment_id: int
    amount: int
    status: str
    status_name: str
    hold_id: int
    provider_refund_id: str | None
    reason: str
    created_at: datetime


class ReconciliationLine(msgspec.Struct):
    """One difference between the provider and the ledger (kopecks)."""

    kind: str
    kind_name: str
    provider_payment_id: str | None
    payment_id: int | None
    student_id: int | None
    provider_status: str | None
    provider_amount: int | None
    provider_refunded: int | None
    ledger_credited: int
    ledger_refunded: int


class ReconciliationOut(msgspec.Struct):
    school_id: int
    date: Day
    provider_payments: int
    provider_total: int
    ledger_payments: int
    ledger_total: int
    ok: bool
    differences: list[ReconciliationLine]


# ---- standing orders -------------------------------------------------------------------------


class StandingOrderCreate(Strict):
    """ "Lunch every school day": the meal kind, the weekdays (1 = Monday), the preferred set
    (else the first allowed set of the day), from when (default: today) and until when."""

    meal_kind: MealKind
    weekdays: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=7)]],
        msgspec.Meta(min_length=1, max_length=7, extra_json_schema=items_between(1, 7)),
    ] = msgspec.field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    meal_set_id: Id | None = None
    valid_from: Day | None = None
    valid_to: Day | None = None


class StandingOrderDayOut(msgspec.Struct):
    date: Day
    outcome: str
    outcome_name: str
    order_id: int | None
    message: str


class StandingOrderOut(msgspec.Struct):
    id: int
    student_id: int
    meal_kind: str
    meal_set_id: int | None
    weekdays: list[int]
    valid_from: Day
    valid_to: Day | None
    active: bool
    days: list[StandingOrderDayOut]


# ---- requisitions ----------------------------------------------------------------------------


class RequisitionLine(msgspec.Struct):
    meal_set_id: int
    meal_set_name: str
    meal_kind: str
    class_id: int | None
    class_name: str
    price: int
    paid_count: int
    benefit_count: int
    count: int
    family_amount: int
    benefit_amount: int


class RequisitionOut(msgspec.Struct):
    """A caterer's requisition for a school's day, frozen at the cut-off (kopecks)."""

    id: int
    school_id: int
    date: Day
    caterer_id: int
    caterer_name: str
    total_count: int
    paid_count: int
    benefit_count: int
    family_amount: int
    benefit_amount: int
    frozen_at: datetime
    lines: list[RequisitionLine]


# ---- reports ---------------------------------------------------------------------------------


class MealReportLine(msgspec.Struct):
    meal_kind: str
    meal_kind_name: str
    count: int
    paid_count: int
    benefit_count: int
    family_amount: int
    benefit_amount: int
    served_count: int = 0  # marked served at the counter (of `count`)


class MealReportOut(msgspec.Struct):
    """Meals past their cut-off by kind, and the money in and out of pupils' accounts
    (posted, kopecks) over the period."""

    school_id: int
    date_from: Day
    date_to: Day
    meals: list[MealReportLine]
    top_ups_cash: int
    top_ups_card: int
    refunds: int
    buffet: int
