"""The meals' low-balance alert reaches the guardian through the worker, once at the crossing."""

from __future__ import annotations

import asyncio

from backend.core.context import Actor
from backend.meals import accounts, ledger
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, TransferKind
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import make_family, sign_in_as, wait_for


async def test_low_balance_alert_reaches_the_guardian_once(notify: Notify) -> None:
    family = await make_family(notify.world, channels=["email"], email="anna@mail.ru")
    headers = await sign_in_as(notify.world, family)
    threshold = await notify.world.client.put(
        f"/api/v1/meals/pupils/{family.student_id}/account",
        json={"low_balance_threshold": 10_000},
        headers=headers,
    )
    assert threshold.status_code == 200, threshold.text
    await accounts.cash_top_up(
        Actor.system(),
        family.student_id,
        s.CashTopUp(amount=15_000, idempotency_key="cash-alert-1", comment=""),
    )
    pupil = await accounts.open_pupil_account(family.student_id, family.school_id)
    caterer = await ledger.book_account(AccountKind.CATERER_PAYABLE, family.school_id, caterer_id=1)
    await notify.start()
    for n, amount in enumerate((6_000, 1_000)):  # 150 -> 90 (crosses 100) -> 80 (no alert)
        await ledger.transfer(
            Actor.system(),
            debit=pupil["ledger_account"],
            credit=caterer,
            amount=amount,
            kind=TransferKind.MEAL_ORDER,
            key=f"order-alert-{n}",
            school_id=family.school_id,
            pending=True,
        )
    await wait_for(lambda: notify.standins.smtp.received.items)
    mail = notify.standins.smtp.received.items[0]
    assert mail["to"] == ["anna@mail.ru"]
    assert mail["subject"] == "Мало денег на питание"
    assert (
        "Пётр: на лицевом счёте питания доступно 90,00 ₽ — меньше порога 100,00 ₽" in mail["text"]
    )
    # The second purchase stayed below the threshold: no second alert.
    await asyncio.sleep(1.0)
    assert len(notify.standins.smtp.received.items) == 1


async def test_a_frozen_requisition_is_emailed_to_its_caterer_once(notify: Notify) -> None:
    from datetime import UTC, date, datetime

    from backend.meals import menus
    from backend.meals.tables import MealRequisition
    from notifications.requisitions import send_requisitions

    family = await make_family(notify.world, channels=["email"], email="anna@mail.ru")
    caterer = await menus.create_caterer(
        Actor.system(),
        family.school_id,
        s.CatererCreate(name="Комбинат питания", email="Zayavki@Kombinat.ru"),
    )
    silent = await menus.create_caterer(
        Actor.system(), family.school_id, s.CatererCreate(name="Буфет без почты")
    )
    line = {
        "meal_set_id": 1,
        "meal_set_name": "Обед 1–4",
        "meal_kind": "lunch",
        "class_id": None,
        "class_name": "3Б",
        "price": 9_500,
        "paid_count": 2,
        "benefit_count": 1,
        "count": 3,
        "family_amount": 19_000,
        "benefit_amount": 9_500,
    }
    for caterer_id in (caterer.id, silent.id):
        await MealRequisition.insert(
            MealRequisition(
                school=family.school_id,
                date=date(2026, 12, 9),
                caterer=caterer_id,
                lines=[line],
                total_count=3,
                paid_count=2,
                benefit_count=1,
                family_amount=19_000,
                benefit_amount=9_500,
                frozen_at=datetime.now(UTC),
            )
        )
    assert await send_requisitions(notify.settings) == 1
    (mail,) = notify.standins.smtp.received.items
    assert mail["to"] == ["zayavki@kombinat.ru"]
    assert mail["subject"] == "Заявка на питание на 09.12.2026: Комбинат питания"
    assert "всего порций 3" in mail["text"]
    (attachment,) = mail["attachments"]
    assert attachment["filename"].endswith(".xlsx") and attachment["size"] > 1000
    assert attachment["content_type"].startswith("application/vnd.openxmlformats")
    # Sent once: the next minute finds nothing to send.
    assert await send_requisitions(notify.settings) == 0
    assert len(notify.standins.smtp.received.items) == 1
