"""Typed answers of the meals (`/api/v1/meals`) and entries (`/api/v1/access`) APIs the family
app reads, mirroring `/schema/openapi.json`; money is integer kopecks as the server sends it.
Unknown fields are ignored, so a field the server adds does not break an installed app."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class Model(msgspec.Struct):
    pass


# ---- meals ---------------------------------------------------------------------------------


class Dish(Model):
    id: int
    name: str
    composition: str
    allergens: list[str]
    allergen_names: str
    weight_g: int
    kcal: float
    proteins_g: float
    fats_g: float
    carbs_g: float


class MealSet(Model):
    id: int
    name: str
    kind: str
    kind_name: str
    price: int
    dishes: list[Dish]
    allergens: list[str]
    kcal: float
    title: str = ""  # how it reads in a sentence, the meal named once (the server's)


class MenuSet(Model):
    meal_set: MealSet
    blocked_allergens: list[str]


class PupilMenu(Model):
    date: date
    is_school_day: bool
    day_off_reason: str
    sets: list[MenuSet]


class MealOrder(Model):
    id: int
    student_id: int
    date: date
    meal_kind: str
    meal_set_id: int
    meal_set_name: str
    price: int
    paid_by: str
    benefit_amount: int
    status: str
    status_name: str
    cancel_reason: str = ""
    hold_id: int | None = None


class PupilAccount(Model):
    """posted (on the account), held (reserved by orders), available = posted - held."""

    student_id: int
    posted: int
    held: int
    available: int
    overdraft_limit: int
    low_balance_threshold: int | None = None


class StatementEntry(Model):
    id: int
    at: datetime
    kind: str
    kind_name: str
    amount: int  # signed: + into the pupil's account
    status: str
    status_name: str
    hold_state: str | None
    reason: str
    posted_after: int
    basis: str = ""  # what it was for, in words («Обед на 08.12.2026»)


class Statement(Model):
    account: PupilAccount
    items: list[StatementEntry]
    total: int


class StandingOrderDay(Model):
    date: date
    outcome: str
    outcome_name: str
    order_id: int | None
    message: str


class StandingOrder(Model):
    """«Обед каждый учебный день»: booked a week ahead as ordinary orders (`days` says what
    became of each day)."""

    id: int
    student_id: int
    meal_kind: str
    meal_set_id: int | None
    weekdays: list[int]
    valid_from: date
    valid_to: date | None
    active: bool
    days: list[StandingOrderDay]


class Payment(Model):
    """A top-up through the payment provider: `confirmation_url` is its payment page (while
    the payment waits for the family), `status` the provider's last word."""

    id: int
    student_id: int
    amount: int
    method: str
    status: str
    status_name: str
    paid_amount: int
    confirmation_url: str


PAYMENT_FINAL = ("succeeded", "canceled")


class BuffetProduct(Model):
    id: int
    name: str
    price: int


class PupilBuffet(Model):
    student_id: int
    daily_limit: int | None
    stop_list: list[int]
    spent_today: int
    products: list[BuffetProduct]


# ---- entries -------------------------------------------------------------------------------


class Pass(Model):
    id: int
    access_point_id: int | None
    direction: str  # in | out
    result: str  # granted | denied
    problem: str
    occurred_at: datetime
    local_date: date


class EntryDay(Model):
    date: date
    first_entry_at: datetime | None
    last_exit_at: datetime | None
    inside: bool


class StudentEntries(Model):
    student_id: int
    days: list[EntryDay]
    passes: list[Pass]
