"""Top-ups by card or SBP through YooKassa: our client against the stand-in speaking YooKassa's
API, notifications from YooKassa's addresses only, re-fetched and credited at most once,
refunds never beyond the payment, and the day's reconciliation."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from backend.core.context import Actor
from backend.core.http import trusted_networks
from backend.core.rights import Grant, Role, ScopeKind
from backend.meals import accounts, ledger, payments, yookassa
from backend.meals.ledger import AccountKind, TransferKind
from backend.meals.payments import Payments
from backend.meals.tables import LedgerTransfer, MealPayment
from backend.schools.structure import services as structure
from backend.schools.tables import Student
from notifications.standins.yookassa import YooKassaStandIn
from tests.conftest import Backend
from tests.support import SignedIn, make_tenancy, sign_in

BASE = "/api/v1/meals"
NOTIFY = f"{BASE}/payments/yookassa/notifications"
YOOKASSA_ADDRESS = "185.71.76.5"  # inside 185.71.76.0/27


@pytest.fixture
async def standin(world: Backend) -> AsyncIterator[YooKassaStandIn]:
    """The stand-in, and the running app pointed at it (as PARTA_YOOKASSA_* would)."""
    server = YooKassaStandIn()
    await server.start()
    before = world.app.state.payments
    world.app.state.payments = Payments(
        provider=yookassa.YooKassa(server.shop_id, server.secret_key, server.base_url),
        settings=world.settings,
        allowed=yookassa.networks(world.settings.yookassa_notification_networks),
    )
    try:
        yield server
    finally:
        world.app.state.payments = before
        await server.stop()


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


async def _notify(world: Backend, body: dict[str, Any], sender: str = YOOKASSA_ADDRESS) -> Any:
    transport = httpx.ASGITransport(app=world.app, client=(sender, 44321))
    async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as c:
        return await c.post(NOTIFY, json=body)


async def _top_up(
    world: Backend, guardian: SignedIn, student: int, amount: int = 50_000, key: str = "top-up-0001"
) -> dict[str, Any]:
    response = await world.client.post(
        f"{BASE}/pupils/{student}/top-ups",
        json={
            "amount": amount,
            "idempotency_key": key,
            "method": "sbp",
            "receipt_email": "Mama@Example.ru",
        },
        headers=guardian.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _balance(world: Backend, guardian: SignedIn, student: int) -> tuple[int, int, int]:
    account = (
        await world.client.get(f"{BASE}/pupils/{student}/account", headers=guardian.headers)
    ).json()
    return account["posted"], account["held"], account["available"]


async def _top_up_rows(student: int) -> list[dict[str, Any]]:
    pupil = await accounts.open_pupil_account(student, 0)
    return await LedgerTransfer.select().where(
        (LedgerTransfer.credit_account == pupil["ledger_account"])
        & (LedgerTransfer.kind == TransferKind.TOP_UP.value)
    )


async def test_a_top_up_is_credited_once_whatever_the_notifications(
    world: Backend, standin: YooKassaStandIn
) -> None:
    ids, guardian, _ = await _family(world)
    payment = await _top_up(world, guardian, ids["student"])
    assert payment["status"] == "pending" and payment["provider"] == "yookassa"
    assert payment["confirmation_url"] == standin.page_url(payment["provider_payment_id"])

    # What YooKassa received: basic auth, an idempotence key from our top-up id, the receipt.
    (created,) = [r for r in standin.received.items if r["call"] == "POST /v3/payments"]
    row = await MealPayment.select().where(MealPayment.id == payment["id"]).first()
    assert created["key"] == f"top-up-{row['public_id']}"
    assert created["body"]["amount"] == {"value": "500.00", "currency": "RUB"}
    assert created["body"]["payment_method_data"] == {"type": "sbp"}
    assert created["body"]["metadata"] == {
        "top_up": row["public_id"],
        "school_id": str(ids["school_a"]),
    }
    receipt = created["body"]["receipt"]
    assert receipt["customer"] == {"email": "mama@example.ru"}
    account = await accounts.open_pupil_account(ids["student"], ids["school_a"])
    assert receipt["items"] == [
        {
            "description": f"Пополнение лицевого счёта питания № {account['id']}",
            "quantity": "1.00",
            "amount": {"value": "500.00", "currency": "RUB"},
            "vat_code": 1,
            "payment_mode": "advance",
            "payment_subject": "payment",
        }
    ]

    # The same request again: the same payment, no second one at YooKassa.
    again = await _top_up(world, guardian, ids["student"])
    assert again["id"] == payment["id"]
    assert len(standin.payments) == 1

    # A notification claiming success before the family paid: YooKassa says pending.
    provider_id = payment["provider_payment_id"]
    forged = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {**standin.payments[provider_id], "status": "succeeded", "paid": True},
    }
    early = await _notify(world, forged)
    assert early.status_code == 200 and early.json()["outcome"] == "nothing", early.text
    assert await _balance(world, guardian, ids["student"]) == (0, 0, 0)

    stale_pending = {
        "type": "notification",
        "event": "payment.waiting_for_capture",
        "object": dict(standin.payments[provider_id]),
    }
    succeeded = standin.succeed(provider_id)
    first = await _notify(world, succeeded)
    assert first.status_code == 200 and first.json()["outcome"] == "credited", first.text
    assert await _balance(world, guardian, ids["student"]) == (50_000, 0, 50_000)

    # Duplicate, late and out-of-order notifications change nothing.
    for body in (succeeded, succeeded, stale_pending, {**succeeded, "event": "payment.canceled"}):
        repeat = await _notify(world, body)
        assert repeat.status_code == 200, repeat.text
    assert await _balance(world, guardian, ids["student"]) == (50_000, 0, 50_000)
    (credit,) = await _top_up_rows(ids["student"])
    assert credit["idempotency_key"] == f"yookassa:{provider_id}"
    assert credit["reference"] == f"payment:{payment['id']}"

    seen = (
        await world.client.get(f"{BASE}/payments/{payment['id']}", headers=guardian.headers)
    ).json()
    assert (seen["status"], seen["paid_amount"], seen["confirmation_url"]) == (
        "succeeded",
        50_000,
        "",
    )
    assert seen["status_name"] == "Оплачено, зачислено"
    statement = (
        await world.client.get(
            f"{BASE}/pupils/{ids['student']}/statement", headers=guardian.headers
        )
    ).json()
    assert [(i["kind_name"], i["amount"]) for i in statement["items"]] == [("Пополнение", 50_000)]
    assert statement["items"][0]["basis"] == f"Пополнение через ЮKassa № {payment['id']}"


async def test_notifications_only_from_yookassa_addresses(
    world: Backend, standin: YooKassaStandIn
) -> None:
    ids, guardian, _ = await _family(world)
    payment = await _top_up(world, guardian, ids["student"])
    body = standin.succeed(payment["provider_payment_id"])

    for outsider in ("203.0.113.10", "185.71.76.32", "127.0.0.1", "2a02:5181::1"):
        refused = await _notify(world, body, sender=outsider)
        assert refused.status_code == 403, refused.text
        assert "не принадлежит ЮKassa" in refused.json()["message"]
    # An untrusted peer cannot borrow YooKassa's address through the header.
    transport = httpx.ASGITransport(app=world.app, client=("10.0.0.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as c:
        spoofed = await c.post(NOTIFY, json=body, headers={"X-Forwarded-For": YOOKASSA_ADDRESS})
    assert spoofed.status_code == 403
    assert await _balance(world, guardian, ids["student"]) == (0, 0, 0)

    # Behind our own proxy (PARTA_TRUSTED_PROXIES), the forwarded address counts.
    before = world.app.state.trusted_networks
    world.app.state.trusted_networks = trusted_networks(["10.0.0.0/8"])
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as c:
            spoofed = await c.post(
                NOTIFY, json=body, headers={"X-Forwarded-For": f"{YOOKASSA_ADDRESS}, 203.0.113.9"}
            )
            assert spoofed.status_code == 403  # the last hop before our proxy is not YooKassa
            proxied = await c.post(NOTIFY, json=body, headers={"X-Forwarded-For": "2a02:5180::7"})
    finally:
        world.app.state.trusted_networks = before
    assert proxied.status_code == 200 and proxied.json()["outcome"] == "credited", proxied.text
    assert await _balance(world, guardian, ids["student"]) == (50_000, 0, 50_000)


async def test_a_payment_yookassa_reports_cancelled_credits_nothing(
    world: Backend, standin: YooKassaStandIn
) -> None:
    ids, guardian, _ = await _family(world)
    payment = await _top_up(world, guardian, ids["student"])
    provider_id = payment["provider_payment_id"]
    standin.cancel(provider_id, "insufficient_funds")
    lying = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {
            "id": provider_id,
            "status": "succeeded",
            "paid": True,
            "amount": {"value": "500.00", "currency": "RUB"},
        },
    }
    answer = await _notify(world, lying)
    assert answer.status_code == 200 and answer.json()["outcome"] == "canceled", answer.text
    assert await _balance(world, guardian, ids["student"]) == (0, 0, 0)
    assert await _top_up_rows(ids["student"]) == []
    seen = (
        await world.client.get(f"{BASE}/payments/{payment['id']}", headers=guardian.headers)
    ).json()
    assert seen["status"] == "canceled" and seen["confirmation_url"] == ""
    # A payment YooKassa does not know (another shop's, or made up) is acknowledged, ignored.
    unknown = await _notify(world, {**lying, "object": {**lying["object"], "id": "nope-000f"}})
    assert unknown.status_code == 200 and unknown.json()["outcome"] == "unknown"
    malformed = await _notify(world, {"type": "notification", "event": "payment.succeeded"})
    assert malformed.status_code == 400


async def test_refunds_never_exceed_the_payment_nor_what_is_unspent(
    world: Backend, standin: YooKassaStandIn
) -> None:
    ids, guardian, admin = await _family(world)
    payment = await _top_up(world, guardian, ids["student"])
    await _notify(world, standin.succeed(payment["provider_payment_id"]))
    pupil = await accounts.open_pupil_account(ids["student"], ids["school_a"])
    caterer = await ledger.book_account(AccountKind.CATERER_PAYABLE, ids["school_a"], caterer_id=1)
    await ledger.transfer(
        Actor.system(),
        debit=pupil["ledger_account"],
        credit=caterer,
        amount=10_000,
        kind=TransferKind.MEAL_ORDER,
        key="order-hold-1",
        school_id=ids["school_a"],
        pending=True,
    )
    url = f"{BASE}/payments/{payment['id']}/refunds"

    by_family = await world.client.post(
        url, json={"amount": 100, "idempotency_key": "refund-fam1"}, headers=guardian.headers
    )
    assert by_family.status_code == 403
    held = await world.client.post(
        url, json={"amount": 45_000, "idempotency_key": "refund-0001"}, headers=admin.headers
    )
    assert held.status_code == 409, held.text  # 100 ₽ is held for an order
    assert "доступно 400,00 ₽" in held.json()["message"]

    standin.unavailable = 1  # YooKassa does not answer the first time
    first = await world.client.post(
        url,
        json={"amount": 30_000, "idempotency_key": "refund-0002", "reason": "Заявление"},
        headers=admin.headers,
    )
    assert first.status_code == 503, first.text
    assert await _balance(world, guardian, ids["student"]) == (50_000, 40_000, 10_000)
    retried = await world.client.post(
        url,
        json={"amount": 30_000, "idempotency_key": "refund-0002", "reason": "Заявление"},
        headers=admin.headers,
    )
    assert retried.status_code == 201, retried.text
    assert retried.json()["status"] == "succeeded"
    repeat = await world.client.post(
        url, json={"amount": 30_000, "idempotency_key": "refund-0002"}, headers=admin.headers
    )
    assert repeat.json()["id"] == retried.json()["id"]
    assert len(standin.refunds) == 1
    assert standin.payments[payment["provider_payment_id"]]["refunded_amount"]["value"] == "300.00"
    assert await _balance(world, guardian, ids["student"]) == (20_000, 10_000, 10_000)

    # The pupil's hold is released: 200 ₽ is unspent, 200 ₽ of the payment is left.
    too_much = await world.client.post(
        url, json={"amount": 20_001, "idempotency_key": "refund-0003"}, headers=admin.headers
    )
    assert too_much.status_code in (400, 409), too_much.text
    hold = (await LedgerTransfer.select().where(LedgerTransfer.idempotency_key == "order-hold-1"))[
        0
    ]
    await ledger.resolve(Actor.system(), hold["id"], post=False)
    beyond = await world.client.post(
        url, json={"amount": 20_001, "idempotency_key": "refund-0004"}, headers=admin.headers
    )
    assert beyond.status_code == 400, beyond.text
    assert "остатка пополнения (200,00 ₽)" in beyond.json()["message"]
    rest = await world.client.post(
        url, json={"amount": 20_000, "idempotency_key": "refund-0005"}, headers=admin.headers
    )
    assert rest.status_code == 201 and rest.json()["status"] == "succeeded", rest.text
    assert await _balance(world, guardian, ids["student"]) == (0, 0, 0)
    assert standin.payments[payment["provider_payment_id"]]["refundable"] is False

    # A refund YooKassa leaves pending is posted when its notification comes.
    second = await _top_up(world, guardian, ids["student"], 10_000, key="top-up-0002")
    await _notify(world, standin.succeed(second["provider_payment_id"]))
    standin.refund_status = "pending"
    pending = await world.client.post(
        f"{BASE}/payments/{second['id']}/refunds",
        json={"amount": 4_000, "idempotency_key": "refund-0006"},
        headers=admin.headers,
    )
    assert pending.status_code == 201 and pending.json()["status"] == "pending", pending.text
    assert await _balance(world, guardian, ids["student"]) == (10_000, 4_000, 6_000)
    done = await _notify(world, standin.finish_refund(pending.json()["provider_refund_id"]))
    assert done.json()["outcome"] == "refund_succeeded", done.text
    assert await _balance(world, guardian, ids["student"]) == (6_000, 0, 6_000)
    check = await world.client.get(
        f"{BASE}/schools/{ids['school_a']}/books-check", headers=admin.headers
    )
    assert check.json()["ok"] is True, check.text


async def test_reconciliation_lists_what_the_ledger_missed(
    world: Backend, standin: YooKassaStandIn
) -> None:
    ids, guardian, admin = await _family(world)
    credited = await _top_up(world, guardian, ids["student"], 30_000, key="top-up-0001")
    await _notify(world, standin.succeed(credited["provider_payment_id"]))
    lost = await _top_up(world, guardian, ids["student"], 20_000, key="top-up-0002")
    standin.succeed(lost["provider_payment_id"])  # its notification never reached us
    abandoned = await _top_up(world, guardian, ids["student"], 5_000, key="top-up-0003")
    standin.cancel(abandoned["provider_payment_id"])

    zone = (await structure.get_settings(Actor.system(), ids["school_a"])).time_zone
    today = datetime.now(ZoneInfo(zone)).date()
    url = f"{BASE}/schools/{ids['school_a']}/payments/reconciliation?date={today.isoformat()}"
    report = await world.client.get(url, headers=admin.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["ok"], body["provider_payments"], body["provider_total"]) == (False, 3, 50_000)
    assert body["ledger_total"] == 30_000
    assert [(d["kind"], d["payment_id"], d["provider_amount"]) for d in body["differences"]] == [
        ("not_credited", lost["id"], 20_000)
    ]
    assert (
        body["differences"][0]["kind_name"] == "Оплачено в ЮKassa, но не зачислено на лицевой счёт"
    )

    # The worker's sweep asks YooKassa about top-ups still open after ten minutes: none yet.
    provider = world.app.state.payments.provider
    assert await payments.sync_pending(provider) == 0
    # The family comes back from the payment page: the payment is read from YooKassa.
    seen = await world.client.get(f"{BASE}/payments/{lost['id']}", headers=guardian.headers)
    assert seen.json()["status"] == "succeeded"
    again = (await world.client.get(url, headers=admin.headers)).json()
    assert again["ok"] is True and again["ledger_total"] == 50_000, again
    by_family = await world.client.get(url, headers=guardian.headers)
    assert by_family.status_code == 403


async def test_the_sweep_credits_a_payment_whose_notification_was_lost(
    world: Backend, standin: YooKassaStandIn
) -> None:
    ids, guardian, _ = await _family(world)
    paid = await _top_up(world, guardian, ids["student"], 20_000, key="top-up-0001")
    standin.succeed(paid["provider_payment_id"])  # no notification reaches us
    gave_up = await _top_up(world, guardian, ids["student"], 5_000, key="top-up-0002")
    standin.cancel(gave_up["provider_payment_id"])
    waiting = await _top_up(world, guardian, ids["student"], 7_000, key="top-up-0003")
    provider = world.app.state.payments.provider
    assert await payments.sync_pending(provider, older_than=timedelta(0)) == 2
    assert await _balance(world, guardian, ids["student"]) == (20_000, 0, 20_000)
    states = {
        r["id"]: r["status"] for r in await MealPayment.select(MealPayment.id, MealPayment.status)
    }
    assert states == {paid["id"]: "succeeded", gave_up["id"]: "canceled", waiting["id"]: "pending"}
    assert await payments.sync_pending(provider, older_than=timedelta(0)) == 0


async def test_top_up_requests_are_checked(world: Backend, standin: YooKassaStandIn) -> None:
    ids, guardian, _ = await _family(world)
    url = f"{BASE}/pupils/{ids['student']}/top-ups"
    body = {"amount": 10_000, "idempotency_key": "top-up-x001"}
    other = await world.client.post(
        f"{BASE}/pupils/{ids['other']}/top-ups",
        json={**body, "receipt_phone": "+7 912 345-67-89"},
        headers=guardian.headers,
    )
    assert other.status_code == 404
    no_contact = await world.client.post(url, json=body, headers=guardian.headers)
    assert no_contact.status_code == 400
    assert "receipt_email" in no_contact.json()["message"]
    bad_method = await world.client.post(
        url,
        json={**body, "method": "cash", "receipt_phone": "89123456789"},
        headers=guardian.headers,
    )
    assert bad_method.status_code == 400 and "способ оплаты" in bad_method.json()["message"]
    ok = await world.client.post(
        url, json={**body, "receipt_phone": "8 912 345-67-89"}, headers=guardian.headers
    )
    assert ok.status_code == 201, ok.text
    (created,) = [r for r in standin.received.items if r["call"] == "POST /v3/payments"]
    assert created["body"]["receipt"]["customer"] == {"phone": "79123456789"}
    changed = await world.client.post(
        url,
        json={**body, "amount": 10_001, "receipt_phone": "89123456789"},
        headers=guardian.headers,
    )
    assert changed.status_code == 409
    assert len(standin.payments) == 1
    assert await MealPayment.count() == 1

    world.app.state.payments = Payments(
        provider=None,
        settings=world.settings,
        allowed=yookassa.networks(world.settings.yookassa_notification_networks),
    )
    off = await world.client.post(
        url,
        json={**body, "idempotency_key": "top-up-x002", "receipt_phone": "89123456789"},
        headers=guardian.headers,
    )
    assert off.status_code == 409 and "кассе школы" in off.json()["message"]


async def test_the_client_speaks_basic_auth() -> None:
    """The stand-in refuses a wrong key the way YooKassa does: our client reports a refusal."""
    server = YooKassaStandIn()
    await server.start()
    try:
        client = yookassa.YooKassa(server.shop_id, "wrong-key", server.base_url)
        with pytest.raises(yookassa.ProviderRefused) as refused:
            await client.get_payment("whatever")
        assert refused.value.code == "invalid_credentials"
        token = base64.b64encode(f"{server.shop_id}:{server.secret_key}".encode()).decode()
        async with httpx.AsyncClient() as raw:
            answer = await raw.post(
                f"{server.base_url}/payments",
                json={"amount": {"value": "1.00", "currency": "RUB"}},
                headers={"Authorization": f"Basic {token}"},
            )
        assert answer.status_code == 400 and answer.json()["parameter"] == "Idempotence-Key"
    finally:
        await server.stop()


async def test_the_payer_comes_back_to_a_russian_page_of_the_top_up(
    world: Backend, standin: YooKassaStandIn
) -> None:
    """Not the API's documents (trial 2026-12-07, item 8): the provider's page sends the payer
    to our page of this top-up, which reads in Russian, asks YooKassa while the payment is not
    final, and says nothing about the pupil (decision 0723)."""
    ids, guardian, _ = await _family(world)
    payment = await _top_up(world, guardian, ids["student"])
    row = await MealPayment.select().where(MealPayment.id == payment["id"]).first()
    (created,) = [r for r in standin.received.items if r["call"] == "POST /v3/payments"]
    return_url = created["body"]["confirmation"]["return_url"]
    settings = world.settings
    assert return_url == (f"http://{settings.host}:{settings.port}/payments/{row['public_id']}"), (
        return_url
    )
    page = f"/payments/{row['public_id']}"

    waiting = await world.client.get(page)  # the payer's browser: nobody signed in
    assert waiting.status_code == 200, waiting.text
    assert waiting.headers["content-type"].startswith("text/html")
    assert "<h1>Оплата обрабатывается</h1>" in waiting.text
    assert "Платёж на 500,00 ₽ ещё не подтверждён" in waiting.text
    assert f"Пополнение № {payment['id']}." in waiting.text

    standin.succeed(payment["provider_payment_id"])  # paid; the notification is still on its way
    paid = await world.client.get(page)
    assert "<h1>Оплата принята</h1>" in paid.text, paid.text
    assert "500,00 ₽ поступили на лицевой счёт питания" in paid.text
    assert await _balance(world, guardian, ids["student"]) == (50_000, 0, 50_000)
    for personal in ("Соколова", "Анна", "mama@", "school"):
        assert personal not in paid.text

    for unknown in ("0" * 32, "not-a-top-up"):
        missing = await world.client.get(f"/payments/{unknown}")
        assert missing.status_code == 404
        assert "<h1>Пополнение не найдено</h1>" in missing.text


async def test_an_installation_may_send_payers_to_its_own_page(world: Backend) -> None:
    settings = world.settings.model_copy(
        update={"payment_return_url": "https://school.example/paid?top_up={id}"}
    )
    own = Payments(provider=None, settings=settings, allowed=())
    assert own.return_url("ab" * 16) == f"https://school.example/paid?top_up={'ab' * 16}"
    public = Payments(
        provider=None,
        settings=world.settings.model_copy(update={"public_url": "https://parta.example/"}),
        allowed=(),
    )
    assert public.return_url("ab" * 16) == f"https://parta.example/payments/{'ab' * 16}"
