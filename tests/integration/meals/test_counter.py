"""The canteen counter: serving marks by class list, by the turnstiles' card or by number; a
serving posts the order's hold if the cut-off has not, at most once; refusals with the reason
store nothing; buffet sales by card with the guardian's limit and stop-list.

Today's orders are placed through the orders service (the cut-off for today has passed here,
as it has at a real counter); everything the canteen does goes through the API.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backend.access import registry
from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.errors import Conflict
from backend.core.rights import ScopeKind
from backend.meals import counter, ledger, menus, orders
from backend.meals import schemas as s
from backend.meals.tables import LedgerTransfer, MealOrder, MealServing
from backend.schools.people.movement import class_label
from backend.schools.services import scope_target
from backend.schools.tables import Student
from tests.conftest import Backend
from tests.integration.meals.test_orders import BASE, Canteen, _available, _canteen

SYSTEM = Actor.system()
CARD_ISSUED = ("123,45678", "wiegand26")  # as the turnstile's Wiegand-26 controller printed it
CARD_AT_COUNTER = {"raw_value": "1A007BB26E", "card_format": "em_marine_hex"}  # same card


async def _today_order(c: Canteen, who: str, set_key: str = "lunch") -> int:
    target = await scope_target(ScopeKind.STUDENT, c.ids[who])
    place = await menus.pupil_place(target, c.today)
    meal_set = await menus.meal_set(c.sets[set_key])
    return await orders.create_order(SYSTEM, c.ids[who], place, meal_set, c.today)


async def _card(c: Canteen, who: str = "student") -> int:
    row = await registry.issue_card(
        SYSTEM,
        c.ids["school_a"],
        raw_value=CARD_ISSUED[0],
        card_format=CARD_ISSUED[1],
        holder_kind="student",
        holder_id=c.ids[who],
    )
    return int(row["id"])


async def _top_up_other(world: Backend, c: Canteen) -> None:
    response = await world.client.post(
        f"{BASE}/pupils/{c.ids['other']}/cash-top-ups",
        json={"amount": 50_000, "idempotency_key": "cash-other-1"},
        headers=c.admin.headers,
    )
    assert response.status_code == 201, response.text


def _serve_url(c: Canteen) -> str:
    return f"{BASE}/schools/{c.ids['school_a']}/servings"


def _class_url(c: Canteen) -> str:
    return f"{BASE}/schools/{c.ids['school_a']}/counter/classes/{c.ids['class_id']}"


async def test_serving_by_card_and_class_list_posts_each_order_once(world: Backend) -> None:
    c = await _canteen(world)
    await _top_up_other(world, c)
    other_order = await _today_order(c, "other")
    cutoff = await world.client.post(
        f"{BASE}/schools/{c.ids['school_a']}/cutoff", headers=c.admin.headers
    )
    assert cutoff.status_code == 200 and cutoff.json()["posted"] == 1, cutoff.text
    order_id = await _today_order(c, "student")  # its cut-off has not been run: a hold
    card_id = await _card(c)
    assert await _available(world, c) == 100_000 - 9_500

    listing = await world.client.get(
        _class_url(c), params={"meal_kind": "lunch"}, headers=c.caterer.headers
    )
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert (body["ordered"], body["served"], body["class_name"]) == (2, 0, class_label(3, "Б"))
    assert {p["student_id"]: p["order_id"] for p in body["pupils"]} == {
        c.ids["student"]: order_id,
        c.ids["other"]: other_order,
    }
    assert all(p["meal_set_name"] == "Обед 1–4" and not p["reason"] for p in body["pupils"])

    transfers = await LedgerTransfer.count()
    served = await world.client.post(
        _serve_url(c),
        json={"meal_kind": "lunch", "card": CARD_AT_COUNTER},
        headers=c.caterer.headers,
    )
    assert served.status_code == 201, served.text
    out = served.json()
    assert (out["order_id"], out["via"], out["posted_now"]) == (order_id, "card", True)
    assert (out["student_name"], out["meal_set_name"]) == ("Соколова Дети", "Обед 1–4")
    # The hold was posted by the serving: one new ledger row, the money left the account.
    assert await LedgerTransfer.count() == transfers + 1
    assert (await MealOrder.select(MealOrder.status).where(MealOrder.id == order_id).first()) == {
        "status": "posted"
    }
    account = (
        await world.client.get(
            f"{BASE}/pupils/{c.ids['student']}/account", headers=c.guardian.headers
        )
    ).json()
    assert (account["posted"], account["held"]) == (100_000 - 9_500, 0)
    serving = await MealServing.select().where(MealServing.order_id == order_id).first()
    assert serving is not None and (serving["via"], serving["card_id"]) == ("card", card_id)

    again = await world.client.post(
        _serve_url(c),
        json={"meal_kind": "lunch", "student_id": c.ids["student"]},
        headers=c.caterer.headers,
    )
    assert again.status_code == 409
    assert again.json()["message"].startswith("Уже выдано сегодня в ")
    assert "Соколова Дети" in again.json()["message"]
    assert await LedgerTransfer.count() == transfers + 1
    assert await MealServing.count() == 1

    whole = await world.client.post(
        f"{_class_url(c)}/servings", json={"meal_kind": "lunch"}, headers=c.caterer.headers
    )
    assert whole.status_code == 200, whole.text
    result = whole.json()
    assert [(x["student_id"], x["posted_now"]) for x in result["served"]] == [
        (c.ids["other"], False)  # posted at the cut-off: serving posts nothing more
    ]
    assert [x["student_id"] for x in result["already_served"]] == [c.ids["student"]]
    assert result["refused"] == []
    assert await LedgerTransfer.count() == transfers + 1
    listing = await world.client.get(
        _class_url(c), params={"meal_kind": "lunch"}, headers=c.caterer.headers
    )
    assert listing.json()["served"] == 2
    assert all(p["served_at"] for p in listing.json()["pupils"])

    report = await world.client.get(
        f"{BASE}/schools/{c.ids['school_a']}/reports",
        params={"date_from": c.today.isoformat(), "date_to": c.today.isoformat()},
        headers=c.admin.headers,
    )
    assert report.status_code == 200, report.text
    lunch = [m for m in report.json()["meals"] if m["meal_kind"] == "lunch"]
    assert [(m["count"], m["served_count"]) for m in lunch] == [(2, 2)]

    audited = await AuditEntry.select(AuditEntry.student_id).where(
        AuditEntry.action == counter.SERVE_ACTION
    )
    assert sorted(r["student_id"] for r in audited) == sorted([c.ids["student"], c.ids["other"]])
    assert (await ledger.check_books(c.ids["school_a"])).ok


async def test_counter_refuses_with_the_reason_and_stores_nothing(world: Backend) -> None:
    c = await _canteen(world)
    card_id = await _card(c)
    url = _serve_url(c)
    transfers = await LedgerTransfer.count()

    async def refused(body: dict[str, Any], status: int = 409) -> str:
        response = await world.client.post(url, json=body, headers=c.caterer.headers)
        assert response.status_code == status, response.text
        return str(response.json()["message"])

    day = c.today.strftime("%d.%m.%Y")
    who = f"Соколова Дети ({class_label(3, 'Б')})"
    assert await refused({"meal_kind": "lunch", "card": CARD_AT_COUNTER}) == (
        f"Выдача невозможна: {who} — обед на {day} не заказан, льготного питания нет."
    )
    order_id = await _today_order(c, "student")
    # Lunch is ordered; breakfast is not.
    assert f"завтрак на {day} не заказан" in await refused(
        {"meal_kind": "breakfast", "student_id": c.ids["student"]}
    )
    await orders.cancel_row(SYSTEM, await orders.order_row(order_id), "illness")
    assert await refused({"meal_kind": "lunch", "student_id": c.ids["student"]}) == (
        f"Выдача невозможна: {who} — заказ (обед на {day}) отменён: болезнь."
    )

    # A card nobody was given, both a card and a number, neither: 400 naming the field.
    unknown = await world.client.post(
        url,
        json={"meal_kind": "lunch", "card": {"raw_value": "99,1", "card_format": "wiegand26"}},
        headers=c.caterer.headers,
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("Карта не выдана в этой школе")
    assert unknown.json()["details"]["field"] == "card"
    both = {"meal_kind": "lunch", "card": CARD_AT_COUNTER, "student_id": c.ids["student"]}
    assert "что-то одно" in await refused(both, 400)
    assert "что-то одно" in await refused({"meal_kind": "lunch"}, 400)
    bad = {"meal_kind": "lunch", "card": {"raw_value": "XYZ", "card_format": "em_marine_hex"}}
    assert "шестнадцатеричными" in await refused(bad, 400)

    # A lost card is refused with the reason.
    await registry.block_card(SYSTEM, card_id, "lost")
    assert await refused({"meal_kind": "lunch", "card": CARD_AT_COUNTER}) == (
        "Карта заблокирована (утеряна): выдача и покупки по ней невозможны."
    )

    # A pupil of another school by number: not found (not revealed).
    stranger = Student(school=c.ids["school_b"], last_name="Чужой", first_name="Ученик")
    await stranger.save()
    far = await world.client.post(
        url, json={"meal_kind": "lunch", "student_id": stranger.id}, headers=c.caterer.headers
    )
    assert far.status_code == 404
    # A class list naming a pupil who is not in the class: nothing is served.
    await _top_up_other(world, c)
    await _today_order(c, "other")
    transfers = await LedgerTransfer.count()
    strangers = await world.client.post(
        f"{_class_url(c)}/servings",
        json={"meal_kind": "lunch", "student_ids": [c.ids["other"], stranger.id]},
        headers=c.caterer.headers,
    )
    assert strangers.status_code == 400
    assert strangers.json()["details"]["field"] == "student_ids"
    # Named pupils: one without an order is refused with the reason, the other served.
    named = await world.client.post(
        f"{_class_url(c)}/servings",
        json={"meal_kind": "lunch", "student_ids": [c.ids["student"], c.ids["other"]]},
        headers=c.caterer.headers,
    )
    assert named.status_code == 200, named.text
    assert [x["student_id"] for x in named.json()["served"]] == [c.ids["other"]]
    assert named.json()["refused"] == [
        {
            "student_id": c.ids["student"],
            "name": "Соколова Дети",
            "reason": f"заказ (обед на {day}) отменён: болезнь",
        }
    ]
    assert await MealServing.count() == 1
    assert await LedgerTransfer.count() == transfers + 1  # the other's hold, posted once
    # The guardian cannot use the counter.
    family = await world.client.post(
        url, json={"meal_kind": "lunch", "student_id": c.ids["other"]}, headers=c.guardian.headers
    )
    assert family.status_code == 403


async def test_concurrent_servings_and_cutoff_post_once(world: Backend) -> None:
    if world.kind != "postgres":
        pytest.skip("concurrent writers race on PostgreSQL only; SQLite serialises them")
    c = await _canteen(world)
    order_id = await _today_order(c, "student")
    request = s.ServeRequest(meal_kind="lunch", student_id=c.ids["student"])
    transfers = await LedgerTransfer.count()

    async def one(i: int) -> str:
        try:
            if i % 5 == 4:
                await orders.run_cutoff(SYSTEM, c.ids["school_a"])
                return "cutoff"
            await counter.serve(SYSTEM, c.ids["school_a"], request)
            return "served"
        except Conflict as exc:
            assert exc.message.startswith("Уже выдано"), exc.message
            return "already"

    outcomes = await asyncio.gather(*(one(i) for i in range(20)))
    assert outcomes.count("served") == 1 and outcomes.count("already") == 15
    assert await LedgerTransfer.count() == transfers + 1  # the hold posted exactly once
    assert await MealServing.count() == 1
    assert (await orders.order_row(order_id))["status"] == "posted"
    assert (await ledger.check_books(c.ids["school_a"])).ok


async def test_buffet_sale_by_card_with_limit_and_stop_list(world: Backend) -> None:
    c = await _canteen(world)
    school = c.ids["school_a"]
    card_id = await _card(c)
    sets = await world.client.get(f"{BASE}/schools/{school}/meal-sets", headers=c.admin.headers)
    caterer_id = sets.json()[0]["caterer_id"]
    products = {}
    for name, price in (("Сок яблочный", 6_000), ("Чипсы", 9_000)):
        response = await world.client.post(
            f"{BASE}/schools/{school}/buffet-products",
            json={"caterer_id": caterer_id, "name": name, "price": price},
            headers=c.caterer.headers,
        )
        products[name] = response.json()["id"]
    rules = await world.client.put(
        f"{BASE}/pupils/{c.ids['student']}/buffet",
        json={"daily_limit": 10_000, "stop_list": [products["Чипсы"]]},
        headers=c.guardian.headers,
    )
    assert rules.status_code == 200, rules.text
    url = f"{BASE}/schools/{school}/buffet-sales"

    async def sale(key: str, name: str, card: dict[str, str] = CARD_AT_COUNTER) -> Any:
        return await world.client.post(
            url,
            json={"card": card, "items": [{"product_id": products[name]}], "idempotency_key": key},
            headers=c.caterer.headers,
        )

    first = await sale("card-sale-0001", "Сок яблочный")
    assert first.status_code == 201, first.text
    assert (first.json()["student_id"], first.json()["spent_today"]) == (c.ids["student"], 6_000)
    over = await sale("card-sale-0002", "Сок яблочный")
    assert over.status_code == 409
    assert over.json()["message"] == (
        "Покупка отклонена: превышен дневной лимит. "
        "Сегодня потрачено 60,00 ₽ из 100,00 ₽, покупка на 60,00 ₽."
    )
    stopped = await sale("card-sale-0003", "Чипсы")
    assert stopped.status_code == 409
    assert "Чипсы — в стоп-листе" in stopped.json()["message"]
    await registry.block_card(SYSTEM, card_id, "lost")
    blocked = await sale("card-sale-0004", "Сок яблочный")
    assert blocked.status_code == 409
    assert blocked.json()["message"].startswith("Карта заблокирована (утеряна)")
    assert await _available(world, c) == 100_000 - 6_000
