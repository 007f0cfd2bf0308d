"""The buffet counter: sales against the pupil's account, refused over the guardian's daily
limit or for a product on the stop-list, with the reason; nothing is charged for a refusal."""

from __future__ import annotations

from typing import Any

from backend.meals.tables import BuffetSale, LedgerTransfer
from tests.conftest import Backend
from tests.integration.meals.test_orders import BASE, _available, _canteen


async def test_buffet_sale_limit_and_stop_list(world: Backend) -> None:
    c = await _canteen(world)
    school = c.ids["school_a"]
    dishes = await world.client.get(f"{BASE}/schools/{school}/meal-sets", headers=c.admin.headers)
    caterer_id = dishes.json()[0]["caterer_id"]
    products: dict[str, Any] = {}
    for name, price in (("Булочка с маком", 3_500), ("Сок яблочный", 6_000), ("Чипсы", 9_000)):
        response = await world.client.post(
            f"{BASE}/schools/{school}/buffet-products",
            json={"caterer_id": caterer_id, "name": name, "price": price},
            headers=c.caterer.headers,
        )
        assert response.status_code == 201, response.text
        products[name] = response.json()["id"]
    rules = await world.client.put(
        f"{BASE}/pupils/{c.ids['student']}/buffet",
        json={"daily_limit": 15_000, "stop_list": [products["Чипсы"]]},
        headers=c.guardian.headers,
    )
    assert rules.status_code == 200, rules.text

    def sale(key: str, *items: tuple[str, int]) -> dict[str, Any]:
        return {
            "student_id": c.ids["student"],
            "items": [{"product_id": products[n], "quantity": q} for n, q in items],
            "idempotency_key": key,
        }

    url = f"{BASE}/schools/{school}/buffet-sales"
    first = await world.client.post(
        url, json=sale("till-1-0001", ("Булочка с маком", 2)), headers=c.caterer.headers
    )
    assert first.status_code == 201, first.text
    assert (first.json()["total"], first.json()["spent_today"]) == (7_000, 7_000)
    repeated = await world.client.post(
        url, json=sale("till-1-0001", ("Булочка с маком", 2)), headers=c.caterer.headers
    )
    assert repeated.status_code == 201 and repeated.json()["spent_today"] == 7_000

    transfers = await LedgerTransfer.count()
    over = await world.client.post(
        url, json=sale("till-1-0002", ("Сок яблочный", 2)), headers=c.caterer.headers
    )
    assert over.status_code == 409
    assert over.json()["message"] == (
        "Покупка отклонена: превышен дневной лимит. "
        "Сегодня потрачено 70,00 ₽ из 150,00 ₽, покупка на 120,00 ₽."
    )
    stopped = await world.client.post(
        url, json=sale("till-1-0003", ("Чипсы", 1)), headers=c.caterer.headers
    )
    assert stopped.status_code == 409
    assert "Чипсы — в стоп-листе" in stopped.json()["message"]
    assert await LedgerTransfer.count() == transfers
    assert await BuffetSale.count() == 1
    assert await _available(world, c) == 100_000 - 7_000

    within = await world.client.post(
        url, json=sale("till-1-0004", ("Сок яблочный", 1)), headers=c.caterer.headers
    )
    assert within.status_code == 201, within.text
    view = await world.client.get(
        f"{BASE}/pupils/{c.ids['student']}/buffet", headers=c.guardian.headers
    )
    assert view.json()["spent_today"] == 13_000
