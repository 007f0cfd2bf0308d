"""Rights cases of school meals: pupils' accounts (families, meals staff, bookkeepers)."""

from __future__ import annotations

from backend.core.context import Actor
from backend.core.rights import Role
from backend.meals import accounts, ledger
from backend.meals.ledger import AccountKind, TransferKind
from tests.conftest import Backend
from tests.integration.rights import Case, RightsWorld

BASE = "/api/v1/meals"
ADMINS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_ADMIN})
READERS = ADMINS | {Role.CATERER, Role.GUARDIAN, Role.DELEGATE}
FAMILY = frozenset({Role.SYSTEM_ADMIN, Role.GUARDIAN, Role.DELEGATE})
MEALS_STAFF = ADMINS | {Role.CATERER}


async def SETUP(world: Backend, rw: RightsWorld) -> None:
    """A top-up of student A's account (to refund from) and a hold on it (which cannot be
    reversed: holds are voided)."""
    school = rw.ids["school_a"]
    pupil = await accounts.open_pupil_account(rw.ids["student_a"], school)
    desk = await ledger.book_account(AccountKind.CASH_DESK, school)
    caterer = await ledger.book_account(AccountKind.CATERER_PAYABLE, school, caterer_id=1)
    top_up = await ledger.transfer(
        Actor.system(),
        debit=desk,
        credit=pupil["ledger_account"],
        amount=100_000,
        kind=TransferKind.TOP_UP,
        key="matrix-top-up",
        school_id=school,
    )
    hold = await ledger.transfer(
        Actor.system(),
        debit=pupil["ledger_account"],
        credit=caterer,
        amount=100,
        kind=TransferKind.MEAL_ORDER,
        key="matrix-hold",
        school_id=school,
        pending=True,
    )
    rw.ids.update(meals_top_up=top_up["id"], meals_hold=hold["id"])


def _cash(world: RightsWorld) -> dict[str, object]:
    return {"amount": 5000, "idempotency_key": f"matrix-cash-{world.unique()}"}


def _refund(world: RightsWorld) -> dict[str, object]:
    return {"amount": 1, "idempotency_key": f"matrix-refund-{world.unique()}"}


CASES = [
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/account",
        f"{BASE}/pupils/{{student_a}}/account",
        READERS,
    ),
    Case(
        "PUT",
        f"{BASE}/pupils/{{student_id:int}}/account",
        f"{BASE}/pupils/{{student_a}}/account",
        FAMILY,
        body={"low_balance_threshold": 20_000},
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/statement",
        f"{BASE}/pupils/{{student_a}}/statement",
        READERS,
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/cash-top-ups",
        f"{BASE}/pupils/{{student_a}}/cash-top-ups",
        ADMINS,
        body=_cash,
    ),
    Case(
        "POST",
        f"{BASE}/transfers/{{transfer_id:int}}/refunds",
        f"{BASE}/transfers/{{meals_top_up}}/refunds",
        ADMINS,
        body=_refund,
    ),
    Case(
        "POST",
        f"{BASE}/transfers/{{transfer_id:int}}/reversal",
        f"{BASE}/transfers/{{meals_hold}}/reversal",
        ADMINS,
        body={"reason": "Ошибка кассира"},
        ok=(409,),
        note="a hold is voided, not reversed: allowed callers get the reason; reversals in "
        "test_ledger_api",
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/settings",
        f"{BASE}/schools/{{school_a}}/settings",
        MEALS_STAFF,
    ),
    Case(
        "PUT",
        f"{BASE}/schools/{{school_id:int}}/settings",
        f"{BASE}/schools/{{school_a}}/settings",
        ADMINS,
        body={"order_horizon_days": 10},
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/books-check",
        f"{BASE}/schools/{{school_a}}/books-check",
        ADMINS,
    ),
]
