"""The bot's meals on both messengers: ordering and cancelling before the cut-off, and a top-up
whose payment page (the YooKassa stand-in's) is sent as a link button; the stand-in's payment
succeeding credits the child's account once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.meals import accounts
from backend.meals.ledger import TransferKind
from backend.meals.payments import NOTIFICATIONS_PATH, Payments
from backend.meals.tables import LedgerTransfer, MealOrder, MealPayment
from tests.integration.bots.conftest import Messenger
from tests.integration.meals.test_orders import Canteen, _canteen

YOOKASSA_ADDRESS = "185.71.76.5"  # inside YooKassa's published 185.71.76.0/27


async def test_meals_are_ordered_and_cancelled_before_the_cutoff(messenger: Messenger) -> None:
    world = messenger.notify.world
    canteen = await _canteen(world)  # cut-off: the day before at 00:00; 1 000 ₽ on the account
    await messenger.consented_abroad(canteen.ids["student"])
    person = await messenger.linked(canteen.guardian, 500_081)
    tomorrow = await person.type("/meals")
    assert "Баланс: 1 000,00 ₽, доступно 1 000,00 ₽" in tomorrow["text"]
    later = await person.press(person.button("День »", tomorrow))  # still open for orders
    # each set's meal named once (trial 2026-12-07: «Завтрак «Завтрак «Омлет»» — 105,00 ₽»)
    sets = [line for line in later["text"].splitlines() if line.startswith("• ")]
    assert "• Обед 1–4 — 95,00 ₽" in sets, sets
    for line in sets:
        assert sum(line.count(kind) for kind in ("Завтрак", "Обед", "Полдник")) == 1, line
        assert "«" not in line, line
    placed = await person.press(person.button("Заказать: Обед 1–4", later))
    assert placed["text"].startswith("Заказано: Обед 1–4.")
    assert "Заказ: Обед 1–4 — заказано" in placed["text"]
    row = await MealOrder.select().where(MealOrder.student == canteen.ids["student"]).first()
    assert row is not None and row["status"] == "ordered"
    assert f"доступно {(100_000 - row['price']) // 100:,}".replace(",", " ") in placed["text"]
    cancelled = await person.press(person.button("Отменить: Обед 1–4", placed))
    assert cancelled["text"].startswith("Заказ отменён: Обед 1–4. Деньги вернулись на счёт.")
    row = await MealOrder.select().where(MealOrder.id == row["id"]).first()
    assert row is not None and row["status"] == "cancelled"
    assert "доступно 1 000,00 ₽" in cancelled["text"]


@pytest.fixture
async def paying(messenger: Messenger) -> AsyncIterator[Messenger]:
    """The API answers YooKassa's notifications with the bot's own payments (the same
    stand-in), as one installation's API and bot do."""
    world = messenger.notify.world
    before = world.app.state.payments
    world.app.state.payments = messenger.core.payments
    yield messenger
    world.app.state.payments = before


async def _top_ups(canteen: Canteen) -> list[dict[str, Any]]:
    pupil = await accounts.open_pupil_account(canteen.ids["student"], 0)
    return await LedgerTransfer.select().where(
        (LedgerTransfer.credit_account == pupil["ledger_account"])
        & (LedgerTransfer.kind == TransferKind.TOP_UP.value)
    )


async def test_a_top_up_sends_the_payment_page_and_the_paid_money_is_credited_once(
    paying: Messenger,
) -> None:
    messenger = paying
    world = messenger.notify.world
    yookassa = messenger.notify.standins.yookassa
    yookassa.payments.clear()
    canteen = await _canteen(world)  # 1 000 ₽ on the account
    await messenger.consented_abroad(canteen.ids["student"])
    person = await messenger.linked(canteen.guardian, 500_091)
    meals = await person.type("/meals")

    # The amount from a button; the account has no e-mail or phone, so the receipt's is asked.
    asked = await person.press(person.button("Пополнить счёт", meals))
    assert asked["text"].startswith("Пополнение счёта питания: Дети Соколова")
    assert person.labels(asked) == ["500,00 ₽", "1 000,00 ₽", "2 000,00 ₽", "« Питание"]
    five_hundred = person.button("500,00 ₽", asked)
    contact = await person.press(five_hundred, message=asked)
    assert contact["text"] == "Куда прислать кассовый чек? Пришлите e-mail или номер телефона."
    sent = await person.type("Mama@Example.ru")
    assert sent["text"].startswith("Пополнение на 500,00 ₽: Дети Соколова")
    url = person.link("Оплатить 500,00 ₽", sent)
    (payment,) = yookassa.payments.values()
    assert url == yookassa.page_url(payment["id"])
    assert payment["amount"] == {"value": "500.00", "currency": "RUB"}
    (created,) = [r for r in yookassa.received.items if r["call"] == "POST /v3/payments"]
    assert created["body"]["receipt"]["customer"] == {"email": "mama@example.ru"}
    row = await MealPayment.select().where(MealPayment.provider_payment_id == payment["id"])
    assert len(row) == 1 and row[0]["created_by"] == canteen.guardian.user_id

    # The same amount pressed again (a double tap): the same payment, not a second one.
    again = await person.press(five_hundred, message=asked)
    assert person.link("Оплатить", again) == url
    assert len(yookassa.payments) == 1

    # The family pays on the page; YooKassa tells the API (twice, as it may): credited once.
    cash = [r["amount"] for r in await _top_ups(canteen)]  # the school's 1 000 ₽ in cash
    async with httpx.AsyncClient() as browser:
        paid = await browser.post(url, data={"action": "pay"})
    # ... and is sent back to our Russian page of the top-up, not the API's documents.
    assert paid.status_code == 302, paid.text
    back = httpx.URL(paid.headers["location"])
    assert back.path == f"/payments/{row[0]['public_id']}", back
    notice = yookassa.sent[-1]
    assert notice["event"] == "payment.succeeded"
    transport = httpx.ASGITransport(app=world.app, client=(YOOKASSA_ADDRESS, 44321))
    async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as api:
        for _ in range(2):
            answer = await api.post(NOTIFICATIONS_PATH, json=notice)
            assert answer.status_code == 200, answer.text
    credited = await _top_ups(canteen)
    assert [r["amount"] for r in credited] == [*cash, 50_000]
    paid_row = await MealPayment.select().where(MealPayment.id == row[0]["id"]).first()
    assert paid_row is not None and paid_row["transfer_id"] == credited[-1]["id"]
    shown = await person.type("/meals")
    assert "Баланс: 1 500,00 ₽, доступно 1 500,00 ₽" in shown["text"]
    landed = await world.client.get(back.path)
    assert "<h1>Оплата принята</h1>" in landed.text, landed.text

    # Leaving the question by a button: a number typed then is not an amount.
    left = await person.press(
        person.button("« Питание", await person.press(person.button("Пополнить счёт", shown)))
    )
    assert (await person.type("300"))["text"] == "Не понял сообщение. Команды — /help."
    # A typed amount; the receipt's e-mail typed before is remembered.
    await person.press(person.button("Пополнить счёт", left))
    bad = await person.type("сто рублей")
    assert bad["text"].startswith("Не понял сумму")
    typed = await person.type("750,50")
    assert person.link("Оплатить 750,50 ₽", typed)
    assert len(yookassa.payments) == 2
    assert [r["amount"] for r in await _top_ups(canteen)] == [*cash, 50_000]  # not paid yet
    assert not person.errors()


async def test_a_top_up_without_a_provider_says_so(messenger: Messenger) -> None:
    """An installation without a payment shop: the API's own refusal, in Russian."""
    world = messenger.notify.world
    messenger.core.payments = Payments(None, messenger.notify.settings, ())
    canteen = await _canteen(world)
    await messenger.consented_abroad(canteen.ids["student"])
    person = await messenger.linked(canteen.guardian, 500_101)
    asked = await person.press(person.button("Пополнить счёт", await person.type("/meals")))
    await person.press(person.button("500,00 ₽", asked), message=asked)
    refused = await person.type("+7 900 123-45-67")
    assert refused["text"].startswith("Оплата картой и через СБП в этой установке")
    assert person.keyboard(refused) == []


async def test_ill_today_cancels_todays_meal_before_the_cutoff(messenger: Messenger) -> None:
    from tests.integration.meals.test_orders import _cutoff_at

    world = messenger.notify.world
    canteen = await _canteen(world)
    await _cutoff_at(canteen.ids["school_a"], "23:59", 0)  # today's orders still open
    await messenger.consented_abroad(canteen.ids["student"])
    person = await messenger.linked(canteen.guardian, 500_111)
    tomorrow = await person.type("/meals")
    today = await person.press(person.button("« День", tomorrow))
    placed = await person.press(person.button("Заказать", today))
    assert placed["text"].startswith("Заказано: Обед")
    asked = await person.type("/ill")
    done = await person.press(person.button("Да, сообщить", asked))
    assert "Школа получила сообщение" in done["text"]
    assert "Заказы питания на сегодня отменены: 1." in done["text"]
    row = await MealOrder.select().where(MealOrder.student == canteen.ids["student"]).first()
    assert row is not None and row["status"] == "cancelled"
