"""Demo meals: a caterer, its dishes (composition, allergens, nutrition), breakfasts and lunches
for every grade, a two-week cyclic menu, buffet products, and money on the demo pupil's account.
`backend.seed` calls `seed_demo_meals` for the demo school, through the same services the API
uses, so the demo's menu passes every rule a caterer's menu passes.
"""

from __future__ import annotations

from datetime import date, timedelta

from backend.core.context import Actor
from backend.core.rights import ScopeKind
from backend.meals import accounts, buffet, menus, orders
from backend.meals import schemas as s
from backend.schools.people import movement
from backend.schools.services import scope_target

# (name, grams, kcal, proteins, fats, carbs, composition, allergens)
DishRow = tuple[str, int, float, float, float, float, str, list[str]]
DISHES: tuple[DishRow, ...] = (
    ("Каша овсяная молочная с маслом", 200, 231.0, 7.1, 9.4, 29.6,
     "Хлопья овсяные, молоко, масло сливочное, сахар, соль", ["gluten", "milk"]),
    ("Омлет натуральный", 150, 256.0, 14.7, 20.6, 2.9, "Яйца, молоко, масло сливочное",
     ["eggs", "milk"]),
    ("Бутерброд с сыром", 45, 157.0, 6.2, 8.4, 14.3, "Батон, сыр, масло сливочное",
     ["gluten", "milk"]),
    ("Чай с сахаром", 200, 58.0, 0.2, 0.0, 15.0, "Чай чёрный, сахар", []),
    ("Какао с молоком", 200, 118.0, 3.6, 3.3, 19.0, "Какао-порошок, молоко, сахар", ["milk"]),
    ("Суп куриный с лапшой", 250, 112.0, 5.6, 4.2, 13.1,
     "Бульон куриный, филе куриное, лапша, картофель, морковь, лук", ["gluten", "eggs"]),
    ("Борщ со сметаной", 250, 104.0, 2.1, 5.9, 10.4,
     "Свёкла, капуста, картофель, морковь, лук, томат, сметана", ["milk"]),
    ("Котлета из говядины", 90, 220.0, 13.5, 14.9, 8.3,
     "Говядина, хлеб пшеничный, лук, яйца, сухари панировочные", ["gluten", "eggs"]),
    ("Рыба запечённая", 90, 132.0, 16.4, 6.5, 1.9, "Минтай, морковь, лук, масло растительное",
     ["fish"]),
    ("Картофельное пюре", 150, 138.0, 3.1, 5.3, 19.7, "Картофель, молоко, масло сливочное",
     ["milk"]),
    ("Рис отварной", 150, 192.0, 3.6, 4.8, 33.6, "Рис, масло растительное, соль", []),
    ("Салат из свёклы", 60, 52.0, 0.9, 3.0, 5.4, "Свёкла, масло растительное", []),
    ("Компот из сухофруктов", 200, 86.0, 0.4, 0.0, 21.6, "Сухофрукты, сахар", []),
    ("Хлеб ржаной", 40, 87.0, 2.6, 0.5, 17.0, "Мука ржаная, вода, соль, дрожжи", ["gluten"]),
)  # fmt: skip

# (name, kind, price in kopecks, dish indices): the cycle's days alternate sets A and B.
SETS_A = (
    ("Завтрак «Каша»", "breakfast", 9500, (0, 2, 3)),
    ("Обед «Куриный суп и котлета»", "lunch", 16500, (5, 7, 9, 12, 13)),
)
SETS_B = (
    ("Завтрак «Омлет»", "breakfast", 10500, (1, 2, 4)),
    ("Обед «Борщ и рыба»", "lunch", 17500, (6, 8, 10, 11, 12, 13)),
)
BUFFET = (("Булочка с маком", 3500), ("Сок яблочный 0,2 л", 4500), ("Чипсы", 6000))
TOP_UP = 150_000  # 1 500,00 ₽ on the demo pupil's account, paid at the school's office


async def seed_demo_meals(school_id: int, student_id: int, today: date) -> dict[str, int]:
    """The demo school's menu and the demo pupil's money; returns what was made."""
    system = Actor.system()
    caterer = await menus.create_caterer(
        system, school_id, s.CatererCreate(name="ООО «Школьное питание»", inn="1655012345")
    )
    dish_ids = []
    for name, grams, kcal, proteins, fats, carbs, composition, allergens in DISHES:
        dish = await menus.create_dish(
            system,
            caterer.id,
            s.DishCreate(
                name=name,
                weight_g=grams,
                kcal=kcal,
                proteins_g=proteins,
                fats_g=fats,
                carbs_g=carbs,
                composition=composition,
                allergens=allergens,  # type: ignore[arg-type]  # literals of the catalogue
            ),
        )
        dish_ids.append(dish.id)
    grades = list(range(1, 12))
    weeks: list[list[int]] = []
    for sets in (SETS_A, SETS_B):
        ids = []
        for name, kind, price, dishes in sets:
            made = await menus.create_meal_set(
                system,
                school_id,
                s.MealSetCreate(
                    caterer_id=caterer.id,
                    name=name,
                    kind=kind,  # type: ignore[arg-type]
                    price=price,
                    grades=grades,
                    dish_ids=[dish_ids[i] for i in dishes],
                ),
            )
            ids.append(made.id)
        weeks.append(ids)
    # Weekdays alternate the two sets; the second week of the cycle starts with the other one.
    days = [
        s.MenuCycleDayIn(week=week, weekday=weekday, meal_set_ids=weeks[(week + weekday) % 2])
        for week in (1, 2)
        for weekday in range(1, 6)
    ]
    monday = today - timedelta(days=today.weekday())
    await menus.set_cycle(system, school_id, s.MenuCycleUpdate(starts_on=monday, days=days))
    for name, price in BUFFET:
        await buffet.add_product(
            system, school_id, s.BuffetProductCreate(caterer_id=caterer.id, name=name, price=price)
        )
    await accounts.cash_top_up(
        system,
        student_id,
        s.CashTopUp(amount=TOP_UP, idempotency_key="demo-top-up-1", comment="Касса школы"),
    )
    lunches = await _todays_lunches(school_id, student_id, today)
    return {
        "dishes": len(dish_ids),
        "meal_sets": 4,
        "buffet_products": len(BUFFET),
        "lunches_today": lunches,
    }


async def _todays_lunches(school_id: int, student_id: int, today: date) -> int:
    """Today's lunches of the demo pupil's classmates (two in three of them; their families
    ordered ahead and put money on the account), so the canteen's counter has a list to serve
    in the demo. The demo pupil's own account is left as the family app shows it. Nothing on a
    day the school is closed or the menu is empty."""
    system = Actor.system()
    class_id = await movement.class_on(student_id, today)
    if class_id is None:
        return 0
    placed = 0
    for n, pupil in enumerate(await movement.students_of_class(class_id, today)):
        if pupil.id == student_id or n % 3 == 2:
            continue
        place = await menus.pupil_place(await scope_target(ScopeKind.STUDENT, pupil.id), today)
        if not (await menus.school_day(school_id, today, place.grade)).is_school_day:
            return placed
        offered = [r for r in await menus.pupil_menu_rows(place, today) if r["kind"] == "lunch"]
        if not offered:
            return placed
        meal_set = await menus.meal_set(offered[0]["id"])
        allergic = set((await menus.pupil_diet_row(pupil.id)).get("allergens") or ())
        if allergic & set(meal_set.allergens):
            continue
        await accounts.cash_top_up(
            system,
            pupil.id,
            s.CashTopUp(amount=50_000, idempotency_key=f"demo-class-{pupil.id}", comment="Касса"),
        )
        await orders.create_order(system, pupil.id, place, meal_set, today)
        placed += 1
    return placed
