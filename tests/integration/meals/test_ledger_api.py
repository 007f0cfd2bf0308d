"""Pupils' accounts through the API: balances, statement, cash top-ups, refunds, corrections,
the overdraft limit, the low-balance alert, and entries that the database keeps append-only."""

from __future__ import annotations

import pytest

from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.meals import accounts, ledger
from backend.meals.ledger import AccountKind, TransferKind
from backend.meals.tables import LedgerTransfer
from backend.schools.tables import Student
from tests.conftest import Backend
from tests.support import SignedIn, make_tenancy, sign_in

BASE = "/api/v1/meals"


async def _family(world: Backend) -> tuple[dict[str, int], SignedIn, SignedIn]:
    ids = await make_tenancy(world)
    pupil = Student(school=ids["school_a"], last_name="Соколова", first_name="Анна")
    await pupil.save()
    other = Student(school=ids["school_a"], last_name="Орлов", first_name="Иван")
    await other.save()
    ids.update(student=pupil.id, other=other.id)
    guardian = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil.id))
    admin = await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, ids["school_a"]))
    return ids, guardian, admin


async def _hold(ids: dict[str, int], amount: int, key: str) -> dict[str, object]:
    pupil = await accounts.open_pupil_account(ids["student"], ids["school_a"])
    caterer = await ledger.book_account(AccountKind.CATERER_PAYABLE, ids["school_a"], caterer_id=1)
    return await ledger.transfer(
        Actor.system(),
        debit=pupil["ledger_account"],
        credit=caterer,
        amount=amount,
        kind=TransferKind.MEAL_ORDER,
        key=key,
        school_id=ids["school_a"],
        pending=True,
    )


async def test_top_up_hold_statement_refund_and_correction(world: Backend) -> None:
    ids, guardian, admin = await _family(world)
    url = f"{BASE}/pupils/{ids['student']}"
    body = {"amount": 50_000, "idempotency_key": "cash-0001", "comment": "Касса, чек 17"}
    first = await world.client.post(f"{url}/cash-top-ups", json=body, headers=admin.headers)
    assert first.status_code == 201, first.text
    again = await world.client.post(f"{url}/cash-top-ups", json=body, headers=admin.headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    top_up_id = first.json()["id"]

    await _hold(ids, 12_000, "order-1")
    account = (await world.client.get(f"{url}/account", headers=guardian.headers)).json()
    assert (account["posted"], account["held"], account["available"]) == (50_000, 12_000, 38_000)

    too_much = await world.client.post(
        f"{BASE}/transfers/{top_up_id}/refunds",
        json={"amount": 50_001, "idempotency_key": "refund-0001"},
        headers=admin.headers,
    )
    assert too_much.status_code == 400
    assert "остатка пополнения (500,00 ₽)" in too_much.json()["message"]
    spent = await world.client.post(
        f"{BASE}/transfers/{top_up_id}/refunds",
        json={"amount": 40_000, "idempotency_key": "refund-0002"},
        headers=admin.headers,
    )
    assert spent.status_code == 409  # 120 ₽ of it is held for an order
    assert "доступно 380,00 ₽" in spent.json()["message"]
    refund = await world.client.post(
        f"{BASE}/transfers/{top_up_id}/refunds",
        json={"amount": 8_000, "idempotency_key": "refund-0003", "reason": "Заявление"},
        headers=admin.headers,
    )
    assert refund.status_code == 201, refund.text

    reversal = await world.client.post(
        f"{BASE}/transfers/{refund.json()['id']}/reversal",
        json={"reason": "Возврат оформлен ошибочно"},
        headers=admin.headers,
    )
    assert reversal.status_code == 201, reversal.text
    twice = await world.client.post(
        f"{BASE}/transfers/{refund.json()['id']}/reversal",
        json={"reason": "Ещё раз"},
        headers=admin.headers,
    )
    assert twice.status_code == 409
    assert twice.json()["message"] == "Эта операция уже сторнирована."

    statement = (await world.client.get(f"{url}/statement", headers=guardian.headers)).json()
    assert statement["account"]["posted"] == 50_000
    kinds = [(i["kind_name"], i["amount"], i["posted_after"]) for i in statement["items"]]
    assert kinds == [
        ("Исправление (сторно)", 8_000, 50_000),
        ("Возврат", -8_000, 42_000),
        ("Заказ питания", -12_000, 50_000),
        ("Пополнение", 50_000, 50_000),
    ]
    assert statement["items"][2]["hold_state"] == "pending"
    assert statement["items"][0]["reason"] == "Возврат оформлен ошибочно"

    check = await world.client.get(
        f"{BASE}/schools/{ids['school_a']}/books-check", headers=admin.headers
    )
    assert check.json()["ok"] is True, check.text

    # The family sees who of the staff looked at the account; its own reads are not listed.
    await world.client.get(f"{url}/statement", headers=admin.headers)
    reads = await world.client.get(
        f"/api/v1/audit/students/{ids['student']}/personal-data-reads", headers=guardian.headers
    )
    assert [r["action"] for r in reads.json()["items"]] == ["read.meals_account"], reads.text


async def test_guardian_sees_only_own_child_and_moves_no_money(world: Backend) -> None:
    ids, guardian, _ = await _family(world)
    other = await world.client.get(
        f"{BASE}/pupils/{ids['other']}/account", headers=guardian.headers
    )
    assert other.status_code == 404
    top_up = await world.client.post(
        f"{BASE}/pupils/{ids['student']}/cash-top-ups",
        json={"amount": 100, "idempotency_key": "cash-guardian"},
        headers=guardian.headers,
    )
    assert top_up.status_code == 403
    assert await LedgerTransfer.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "idempotency_key": "cash-0000"}, "сумма"),
        ({"amount": 100_000_001, "idempotency_key": "cash-0000"}, "сумма"),
        ({"amount": "сто", "idempotency_key": "cash-0000"}, "сумма"),
        ({"amount": 100, "idempotency_key": "x"}, "ключ идемпотентности"),
    ],
)
async def test_bad_top_up_is_refused_naming_the_field(
    world: Backend, body: dict[str, object], field: str
) -> None:
    ids, _, admin = await _family(world)
    response = await world.client.post(
        f"{BASE}/pupils/{ids['student']}/cash-top-ups", json=body, headers=admin.headers
    )
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert await LedgerTransfer.count() == 0


async def test_overdraft_limit_and_low_balance_alert(world: Backend) -> None:
    ids, guardian, admin = await _family(world)
    url = f"{BASE}/pupils/{ids['student']}"
    await world.client.post(
        f"{url}/cash-top-ups",
        json={"amount": 30_000, "idempotency_key": "cash-0001"},
        headers=admin.headers,
    )
    settings = await world.client.put(
        f"{BASE}/schools/{ids['school_a']}/settings",
        json={"overdraft_limit": 5_000},
        headers=admin.headers,
    )
    assert settings.status_code == 200 and settings.json()["overdraft_limit"] == 5_000
    threshold = await world.client.put(
        f"{url}/account", json={"low_balance_threshold": 10_000}, headers=guardian.headers
    )
    assert threshold.status_code == 200, threshold.text

    await _hold(ids, 15_000, "order-1")  # 150 ₽ left: above the threshold, no alert
    assert await OutboxEvent.count().where(OutboxEvent.kind == "meals.low_balance") == 0
    await _hold(ids, 10_000, "order-2")  # 50 ₽ left: crossed, one alert
    await _hold(ids, 9_000, "order-3")  # -40 ₽: within the overdraft of 50 ₽, no second alert
    events = (
        await OutboxEvent.select()
        .where(OutboxEvent.kind == "meals.low_balance")
        .output(load_json=True)
    )
    assert len(events) == 1
    assert events[0]["payload"]["available"] == 5_000
    assert events[0]["student_id"] == ids["student"]

    with pytest.raises(Exception) as refused:
        await _hold(ids, 1_001, "order-4")  # would be -50,01 ₽: past the limit
    assert "доступно -40,00 ₽" in str(refused.value)
    account = (await world.client.get(f"{url}/account", headers=guardian.headers)).json()
    assert account["available"] == -4_000


async def test_entries_cannot_be_changed_or_deleted(world: Backend) -> None:
    """The database itself refuses: not only the code that happens to run today."""
    ids, _, admin = await _family(world)
    await world.client.post(
        f"{BASE}/pupils/{ids['student']}/cash-top-ups",
        json={"amount": 100, "idempotency_key": "cash-0001"},
        headers=admin.headers,
    )
    hold = await _hold(ids, 100, "order-1")
    for statement in (
        f"UPDATE ledger_transfer SET amount = 1 WHERE id = {hold['id']}",
        f"DELETE FROM ledger_transfer WHERE id = {hold['id']}",
        "INSERT INTO ledger_transfer (debit_account, credit_account, amount, status, kind, "
        f"idempotency_key, school, reference, reason, created_at) VALUES "
        f"({hold['debit_account']}, {hold['credit_account']}, 0, 'posted', 'top_up', 'zero', "
        f"{ids['school_a']}, '', '', CURRENT_TIMESTAMP)",
    ):
        with pytest.raises(Exception, match=r"append-only|must be positive"):
            await world.engine.run_ddl(statement)
    rows = await LedgerTransfer.select(LedgerTransfer.amount)
    assert [r["amount"] for r in rows] == [100, 100]


async def test_statement_as_xlsx_and_pdf(world: Backend) -> None:
    import io

    from openpyxl import load_workbook

    ids, guardian, admin = await _family(world)
    url = f"{BASE}/pupils/{ids['student']}"
    body = {"amount": 50_000, "idempotency_key": "cash-0001", "comment": "Касса, чек 17"}
    assert (
        await world.client.post(f"{url}/cash-top-ups", json=body, headers=admin.headers)
    ).status_code == 201
    await _hold(ids, 12_050, "order-1")
    xlsx = await world.client.get(f"{url}/statement/file", headers=guardian.headers)
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f"statement-{ids['student']}.xlsx" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    title = values[1][0]
    # Not in a class list yet: the first name (a pupil of a class gets the full name).
    assert title.startswith("Выписка по лицевому счёту питания: Анна.")
    assert "На счёте 500,00 ₽, в резерве 120,50 ₽, доступно 379,50 ₽" in title
    table = [row for row in values if row and row[1] in ("Пополнение", "Заказ питания")]
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in table] == [
        ("Заказ питания", "-120,50", "В резерве", None, "500,00"),
        ("Пополнение", "500,00", "Проведено", "Наличные в кассе школы — Касса, чек 17", "500,00"),
    ]
    pdf = await world.client.get(
        f"{url}/statement/file", params={"format": "pdf"}, headers=guardian.headers
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    bad = await world.client.get(
        f"{url}/statement/file", params={"format": "doc"}, headers=guardian.headers
    )
    assert bad.status_code == 400
    other = await world.client.get(
        f"{BASE}/pupils/{ids['other']}/statement/file", headers=guardian.headers
    )
    assert other.status_code == 404
