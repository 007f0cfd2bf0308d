"""The order path's copy of a school's menu (decision 0809): each change of what an order reads
of the school — a new meal set or price, the cyclic menu, a class's plan, the horizon, a
benefit cover, the cut-off — is seen by the very next order.

The services that make each change do not touch the copy: they only write the school's new
`menu_version` in their transaction, as they would from another process.
"""

from __future__ import annotations

from datetime import timedelta

from backend.meals import school_menu
from backend.meals.menus import monday_of
from backend.meals.tables import MealSchoolSettings
from tests.conftest import Backend
from tests.integration.meals.test_orders import BASE, Canteen, _canteen, _cutoff, _order, _post


async def _version(school: int) -> str:
    row = (
        await MealSchoolSettings.select(MealSchoolSettings.menu_version)
        .where(MealSchoolSettings.school == school)
        .first()
    )
    assert row is not None
    return str(row["menu_version"])


async def _copied(c: Canteen) -> str:
    """The version of this process's copy of the school's menu, which must be the stored one."""
    school = c.ids["school_a"]
    copy = school_menu._copies.get(school)
    assert copy is not None, "the order did not keep a copy of the menu"
    assert copy.version == await _version(school)
    return copy.version


async def _new_lunch(world: Backend, c: Canteen, name: str, price: int) -> int:
    school = c.ids["school_a"]
    caterer = (
        await world.client.get(f"{BASE}/schools/{school}/meal-sets", headers=c.caterer.headers)
    ).json()[0]["caterer_id"]
    dish = await _post(
        world,
        c.caterer,
        f"{BASE}/caterers/{caterer}/dishes",
        {"name": f"Суп {name}", "weight_g": 250, "kcal": 90, "proteins_g": 3, "fats_g": 2,
         "carbs_g": 12},
    )  # fmt: skip
    meal_set = await _post(
        world,
        c.caterer,
        f"{BASE}/schools/{school}/meal-sets",
        {"caterer_id": caterer, "name": name, "kind": "lunch", "price": price, "grades": [3],
         "dish_ids": [dish["id"]]},
    )  # fmt: skip
    return int(meal_set["id"])


async def _cycle(world: Backend, c: Canteen, set_ids: list[int]) -> None:
    response = await world.client.put(
        f"{BASE}/schools/{c.ids['school_a']}/menu-cycle",
        json={
            "starts_on": (monday_of(c.today) - timedelta(days=21)).isoformat(),
            "days": [
                {"week": w, "weekday": d, "meal_set_ids": set_ids}
                for w in (1, 2)
                for d in range(1, 8)
            ],
        },
        headers=c.caterer.headers,
    )
    assert response.status_code == 200, response.text


async def test_a_new_price_and_menu_are_seen_by_the_next_order(world: Backend) -> None:
    c = await _canteen(world)
    first = await _order(world, c, 2, "lunch")
    assert first.status_code == 201 and first.json()["price"] == 9_500, first.text
    before = await _copied(c)

    # A new price is a new meal set put on the cyclic menu in place of the old one.
    c.sets["dearer"] = await _new_lunch(world, c, "Обед подороже", 11_000)
    await _cycle(world, c, [c.sets["dearer"], c.sets["breakfast"]])
    old = await _order(world, c, 3, "lunch")
    assert old.status_code == 400 and "нет в меню" in old.json()["message"], old.text
    dearer = await _order(world, c, 3, "dearer")
    assert dearer.status_code == 201 and dearer.json()["price"] == 11_000, dearer.text
    assert await _copied(c) != before


async def test_a_plan_horizon_cover_and_cutoff_change_are_seen_by_the_next_order(
    world: Backend,
) -> None:
    c = await _canteen(world)
    school = c.ids["school_a"]
    assert (await _order(world, c, 2, "lunch")).status_code == 201
    await _copied(c)

    # The class's plan now gives breakfast only: lunch is no longer offered.
    plan = await world.client.put(
        f"{BASE}/schools/{school}/plans/{c.ids['class_id']}",
        json={"kinds": ["breakfast"], "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        headers=c.caterer.headers,
    )
    assert plan.status_code == 200, plan.text
    refused = await _order(world, c, 3, "lunch")
    assert refused.status_code == 400 and "нет в меню" in refused.json()["message"], refused.text
    plan = await world.client.put(
        f"{BASE}/schools/{school}/plans/{c.ids['class_id']}",
        json={"kinds": ["breakfast", "lunch"], "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        headers=c.caterer.headers,
    )
    assert plan.status_code == 200, plan.text

    # The horizon shrinks to two days: the third day ahead is too far.
    settings = await world.client.put(
        f"{BASE}/schools/{school}/settings",
        json={"order_horizon_days": 2},
        headers=c.admin.headers,
    )
    assert settings.status_code == 200, settings.text
    far = await _order(world, c, 3, "lunch")
    assert far.status_code == 400 and "2" in far.json()["message"], far.text
    settings = await world.client.put(
        f"{BASE}/schools/{school}/settings",
        json={"order_horizon_days": 14},
        headers=c.admin.headers,
    )
    assert settings.status_code == 200, settings.text

    # A benefit cover for grades 1-4: the next lunch is the budget's, not the family's.
    cover = await world.client.post(
        f"{BASE}/schools/{school}/benefit-covers",
        json={
            "category": "primary_free_meals",
            "cover": "full",
            "kinds": ["lunch"],
            "valid_from": c.today.isoformat(),
            "document": "ФЗ-273, ст. 37",
        },
        headers=c.admin.headers,
    )
    assert cover.status_code == 201, cover.text
    free = await _order(world, c, 3, "lunch")
    assert free.status_code == 201, free.text
    assert free.json()["paid_by"] == "benefit" and free.json()["benefit_amount"] == 9_500

    # The cut-off (the school's own settings) moves two school days back: tomorrow is closed.
    await _cutoff(school, 2)
    late = await _order(world, c, 1, "lunch")
    assert late.status_code == 409 and "закрыт" in late.json()["message"], late.text
    await _copied(c)
