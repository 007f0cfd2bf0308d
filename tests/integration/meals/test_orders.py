"""Menus and orders through the API: what a family may order, what is refused (with the reason,
storing nothing), cancellation, illness and the cut-off.

Time is not faked: the cut-off is moved instead of the clock. With the cut-off at 00:00 one
school day before, an order for the day after tomorrow closes at tomorrow's midnight (open,
whenever the test runs); setting the cut-off two school days before closes it at today's
midnight (passed, whenever the test runs). Every day of the week is a school day here, so
weekends do not move the cut-off.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.meals.menus import monday_of
from backend.meals.tables import LedgerTransfer, MealOrder
from backend.schools.people.movement import school_today
from backend.schools.structure import schemas as ss
from backend.schools.structure import services as structure
from backend.schools.tables import AcademicYear, Enrollment, Holiday, SchoolClass, Student
from tests.conftest import Backend
from tests.support import SignedIn, make_tenancy, sign_in

BASE = "/api/v1/meals"


@dataclass
class Canteen:
    ids: dict[str, int]
    today: date
    guardian: SignedIn
    caterer: SignedIn
    admin: SignedIn
    sets: dict[str, int] = field(default_factory=dict)

    def day(self, n: int) -> str:
        return (self.today + timedelta(days=n)).isoformat()


async def _cutoff(school_id: int, days_before: int) -> None:
    await _cutoff_at(school_id, "00:00", days_before)


async def _cutoff_at(school_id: int, at: str, days_before: int) -> None:
    await structure.update_settings(
        Actor.system(),
        school_id,
        ss.SchoolSettingsUpdate(
            meal_cutoff_time=at,
            meal_cutoff_days_before=days_before,
            study_days=[1, 2, 3, 4, 5, 6, 7],
        ),
    )


async def _canteen(world: Backend) -> Canteen:
    ids = await make_tenancy(world)
    school = ids["school_a"]
    today = await school_today(school)
    start = today - timedelta(days=100)
    year = AcademicYear(
        school=school, name="Год", starts_on=start, ends_on=start + timedelta(days=364)
    )
    await year.save()
    grade3 = SchoolClass(school=school, academic_year=year.id, grade=3, letter="Б")
    await grade3.save()
    pupils = []
    for name in ("Соколова", "Орлов"):
        pupil = Student(school=school, last_name=name, first_name="Дети")
        await pupil.save()
        await Enrollment(
            student=pupil.id,
            school=school,
            school_class=grade3.id,
            kind="admitted",
            date=start,
            order_number="1",
        ).save()
        pupils.append(pupil.id)
    await Holiday(
        academic_year=year.id,
        name="Осенние каникулы",
        starts_on=today + timedelta(days=4),
        ends_on=today + timedelta(days=4),
    ).save()
    await _cutoff(school, 1)
    ids.update(student=pupils[0], other=pupils[1], class_id=grade3.id)
    canteen = Canteen(
        ids,
        today,
        await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupils[0])),
        await sign_in(world, Grant(Role.CATERER, ScopeKind.SCHOOL, school)),
        await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school)),
    )
    await _menu(world, canteen)
    top_up = await world.client.post(
        f"{BASE}/pupils/{pupils[0]}/cash-top-ups",
        json={"amount": 100_000, "idempotency_key": "cash-0001"},
        headers=canteen.admin.headers,
    )
    assert top_up.status_code == 201, top_up.text
    return canteen


async def _post(world: Backend, who: SignedIn, url: str, body: dict[str, Any]) -> Any:
    response = await world.client.post(url, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _menu(world: Backend, c: Canteen) -> None:
    school = c.ids["school_a"]
    caterer = await _post(
        world, c.caterer, f"{BASE}/schools/{school}/caterers", {"name": "Комбинат питания"}
    )
    dishes = {}
    for name, allergens in (
        ("Борщ", []),
        ("Каша молочная", ["milk"]),
        ("Котлета рыбная", ["fish", "gluten"]),
    ):
        dish = await _post(
            world,
            c.caterer,
            f"{BASE}/caterers/{caterer['id']}/dishes",
            {
                "name": name,
                "weight_g": 200,
                "kcal": 150.5,
                "proteins_g": 5,
                "fats_g": 4.2,
                "carbs_g": 20,
                "allergens": allergens,
            },
        )
        dishes[name] = dish["id"]
    for key, name, kind, price, grades, dish_names in (
        ("lunch", "Обед 1–4", "lunch", 9_500, [1, 2, 3, 4], ["Борщ", "Котлета рыбная"]),
        ("breakfast", "Завтрак молочный", "breakfast", 6_000, [1, 2, 3, 4], ["Каша молочная"]),
        ("seniors", "Обед 5–11", "lunch", 12_000, [5, 6, 7, 8, 9, 10, 11], ["Борщ"]),
        ("spare", "Обед без меню", "lunch", 9_000, [3], ["Борщ"]),
    ):
        meal_set = await _post(
            world,
            c.caterer,
            f"{BASE}/schools/{school}/meal-sets",
            {
                "caterer_id": caterer["id"],
                "name": name,
                "kind": kind,
                "price": price,
                "grades": grades,
                "dish_ids": [dishes[d] for d in dish_names],
            },
        )
        c.sets[key] = meal_set["id"]
    offered = [c.sets["lunch"], c.sets["breakfast"], c.sets["seniors"]]
    cycle = await world.client.put(
        f"{BASE}/schools/{school}/menu-cycle",
        json={
            "starts_on": (monday_of(c.today) - timedelta(days=21)).isoformat(),
            "days": [
                {"week": w, "weekday": d, "meal_set_ids": offered}
                for w in (1, 2)
                for d in range(1, 8)
            ],
        },
        headers=c.caterer.headers,
    )
    assert cycle.status_code == 200, cycle.text


async def _order(world: Backend, c: Canteen, day: int, set_key: str, student: str = "student"):
    return await world.client.post(
        f"{BASE}/pupils/{c.ids[student]}/orders",
        json={"date": c.day(day), "meal_set_id": c.sets[set_key]},
        headers=c.guardian.headers,
    )


async def _available(world: Backend, c: Canteen) -> int:
    response = await world.client.get(
        f"{BASE}/pupils/{c.ids['student']}/account", headers=c.guardian.headers
    )
    return int(response.json()["available"])


async def test_order_holds_money_and_cancel_releases_it(world: Backend) -> None:
    c = await _canteen(world)
    menu = await world.client.get(
        f"{BASE}/pupils/{c.ids['student']}/menu",
        params={"date": c.day(2)},
        headers=c.guardian.headers,
    )
    assert menu.status_code == 200, menu.text
    names = {s["meal_set"]["name"] for s in menu.json()["sets"]}
    assert names == {"Обед 1–4", "Завтрак молочный"}  # grade 3: not the seniors' lunch

    order = await _order(world, c, 2, "lunch")
    assert order.status_code == 201, order.text
    assert order.json()["status"] == "ordered" and order.json()["price"] == 9_500
    assert await _available(world, c) == 100_000 - 9_500
    again = await _order(world, c, 2, "lunch")
    assert again.status_code == 409
    assert "уже есть заказ (обед)" in again.json()["message"]

    cancel = await world.client.post(
        f"{BASE}/orders/{order.json()['id']}/cancel", headers=c.guardian.headers
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"
    assert await _available(world, c) == 100_000
    # After a cancellation the same meal may be ordered again.
    assert (await _order(world, c, 2, "lunch")).status_code == 201


async def test_orders_carry_the_sets_name_and_title_placed_listed_and_cancelled(
    world: Backend,
) -> None:
    """The cancel's answer carried an empty set name; every order answer names the set and
    says how it reads in a sentence (decision 0820; a name without its meal:
    tests/unit/test_meal_set_title.py)."""
    c = await _canteen(world)
    placed = await _order(world, c, 2, "breakfast")
    assert placed.status_code == 201, placed.text
    lunch = await _order(world, c, 2, "lunch")
    assert lunch.status_code == 201, lunch.text
    named = ("Завтрак молочный", "Завтрак молочный")
    assert (placed.json()["meal_set_name"], placed.json()["meal_set_title"]) == named
    assert (lunch.json()["meal_set_name"], lunch.json()["meal_set_title"]) == ("Обед 1–4",) * 2
    listed = await world.client.get(
        f"{BASE}/pupils/{c.ids['student']}/orders",
        params={"date_from": c.day(2), "date_to": c.day(2)},
        headers=c.guardian.headers,
    )
    assert listed.status_code == 200, listed.text
    by_id = {o["id"]: (o["meal_set_name"], o["meal_set_title"]) for o in listed.json()}
    assert by_id[placed.json()["id"]] == named
    cancel = await world.client.post(
        f"{BASE}/orders/{placed.json()['id']}/cancel", headers=c.guardian.headers
    )
    assert cancel.status_code == 200, cancel.text
    assert (cancel.json()["meal_set_name"], cancel.json()["meal_set_title"]) == named
    ill = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/illness",
        json={"date_from": c.day(2), "date_to": c.day(2)},
        headers=c.guardian.headers,
    )
    assert ill.status_code == 200, ill.text
    assert [(o["meal_set_name"], o["meal_set_title"]) for o in ill.json()["cancelled"]] == [
        ("Обед 1–4", "Обед 1–4")
    ]


async def test_refused_orders_store_nothing(world: Backend) -> None:
    c = await _canteen(world)
    await world.client.put(
        f"{BASE}/pupils/{c.ids['student']}/diet",
        json={"allergens": ["milk"]},
        headers=c.guardian.headers,
    )
    transfers = await LedgerTransfer.count()
    await _cutoff(c.ids["school_a"], 2)  # orders for tomorrow closed at today's midnight
    cases = [
        (
            await _order(world, c, 1, "lunch"),
            409,
            f"Приём заказов на {(c.today + timedelta(days=1)).strftime('%d.%m.%Y')} закрыт",
        ),
        (await _order(world, c, 4, "lunch"), 400, "Осенние каникулы: питание в этот день"),
        (await _order(world, c, 3, "lunch", "other"), 404, "Обучающийся не найден среди детей"),
        (await _order(world, c, 3, "spare"), 400, "Этого комплекса нет в меню"),
        (await _order(world, c, 3, "seniors"), 400, "Этого комплекса нет в меню"),
        (
            await _order(world, c, 3, "breakfast"),
            400,
            "Комплекс «Завтрак молочный» содержит аллерген ребёнка: молоко (лактоза)",
        ),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["message"], response.text
    assert await MealOrder.count() == 0
    assert await LedgerTransfer.count() == transfers
    assert await _available(world, c) == 100_000


async def test_illness_releases_orders_before_the_cutoff_and_not_after(world: Backend) -> None:
    c = await _canteen(world)
    for day in (2, 3):
        assert (await _order(world, c, day, "lunch")).status_code == 201
    ill = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/illness",
        json={"date_from": c.day(2), "date_to": c.day(3)},
        headers=c.guardian.headers,
    )
    assert ill.status_code == 200, ill.text
    assert [o["date"] for o in ill.json()["cancelled"]] == [c.day(2), c.day(3)]
    assert all(o["cancel_reason"] == "illness" for o in ill.json()["cancelled"])
    assert ill.json()["kept_past_cutoff"] == []
    assert await _available(world, c) == 100_000  # released at once

    for day in (2, 3):
        assert (await _order(world, c, day, "lunch")).status_code == 201
    await _cutoff(c.ids["school_a"], 2)  # day 2 closed at today's midnight; day 3 still open
    ill = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/illness",
        json={"date_from": c.day(2), "date_to": c.day(3)},
        headers=c.guardian.headers,
    )
    assert ill.status_code == 200, ill.text
    assert [o["date"] for o in ill.json()["cancelled"]] == [c.day(3)]
    assert [o["date"] for o in ill.json()["kept_past_cutoff"]] == [c.day(2)]
    assert await _available(world, c) == 100_000 - 9_500

    # The cut-off posts the kept order's hold: the money leaves the account for good.
    cutoff = await world.client.post(
        f"{BASE}/schools/{c.ids['school_a']}/cutoff", headers=c.admin.headers
    )
    assert cutoff.status_code == 200 and cutoff.json()["posted"] == 1, cutoff.text
    account = (
        await world.client.get(
            f"{BASE}/pupils/{c.ids['student']}/account", headers=c.guardian.headers
        )
    ).json()
    assert (account["posted"], account["held"]) == (100_000 - 9_500, 0)
    late_cancel = await world.client.post(
        f"{BASE}/orders/{ill.json()['kept_past_cutoff'][0]['id']}/cancel",
        headers=c.guardian.headers,
    )
    assert late_cancel.status_code == 409


async def test_school_recorded_absence_cancels_too(world: Backend) -> None:
    c = await _canteen(world)
    assert (await _order(world, c, 3, "lunch")).status_code == 201
    absence = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/absence",
        json={"date_from": c.day(3), "date_to": c.day(3)},
        headers=c.caterer.headers,
    )
    assert absence.status_code == 200, absence.text
    assert absence.json()["cancelled"][0]["cancel_reason"] == "absence"
    assert await _available(world, c) == 100_000


async def test_the_statement_says_what_each_entry_is_for(world: Backend) -> None:
    """Trial 2026-12-07: the statement's «Основание» showed `order:18`. An order reads as its
    meal and day, the school's cash as cash, in the JSON and in the XLSX alike; and the menu
    names each set's meal once."""
    import io

    from openpyxl import load_workbook

    c = await _canteen(world)
    placed = await _order(world, c, 2, "lunch")
    assert placed.status_code == 201, placed.text
    url = f"{BASE}/pupils/{c.ids['student']}"
    statement = (await world.client.get(f"{url}/statement", headers=c.guardian.headers)).json()
    lunch_day = (c.today + timedelta(days=2)).strftime("%d.%m.%Y")
    assert [(i["kind_name"], i["basis"]) for i in statement["items"]] == [
        ("Заказ питания", f"Обед на {lunch_day}"),
        ("Пополнение", "Наличные в кассе школы"),
    ]
    assert statement["items"][0]["reference"] == f"order:{placed.json()['id']}"
    xlsx = await world.client.get(f"{url}/statement/file", headers=c.guardian.headers)
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    basis = [r[4] for r in rows if r and r[1] in ("Заказ питания", "Пополнение")]
    assert basis[0] == f"Обед на {lunch_day}" and basis[1].startswith("Наличные в кассе школы")
    assert not any("order:" in str(cell) or cell == "cash" for row in rows for cell in row)

    menu = await world.client.get(
        f"{url}/menu", params={"date": c.day(2)}, headers=c.guardian.headers
    )
    titles = {s["meal_set"]["name"]: s["meal_set"]["title"] for s in menu.json()["sets"]}
    assert titles["Обед 1–4"] == "Обед 1–4" and titles["Завтрак молочный"] == "Завтрак молочный"


async def test_two_taps_of_the_same_order_at_once_store_one(world: Backend) -> None:
    """The second of two simultaneous taps is refused «уже есть заказ» by the unique index
    (decision 0809), not answered 500; one order and one hold are stored."""
    c = await _canteen(world)
    transfers = await LedgerTransfer.count()
    answers = await asyncio.gather(*(_order(world, c, 2, "lunch") for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert "уже есть заказ (обед)" in refused.json()["message"]
    assert await MealOrder.count() == 1
    assert await LedgerTransfer.count() == transfers + 1
    assert await _available(world, c) == 100_000 - 9_500
