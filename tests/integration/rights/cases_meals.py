"""Rights cases of school meals: pupils' accounts (families, meals staff, bookkeepers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backend.core.context import Actor
from backend.core.rights import Role
from backend.meals import accounts, buffet, ledger, menus, standing
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, TransferKind
from backend.meals.tables import MealPayment, MealRequisition
from tests.conftest import Backend
from tests.integration.rights import Case, RightsWorld

BASE = "/api/v1/meals"
ADMINS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_ADMIN})
READERS = ADMINS | {Role.CATERER, Role.GUARDIAN, Role.DELEGATE}
FAMILY = frozenset({Role.SYSTEM_ADMIN, Role.GUARDIAN, Role.DELEGATE})
MEALS_STAFF = ADMINS | {Role.CATERER}
MENU_MAKERS = MEALS_STAFF
MENU_READERS = FAMILY | MEALS_STAFF
PAYMENT_READERS = FAMILY | ADMINS
NO_SHOP = "no YooKassa shop in the matrix: allowed callers get the reason (409); test_payments"
NO_ORDER = "no order today in the matrix: allowed callers get the reason (409); test_counter"
IN_THREE_DAYS = (date.today() + timedelta(days=3)).isoformat()


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
    caterer_out = await menus.create_caterer(
        Actor.system(), school, s.CatererCreate(name="Комбинат")
    )
    dish = await menus.create_dish(
        Actor.system(),
        caterer_out.id,
        s.DishCreate(name="Борщ", weight_g=250, kcal=120, proteins_g=3, fats_g=4, carbs_g=15),
    )
    product = await buffet.add_product(
        Actor.system(),
        school,
        s.BuffetProductCreate(caterer_id=caterer_out.id, name="Сок", price=100),
    )
    rw.ids.update(meals_caterer=caterer_out.id, meals_dish=dish.id, meals_product=product.id)
    # A card top-up the family abandoned (no shop in the matrix: the flow is test_payments').
    now = datetime.now(UTC)
    rows = await MealPayment.insert(
        MealPayment(
            public_id="matrix-payment",
            request_key="matrix:payment",
            school=school,
            student=rw.ids["student_a"],
            amount=10_000,
            method="bank_card",
            provider="yookassa",
            provider_payment_id="matrix-000f-5000-8000",
            status="canceled",
            created_at=now,
            updated_at=now,
        )
    ).returning(MealPayment.id)
    standing_order = await standing.create(
        Actor.system(), rw.ids["student_a"], s.StandingOrderCreate(meal_kind="snack")
    )
    requisition = await MealRequisition.insert(
        MealRequisition(school=school, date=date.today(), caterer=caterer_out.id, frozen_at=now)
    ).returning(MealRequisition.id)
    rw.ids.update(
        meals_payment=rows[0]["id"],
        meals_standing=standing_order.id,
        meals_requisition=requisition[0]["id"],
    )


def _cash(world: RightsWorld) -> dict[str, object]:
    return {"amount": 5000, "idempotency_key": f"matrix-cash-{world.unique()}"}


def _meal_set(world: RightsWorld) -> dict[str, object]:
    return {
        "caterer_id": world.ids["meals_caterer"],
        "name": f"Обед {world.unique()}",
        "kind": "lunch",
        "price": 9_500,
        "grades": [5],
        "dish_ids": [world.ids["meals_dish"]],
    }


def _cycle(world: RightsWorld) -> dict[str, object]:
    monday = date.today() - timedelta(days=date.today().isoweekday() - 1)
    return {
        "starts_on": monday.isoformat(),
        "days": [{"week": 1, "weekday": 1, "meal_set_ids": []}],
    }


def _refusal(world: RightsWorld) -> dict[str, object]:
    """A different day for each caller (one refusal per day and meal)."""
    day = date.today() + timedelta(days=3 + world.unique())
    return {"date": day.isoformat(), "meal_kind": "lunch", "reason": "Семейные обстоятельства"}


def _sale(world: RightsWorld) -> dict[str, object]:
    return {
        "student_id": world.ids["student_a"],
        "items": [{"product_id": world.ids["meals_product"]}],
        "idempotency_key": f"matrix-sale-{world.unique()}",
    }


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
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/caterers",
        f"{BASE}/schools/{{school_a}}/caterers",
        MENU_MAKERS,
        body={"name": "Столовая № 1"},
    ),
    Case(
        "POST",
        f"{BASE}/caterers/{{caterer_id:int}}/dishes",
        f"{BASE}/caterers/{{meals_caterer}}/dishes",
        MENU_MAKERS,
        body={
            "name": "Компот",
            "weight_g": 200,
            "kcal": 80,
            "proteins_g": 0,
            "fats_g": 0,
            "carbs_g": 20,
        },
    ),
    Case(
        "GET",
        f"{BASE}/caterers/{{caterer_id:int}}/dishes",
        f"{BASE}/caterers/{{meals_caterer}}/dishes",
        MENU_MAKERS,
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/meal-sets",
        f"{BASE}/schools/{{school_a}}/meal-sets",
        MENU_MAKERS,
        body=_meal_set,
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/meal-sets",
        f"{BASE}/schools/{{school_a}}/meal-sets",
        MEALS_STAFF,
    ),
    Case(
        "PUT",
        f"{BASE}/schools/{{school_id:int}}/plans/{{class_id:int}}",
        f"{BASE}/schools/{{school_a}}/plans/{{class_a}}",
        MENU_MAKERS,
        body={"kinds": ["lunch"], "weekdays": [1, 2, 3, 4, 5]},
    ),
    Case(
        "PUT",
        f"{BASE}/schools/{{school_id:int}}/menu-cycle",
        f"{BASE}/schools/{{school_a}}/menu-cycle",
        MENU_MAKERS,
        body=_cycle,
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/menu",
        f"{BASE}/pupils/{{student_a}}/menu?date={IN_THREE_DAYS}",
        MENU_READERS,
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/diet",
        f"{BASE}/pupils/{{student_a}}/diet",
        MENU_READERS,
    ),
    Case(
        "PUT",
        f"{BASE}/pupils/{{student_id:int}}/diet",
        f"{BASE}/pupils/{{student_a}}/diet",
        MENU_READERS,
        body={"allergens": ["milk", "peanuts"]},
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/orders",
        f"{BASE}/pupils/{{student_a}}/orders",
        FAMILY,
        body={"date": IN_THREE_DAYS, "meal_set_id": 999_999},
        ok=(400,),
        note="no menu in the matrix world: allowed callers are told why; orders in test_orders",
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/orders",
        f"{BASE}/pupils/{{student_a}}/orders?date_from=2026-09-01&date_to=2026-09-30",
        MENU_READERS,
    ),
    Case(
        "POST",
        f"{BASE}/orders/{{order_id:int}}/cancel",
        f"{BASE}/orders/999999/cancel",
        FAMILY,
        ok=(404,),
        note="an order of nobody: everyone is told it does not exist; cancels in test_orders",
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/illness",
        f"{BASE}/pupils/{{student_a}}/illness",
        FAMILY,
        body={"date_from": IN_THREE_DAYS, "date_to": IN_THREE_DAYS},
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/absence",
        f"{BASE}/pupils/{{student_a}}/absence",
        MENU_MAKERS,
        body={"date_from": IN_THREE_DAYS, "date_to": IN_THREE_DAYS},
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/cutoff",
        f"{BASE}/schools/{{school_a}}/cutoff",
        ADMINS,
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/benefit-covers",
        f"{BASE}/schools/{{school_a}}/benefit-covers",
        ADMINS,
        body={
            "category": "primary_free_meals",
            "cover": "full",
            "kinds": ["lunch"],
            "valid_from": "2026-09-01",
        },
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/benefit-covers",
        f"{BASE}/schools/{{school_a}}/benefit-covers",
        MEALS_STAFF,
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/benefit-refusals",
        f"{BASE}/pupils/{{student_a}}/benefit-refusals",
        FAMILY,
        body=_refusal,
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/buffet-products",
        f"{BASE}/schools/{{school_a}}/buffet-products",
        MENU_MAKERS,
        body=lambda w: {"caterer_id": w.ids["meals_caterer"], "name": "Булочка", "price": 3_500},
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/buffet",
        f"{BASE}/pupils/{{student_a}}/buffet",
        MENU_READERS,
    ),
    Case(
        "PUT",
        f"{BASE}/pupils/{{student_id:int}}/buffet",
        f"{BASE}/pupils/{{student_a}}/buffet",
        FAMILY,
        body={"daily_limit": 20_000},
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/buffet-sales",
        f"{BASE}/schools/{{school_a}}/buffet-sales",
        MENU_MAKERS,
        body=_sale,
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/counter/classes/{{class_id:int}}",
        f"{BASE}/schools/{{school_a}}/counter/classes/{{class_a}}?meal_kind=lunch",
        MENU_MAKERS,
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/counter/classes/{{class_id:int}}/servings",
        f"{BASE}/schools/{{school_a}}/counter/classes/{{class_a}}/servings",
        MENU_MAKERS,
        body={"meal_kind": "lunch"},
    ),
    Case(
        "POST",
        f"{BASE}/schools/{{school_id:int}}/servings",
        f"{BASE}/schools/{{school_a}}/servings",
        MENU_MAKERS,
        body=lambda w: {"meal_kind": "lunch", "student_id": w.ids["student_a"]},
        ok=(409,),
        note=NO_ORDER,
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/statement/file",
        f"{BASE}/pupils/{{student_a}}/statement/file",
        READERS,
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/top-ups",
        f"{BASE}/pupils/{{student_a}}/top-ups",
        FAMILY,
        body=lambda w: {
            "amount": 10_000,
            "idempotency_key": f"matrix-top-up-{w.unique()}",
            "receipt_email": "parent@example.ru",
        },
        ok=(409,),
        note=NO_SHOP,
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/payments",
        f"{BASE}/pupils/{{student_a}}/payments",
        PAYMENT_READERS,
    ),
    Case(
        "GET",
        f"{BASE}/payments/{{payment_id:int}}",
        f"{BASE}/payments/{{meals_payment}}",
        PAYMENT_READERS,
    ),
    Case(
        "GET",
        f"{BASE}/payments/{{payment_id:int}}/refunds",
        f"{BASE}/payments/{{meals_payment}}/refunds",
        PAYMENT_READERS,
    ),
    Case(
        "POST",
        f"{BASE}/payments/{{payment_id:int}}/refunds",
        f"{BASE}/payments/{{meals_payment}}/refunds",
        ADMINS,
        body=_refund,
        ok=(409,),
        note="the payment was never paid: nothing to refund (refunds in test_payments)",
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/payments/reconciliation",
        f"{BASE}/schools/{{school_a}}/payments/reconciliation?date={IN_THREE_DAYS}",
        ADMINS,
        ok=(409,),
        note=NO_SHOP,
    ),
    Case(
        "POST",
        f"{BASE}/payments/yookassa/notifications",
        f"{BASE}/payments/yookassa/notifications",
        frozenset(),
        body={"type": "notification", "event": "payment.succeeded", "object": {"id": "x"}},
        public=True,
        ok=(403,),
        note="only YooKassa's addresses, never a person's sign-in (test_payments)",
    ),
    Case(
        "GET",
        "/payments/{public_id:str}",
        "/payments/" + "0" * 32,
        frozenset(),
        public=True,
        ok=(404,),
        note="the payer's page after paying: named by the top-up's unguessable public id, "
        "nothing personal on it (test_payments)",
    ),
    Case(
        "POST",
        f"{BASE}/pupils/{{student_id:int}}/standing-orders",
        f"{BASE}/pupils/{{student_a}}/standing-orders",
        FAMILY,
        body={"meal_kind": "lunch"},
        ok=(201, 409),
        note="one standing order per meal kind: the next allowed caller is told it exists",
    ),
    Case(
        "GET",
        f"{BASE}/pupils/{{student_id:int}}/standing-orders",
        f"{BASE}/pupils/{{student_a}}/standing-orders",
        PAYMENT_READERS,
    ),
    Case(
        "POST",
        f"{BASE}/standing-orders/{{standing_id:int}}/cancel",
        f"{BASE}/standing-orders/{{meals_standing}}/cancel",
        FAMILY,
        ok=(200, 409),
        note="the first allowed caller stops it, the next is told it is stopped",
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/requisitions",
        f"{BASE}/schools/{{school_a}}/requisitions?date={IN_THREE_DAYS}",
        MEALS_STAFF,
    ),
    Case(
        "GET",
        f"{BASE}/requisitions/{{requisition_id:int}}/file",
        f"{BASE}/requisitions/{{meals_requisition}}/file",
        MEALS_STAFF,
    ),
    Case(
        "GET",
        f"{BASE}/schools/{{school_id:int}}/reports",
        f"{BASE}/schools/{{school_a}}/reports?date_from={IN_THREE_DAYS}&date_to={IN_THREE_DAYS}",
        ADMINS,
    ),
]
