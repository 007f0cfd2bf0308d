"""Benefits: grades 1-4 eat free by law, a partial cover splits the price, a benefit pupil with
no order gets the day's default set at the cut-off, and a refused day gets nothing."""

from __future__ import annotations

from datetime import timedelta

from backend.meals import ledger
from backend.meals.ledger import AccountKind
from backend.meals.tables import MealOrder
from backend.schools.tables import BenefitCategory, StudentBenefit
from tests.conftest import Backend
from tests.integration.meals.test_orders import BASE, Canteen, _available, _canteen, _cutoff, _order


async def _cover(world: Backend, c: Canteen, body: dict[str, object]) -> None:
    response = await world.client.post(
        f"{BASE}/schools/{c.ids['school_a']}/benefit-covers",
        json={"valid_from": (c.today - timedelta(days=10)).isoformat(), **body},
        headers=c.admin.headers,
    )
    assert response.status_code == 201, response.text


async def test_primary_grades_eat_free_and_partial_cover_splits_the_price(world: Backend) -> None:
    c = await _canteen(world)
    await _cover(world, c, {"category": "primary_free_meals", "cover": "full", "kinds": ["lunch"]})
    await _cover(
        world,
        c,
        {
            "category": "large_family",
            "cover": "partial",
            "amount": 5_000,
            "kinds": ["breakfast"],
            "document": "Постановление правительства области № 123-п",
        },
    )
    category = BenefitCategory(code="large_family", name="Многодетная семья")
    await category.save()
    await StudentBenefit(
        student=c.ids["student"],
        category=category.id,
        valid_from=c.today - timedelta(days=30),
        document="Удостоверение многодетной семьи № 77",
    ).save()

    lunch = await _order(world, c, 2, "lunch")
    assert lunch.status_code == 201, lunch.text
    assert (lunch.json()["paid_by"], lunch.json()["benefit_amount"]) == ("benefit", 9_500)
    breakfast = await _order(world, c, 2, "breakfast")
    assert breakfast.status_code == 201, breakfast.text
    assert (breakfast.json()["paid_by"], breakfast.json()["benefit_amount"]) == ("mixed", 5_000)
    assert await _available(world, c) == 100_000 - 1_000  # only the family's part is held

    cancel = await world.client.post(
        f"{BASE}/orders/{breakfast.json()['id']}/cancel", headers=c.guardian.headers
    )
    assert cancel.status_code == 200
    assert await _available(world, c) == 100_000
    budget = await ledger.book_account(AccountKind.BENEFIT_BUDGET, c.ids["school_a"])
    # The budget has committed the lunch only (pending spending), nothing posted yet.
    row = await ledger.account_row(budget)
    assert (row["debits_pending"], row["debits_posted"]) == (9_500, 0)


async def test_default_set_at_the_cutoff_unless_refused(world: Backend) -> None:
    c = await _canteen(world)
    await _cover(world, c, {"category": "primary_free_meals", "cover": "full", "kinds": ["lunch"]})
    assert (await _order(world, c, 2, "lunch")).status_code == 201
    refusal = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/benefit-refusals",
        json={"date": c.day(3), "meal_kind": "lunch", "reason": "Семейное торжество"},
        headers=c.guardian.headers,
    )
    assert refusal.status_code == 201, refusal.text

    # Three school days before: days 0-3 are past their cut-off (day 4 is a holiday).
    await _cutoff(c.ids["school_a"], 3)
    run = await world.client.post(
        f"{BASE}/schools/{c.ids['school_a']}/cutoff", headers=c.admin.headers
    )
    assert run.status_code == 200, run.text
    # The other pupil: days 0-3; this pupil: days 0 and 1 (day 2 ordered, day 3 refused).
    assert run.json()["default_sets"] == 6
    assert run.json()["posted"] == 7
    rows = await MealOrder.select(MealOrder.student, MealOrder.date, MealOrder.status).where(
        MealOrder.student == c.ids["student"]
    )
    assert sorted((r["date"] - c.today).days for r in rows) == [0, 1, 2]
    assert {r["status"] for r in rows} == {"posted"}
    assert await _available(world, c) == 100_000  # the family paid nothing

    again = await world.client.post(
        f"{BASE}/schools/{c.ids['school_a']}/cutoff", headers=c.admin.headers
    )
    assert again.json()["default_sets"] == 0 and again.json()["posted"] == 0
    check = await ledger.check_books(c.ids["school_a"])
    assert check.ok, check
