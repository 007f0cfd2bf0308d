"""Standing orders ("lunch every school day") and the scheduled cut-off of the worker.

The canteen of test_orders: every day a school day except a holiday four days ahead, the
cut-off at 00:00 one school day before (so today's and tomorrow's orders are closed, the day
after tomorrow's open, whenever the test runs).
"""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook

from backend.core.rights import Grant, Role, ScopeKind
from backend.meals import requisitions, standing
from backend.meals.tables import MealCutoffRun, MealOrder
from tests.conftest import Backend
from tests.integration.meals.test_orders import BASE, _available, _canteen, _cutoff, _order
from tests.support import sign_in


async def test_a_standing_order_books_each_school_day_of_the_week_ahead(world: Backend) -> None:
    c = await _canteen(world)
    url = f"{BASE}/pupils/{c.ids['student']}/standing-orders"
    created = await world.client.post(
        url, json={"meal_kind": "lunch", "meal_set_id": c.sets["lunch"]}, headers=c.guardian.headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    booked = sorted((d["date"], d["outcome"]) for d in body["days"])
    # Today and tomorrow are past their cut-off; the holiday (day 4) is no school day.
    assert booked == [(c.day(n), "ordered") for n in (2, 3, 5, 6, 7)]
    assert await _available(world, c) == 100_000 - 5 * 9_500
    twice = await world.client.post(url, json={"meal_kind": "lunch"}, headers=c.guardian.headers)
    assert twice.status_code == 409 and "уже есть" in twice.json()["message"]

    # One day is cancelled as any order; the standing order does not book it again.
    day3 = next(d for d in body["days"] if d["date"] == c.day(3))
    cancel = await world.client.post(
        f"{BASE}/orders/{day3['order_id']}/cancel", headers=c.guardian.headers
    )
    assert cancel.status_code == 200, cancel.text
    await standing.run_schedule()
    live = await MealOrder.select().where(MealOrder.live == 1)
    assert sorted(str(o["date"]) for o in live) == [c.day(n) for n in (2, 5, 6, 7)]

    # Stopping it releases every booked day still before its cut-off.
    stopped = await world.client.post(
        f"{BASE}/standing-orders/{body['id']}/cancel", headers=c.guardian.headers
    )
    assert stopped.status_code == 200 and stopped.json()["active"] is False, stopped.text
    assert await _available(world, c) == 100_000
    again = await world.client.post(
        f"{BASE}/standing-orders/{body['id']}/cancel", headers=c.guardian.headers
    )
    assert again.status_code == 409


async def test_a_standing_order_respects_choices_allergens_and_money(world: Backend) -> None:
    c = await _canteen(world)
    # The family already chose breakfast for day 2: the standing order leaves that day be.
    assert (await _order(world, c, 2, "breakfast")).status_code == 201
    diet = await world.client.put(
        f"{BASE}/pupils/{c.ids['student']}/diet",
        json={"allergens": ["fish"], "diet": ""},
        headers=c.guardian.headers,
    )
    assert diet.status_code == 200, diet.text
    lunch = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/standing-orders",
        json={"meal_kind": "lunch", "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        headers=c.guardian.headers,
    )
    assert lunch.status_code == 201, lunch.text
    # The only lunch of grade 3 has fish: nothing is booked, and the family sees why.
    assert {d["outcome_name"] for d in lunch.json()["days"]} == {
        "Не заказано: в меню дня нет подходящего комплекса"
    }
    breakfast = await world.client.post(
        f"{BASE}/pupils/{c.ids['student']}/standing-orders",
        json={"meal_kind": "breakfast", "valid_to": c.day(3)},
        headers=c.guardian.headers,
    )
    assert sorted((d["date"], d["outcome"]) for d in breakfast.json()["days"]) == [
        (c.day(2), "chosen"),
        (c.day(3), "ordered"),
    ]

    # A pupil with no money: each day says so, no order is stored.
    other_guardian = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, c.ids["other"]))
    poor = await world.client.post(
        f"{BASE}/pupils/{c.ids['other']}/standing-orders",
        json={"meal_kind": "breakfast"},
        headers=other_guardian.headers,
    )
    assert poor.status_code == 201, poor.text
    assert {d["outcome"] for d in poor.json()["days"]} == {"insufficient_funds"}
    assert "Недостаточно средств" in poor.json()["days"][0]["message"]
    assert await MealOrder.count().where(MealOrder.student == c.ids["other"]) == 0
    # Not the guardian's child: 404, as everywhere.
    foreign = await world.client.post(
        f"{BASE}/pupils/{c.ids['other']}/standing-orders",
        json={"meal_kind": "breakfast"},
        headers=c.guardian.headers,
    )
    assert foreign.status_code == 404


async def test_the_schedule_posts_each_school_day_once_at_its_cutoff(world: Backend) -> None:
    c = await _canteen(world)
    order = await _order(world, c, 2, "lunch")
    assert order.status_code == 201, order.text
    first = await standing.run_schedule()
    assert first["posted"] == 0  # day 2's cut-off is tomorrow: nothing to post yet
    row = await MealOrder.select().where(MealOrder.id == order.json()["id"]).first()
    assert row["status"] == "ordered"

    # Two school days before: day 2's cut-off was at midnight today. The job posts it.
    await _cutoff(c.ids["school_a"], 2)
    second = await standing.run_schedule()
    assert second["posted"] == 1 and second["cutoffs"] >= 1, second
    row = await MealOrder.select().where(MealOrder.id == order.json()["id"]).first()
    assert row["status"] == "posted"
    runs = await MealCutoffRun.select().where(MealCutoffRun.school == c.ids["school_a"])
    assert c.day(2) in {str(r["date"]) for r in runs}
    # The next minute finds nothing due.
    third = await standing.run_schedule()
    assert third["cutoffs"] == 0 and third["posted"] == 0, third
    account = await world.client.get(
        f"{BASE}/pupils/{c.ids['student']}/account", headers=c.guardian.headers
    )
    assert (account.json()["posted"], account.json()["held"]) == (100_000 - 9_500, 0)

    # The day's requisition was frozen with the cut-off: one paid lunch of class 3 «Б».
    listed = await world.client.get(
        f"{BASE}/schools/{c.ids['school_a']}/requisitions",
        params={"date": c.day(2)},
        headers=c.caterer.headers,
    )
    assert listed.status_code == 200, listed.text
    (requisition,) = listed.json()
    assert requisition["caterer_name"] == "Комбинат питания"
    assert (
        requisition["total_count"],
        requisition["paid_count"],
        requisition["benefit_count"],
    ) == (
        1,
        1,
        0,
    )
    (line,) = requisition["lines"]
    assert (line["meal_set_name"], line["class_id"], line["count"], line["family_amount"]) == (
        "Обед 1–4",
        c.ids["class_id"],
        1,
        9_500,
    )
    assert await requisitions.freeze(c.ids["school_a"], c.today + timedelta(days=2)) == 0
    xlsx = await world.client.get(
        f"{BASE}/requisitions/{requisition['id']}/file", headers=c.caterer.headers
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK", xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = [r for r in sheet.iter_rows(values_only=True) if r and r[0] == "Обед"]
    assert [(r[2], r[3], r[4], r[5], r[6]) for r in rows] == [("Обед 1–4", 1, 0, 1, "95,00")]
    by_family = await world.client.get(
        f"{BASE}/requisitions/{requisition['id']}/file", headers=c.guardian.headers
    )
    assert by_family.status_code == 403

    # The school's report: the posted lunch, and the cash that came in today.
    url = f"{BASE}/schools/{c.ids['school_a']}/reports"
    report = await world.client.get(
        url, params={"date_from": c.day(0), "date_to": c.day(2)}, headers=c.admin.headers
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert [(m["meal_kind_name"], m["paid_count"], m["family_amount"]) for m in body["meals"]] == [
        ("Обед", 1, 9_500)
    ]
    assert (body["top_ups_cash"], body["top_ups_card"], body["refunds"]) == (100_000, 0, 0)
    too_long = await world.client.get(
        url, params={"date_from": c.day(0), "date_to": c.day(40)}, headers=c.admin.headers
    )
    assert too_long.status_code == 400 and "31" in too_long.json()["message"]
    by_caterer = await world.client.get(
        url, params={"date_from": c.day(0), "date_to": c.day(2)}, headers=c.caterer.headers
    )
    assert by_caterer.status_code == 403


def test_the_worker_runs_the_meal_schedule_every_minute() -> None:
    from notifications.worker import CRON_JOBS, meals_schedule

    (job,) = [j for j in CRON_JOBS if j.function is meals_schedule]
    assert job.cron == "* * * * *"
