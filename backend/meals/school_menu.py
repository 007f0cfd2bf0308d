"""What an order reads of its school and its pupil, in as few queries as the rules allow.

The school's side (the cyclic menu, its active meal sets with their dishes' allergens, the
classes' meal plans, the benefit covers, the school's book accounts) changes a few times a
term and is read by every order: each process keeps a copy per school, keyed by the school's
`menu_version`, a token that every write of those rows replaces in its own transaction
(`accounts.bump_menu_version`, the settings and cycle upserts). The token is read afresh with
the pupil's row on every order (one query: the meal settings, the pupil's account and diet),
so a change committed in any process is seen by the very next order; a school without a
settings row has no cyclic menu and is never copied. Decision 0809.

The school's own calendar and clock (the cut-off, holidays) belong to the schools context
and are read through its services on every order, as before.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import msgspec

from backend.meals import menus
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, account_code, book_account
from backend.meals.tables import (
    BenefitCover,
    LedgerAccount,
    MealPlan,
    MealSchoolSettings,
    MealSet,
    MenuCycleDay,
)

MAX_SCHOOLS = 4096  # copies kept per process (a region's schools; the oldest used goes first)
DEFAULT_HORIZON = 14


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True, slots=True)
class PupilSide:
    """One query's worth: the school's meal settings (and menu version) and the pupil's
    account and diet."""

    menu_version: str | None  # None: the school has no meal settings row
    order_horizon_days: int
    menu_cycle_start: date | None
    account: dict[str, Any] | None  # the pupil's `pupil_account` row (None: not opened yet)
    allergens: frozenset[str]


async def pupil_side(school_id: int, student_id: int) -> PupilSide:
    rows = await MealSchoolSettings.raw(
        "SELECT s.menu_version, s.order_horizon_days, s.menu_cycle_start, "
        "a.id AS account_id, a.school AS account_school, a.ledger_account, "
        "a.low_balance_threshold, d.allergens "
        "FROM (SELECT 1 AS one) AS o "
        "LEFT JOIN meal_school_settings s ON s.school = {} "
        "LEFT JOIN pupil_account a ON a.student = {} "
        "LEFT JOIN pupil_diet d ON d.student = {}",
        school_id,
        student_id,
        student_id,
    )
    row = rows[0]
    start = row["menu_cycle_start"]
    if isinstance(start, str):  # SQLite gives a raw query's dates as text
        start = date.fromisoformat(start)
    account = None
    if row["account_id"] is not None:
        account = {
            "id": row["account_id"],
            "student": student_id,
            "school": row["account_school"],
            "ledger_account": row["ledger_account"],
            "low_balance_threshold": row["low_balance_threshold"],
        }
    horizon = row["order_horizon_days"]
    return PupilSide(
        menu_version=row["menu_version"],
        order_horizon_days=DEFAULT_HORIZON if horizon is None else horizon,
        menu_cycle_start=start,
        account=account,
        allergens=frozenset(_json(row["allergens"]) or ()),
    )


@dataclass(slots=True)
class SchoolMenu:
    """A school's copy: valid while its `menu_version` is `version`."""

    school_id: int
    version: str
    cycle: dict[tuple[int, int], list[int]]  # (week, weekday) -> meal set ids
    sets: dict[int, dict[str, Any]]  # the school's active meal sets, in id order
    set_outs: dict[int, s.MealSetOut]  # the same with their dishes' allergens
    plans: dict[int, dict[str, Any]]  # class -> its meal plan row
    covers: list[dict[str, Any]]  # the school's benefit covers, in id order
    accounts: dict[str, int] = field(default_factory=dict)  # book account code -> id

    def offered(self, place: menus.PupilPlace, day: date, start: date | None) -> list[dict]:
        """`menus.pupil_menu_rows` from the copy."""
        if start is None or day < start:
            return []
        ids = self.cycle.get((menus.cycle_week(start, day), day.isoweekday()), [])
        rows = [self.sets[i] for i in sorted(set(ids)) if i in self.sets]
        plan = self.plans.get(place.class_id) if place.class_id is not None else None
        return menus.offered_rows(rows, plan, place, day)

    def covers_on(self, day: date) -> list[dict[str, Any]]:
        """`benefits.covers_on` from the copy."""
        return [
            c
            for c in self.covers
            if c["valid_from"] <= day and (c["valid_to"] is None or c["valid_to"] >= day)
        ]

    async def account(self, kind: AccountKind, *, caterer_id: int | None = None) -> int:
        """A school book account's id, opened on first use (ids never change)."""
        code = account_code(kind, self.school_id, caterer_id=caterer_id)
        found = self.accounts.get(code)
        if found is None:
            found = await book_account(kind, self.school_id, caterer_id=caterer_id)
            self.accounts[code] = found
        return found


_copies: OrderedDict[int, SchoolMenu] = OrderedDict()


def forget() -> None:
    """Drop every copy (tests that empty the database between cases)."""
    _copies.clear()


async def school_menu(school_id: int, version: str) -> SchoolMenu:
    """The school's copy for `version` (read when this process has none for it)."""
    copy = _copies.get(school_id)
    if copy is not None and copy.version == version:
        _copies.move_to_end(school_id)
        return copy
    copy = await _read(school_id, version)
    _copies[school_id] = copy
    _copies.move_to_end(school_id)
    while len(_copies) > MAX_SCHOOLS:
        _copies.popitem(last=False)
    return copy


async def _read(school_id: int, version: str) -> SchoolMenu:
    """Everything after the version was read, so the copy is at least as new as its key."""
    cycle_rows = (
        await MenuCycleDay.select(MenuCycleDay.week, MenuCycleDay.weekday, MenuCycleDay.meal_sets)
        .where(MenuCycleDay.school == school_id)
        .output(load_json=True)
    )
    set_rows = (
        await MealSet.select()
        .where((MealSet.school == school_id) & (MealSet.is_active == True))  # noqa: E712
        .order_by(MealSet.id)
        .output(load_json=True)
    )
    dishes = await menus.dishes_of([d for r in set_rows for d in r["dishes"]])
    plans = await MealPlan.select().where(MealPlan.school == school_id).output(load_json=True)
    covers = (
        await BenefitCover.select()
        .where(BenefitCover.school == school_id)
        .order_by(BenefitCover.id)
        .output(load_json=True)
    )
    accounts = await LedgerAccount.select(LedgerAccount.code, LedgerAccount.id).where(
        (LedgerAccount.school == school_id) & (LedgerAccount.kind != AccountKind.PUPIL.value)
    )
    return SchoolMenu(
        school_id=school_id,
        version=version,
        cycle={(r["week"], r["weekday"]): list(r["meal_sets"]) for r in cycle_rows},
        sets={r["id"]: r for r in set_rows},
        set_outs={r["id"]: await menus.meal_set_out(r, dishes) for r in set_rows},
        plans={r["school_class"]: r for r in plans},
        covers=covers,
        accounts={r["code"]: r["id"] for r in accounts},
    )
