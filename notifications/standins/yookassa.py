"""A stand-in for YooKassa's API v3 (payments, refunds, notifications) and its payment page.

It speaks YooKassa's JSON: `POST /v3/payments` (Basic auth with the shop id and secret key, an
`Idempotence-Key`: the same key and body answer the same payment, the same key with another
body is refused), `GET /v3/payments/{id}`, `GET /v3/payments?created_at.gte=&created_at.lt=`
(a list with `next_cursor`), `POST /v3/refunds`, `GET /v3/refunds/{id}`; errors as
`{"type": "error", "code", "description", "parameter"}`. A shop sending 54-FZ receipts must send
one with each payment and refund: the stand-in checks it like YooKassa (a contact, items whose
sum is the amount, vat_code, payment_mode, payment_subject).

The payment page (`confirmation_url`, `/checkout/{id}`) has two buttons: «Оплатить» makes the
payment `succeeded`, «Отказаться» makes it `canceled`; either way the stand-in sends the
notification `{"type": "notification", "event": "payment.succeeded", "object": {...}}` to
`notify_url` (the shop's setting at YooKassa) and sends the browser back to the return URL.
Tests may also call `succeed()` / `cancel()` and take the notification bodies from `sent`.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from notifications.standins.common import Received, free_port, on_a_free_port

SHOP_ID = "100500"
SECRET_KEY = "test_parta_stand_in_secret"  # a stand-in's made-up key
PAYMENT_MODES = {
    "full_prepayment",
    "partial_prepayment",
    "advance",
    "full_payment",
    "partial_payment",
    "credit",
    "credit_payment",
}
PAYMENT_SUBJECTS = {
    "commodity",
    "excise",
    "job",
    "service",
    "payment",
    "agent_commission",
    "another",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _kopecks(value: Any) -> int | None:
    try:
        amount = Decimal(str(value)) * 100
    except InvalidOperation:
        return None
    if amount != amount.to_integral_value() or amount <= 0:
        return None
    return int(amount)


def _value(kopecks: int) -> str:
    return f"{kopecks // 100}.{kopecks % 100:02d}"


class Refused(Exception):
    def __init__(self, description: str, parameter: str = "", status: int = 400) -> None:
        super().__init__(description)
        self.description, self.parameter, self.status = description, parameter, status


def _error(code: str, description: str, parameter: str = "", status: int = 400) -> web.Response:
    body = {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}
    if parameter:
        body["parameter"] = parameter
    return web.json_response(body, status=status)


class YooKassaStandIn:
    def __init__(
        self, shop_id: str = SHOP_ID, secret_key: str = SECRET_KEY, notify_url: str = ""
    ) -> None:
        self.port = free_port()
        self.shop_id, self.secret_key = shop_id, secret_key
        self.notify_url = notify_url
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []  # payment ids in creation order
        self.idempotence: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.sent: list[dict[str, Any]] = []  # notifications, in order
        self.received = Received()  # API requests, for the demo's page
        self.refund_status = "succeeded"  # what a new refund becomes at once
        self.unavailable = 0  # answer this many next API calls with 500
        self.stall = 0.0  # seconds each API call waits before it is answered (a stalled service)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def page_url(self, payment_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/checkout/{payment_id}"

    # ---- the API -------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    async def _guard(self, request: web.Request) -> web.Response | None:
        if not self._authorised(request):
            return _error("invalid_credentials", "Login or password is incorrect", status=401)
        if self.stall:
            await asyncio.sleep(self.stall)
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error("internal_server_error", "Internal server error", status=500)
        return None

    async def _idempotent(self, request: web.Request, kind: str, make: Any) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        key = request.headers.get("Idempotence-Key", "")
        if not key or len(key) > 64:
            return _error("invalid_request", "Idempotence key is missing", "Idempotence-Key")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error("invalid_request", "Request body is not valid JSON")
        fingerprint = json.dumps(body, sort_keys=True)
        seen = self.idempotence.get((kind, key))
        if seen is not None:
            if seen[0] != fingerprint:
                return _error("invalid_request", "Idempotence key duplicated", "Idempotence-Key")
            return web.json_response(seen[1])
        try:
            answer = make(body)
        except Refused as exc:
            return _error("invalid_request", exc.description, exc.parameter, exc.status)
        self.idempotence[(kind, key)] = (fingerprint, answer)
        self.received.add(call=f"POST /v3/{kind}", key=key, id=answer["id"], body=body)
        return web.json_response(answer)

    @staticmethod
    def _check_receipt(receipt: Any, amount: int) -> None:
        if not isinstance(receipt, dict):
            raise Refused("Receipt is missing or illegal", "receipt")
        customer = receipt.get("customer") or {}
        if not customer.get("email") and not customer.get("phone"):
            raise Refused("Customer contact is missing", "receipt.customer")
        items = receipt.get("items") or []
        if not items:
            raise Refused("Receipt items are missing", "receipt.items")
        total = 0
        for n, item in enumerate(items):
            where = f"receipt.items[{n}]"
            if not 0 < len(str(item.get("description", ""))) <= 128:
                raise Refused("Illegal description", f"{where}.description")
            price = _kopecks((item.get("amount") or {}).get("value"))
            quantity = Decimal(str(item.get("quantity", "0")))
            if price is None or quantity <= 0:
                raise Refused("Illegal amount or quantity", f"{where}.amount")
            if item.get("vat_code") not in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12):
                raise Refused("Illegal vat_code", f"{where}.vat_code")
            if item.get("payment_mode") not in PAYMENT_MODES:
                raise Refused("Illegal payment_mode", f"{where}.payment_mode")
            if item.get("payment_subject") not in PAYMENT_SUBJECTS:
                raise Refused("Illegal payment_subject", f"{where}.payment_subject")
            total += int(price * quantity)
        if total != amount:
            raise Refused("Sum of receipt items differs from the amount", "receipt.items")

    def _new_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        amount = body.get("amount") or {}
        kopecks = _kopecks(amount.get("value"))
        if kopecks is None:
            raise Refused("Illegal amount value", "amount.value")
        if amount.get("currency") != "RUB":
            raise Refused("Illegal currency", "amount.currency")
        method = (body.get("payment_method_data") or {}).get("type", "")
        if method not in ("bank_card", "sbp", ""):
            raise Refused("Illegal payment method", "payment_method_data.type")
        confirmation = body.get("confirmation") or {}
        if confirmation.get("type") != "redirect" or not confirmation.get("return_url"):
            raise Refused("Illegal confirmation", "confirmation")
        if len(str(body.get("description", ""))) > 128:
            raise Refused("Description is too long", "description")
        self._check_receipt(body.get("receipt"), kopecks)
        payment_id = f"{uuid.uuid4().hex[:8]}-000f-5000-8000-{uuid.uuid4().hex[:12]}"
        payment = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": {"value": _value(kopecks), "currency": "RUB"},
            "confirmation": {
                "type": "redirect",
                "return_url": confirmation["return_url"],
                "confirmation_url": self.page_url(payment_id),
            },
            "created_at": _now(),
            "description": body.get("description", ""),
            "metadata": body.get("metadata") or {},
            "payment_method": {"type": method or "bank_card", "id": payment_id, "saved": False},
            "recipient": {"account_id": self.shop_id, "gateway_id": "2" + self.shop_id},
            "refundable": False,
            "test": True,
        }
        self.payments[payment_id] = payment
        self.order.append(payment_id)
        return dict(payment)

    async def create_payment(self, request: web.Request) -> web.Response:
        return await self._idempotent(request, "payments", self._new_payment)

    async def get_payment(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        payment = self.payments.get(request.match_info["payment_id"])
        if payment is None:
            return _error("not_found", "Payment doesn't exist or access denied", status=404)
        self.received.add(call="GET /v3/payments/{id}", id=payment["id"])
        return web.json_response(payment)

    async def list_payments(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        query = request.query
        limit = min(int(query.get("limit", "10")), 100)
        start = int(query.get("cursor", "0") or 0)
        chosen = [
            self.payments[i]
            for i in self.order
            if query.get("created_at.gte", "") <= self.payments[i]["created_at"]
            and (
                "created_at.lt" not in query
                or self.payments[i]["created_at"] < query["created_at.lt"]
            )
            and query.get("status", self.payments[i]["status"]) == self.payments[i]["status"]
        ]
        page = chosen[start : start + limit]
        body: dict[str, Any] = {"type": "list", "items": page}
        if start + limit < len(chosen):
            body["next_cursor"] = str(start + limit)
        return web.json_response(body)

    def _new_refund(self, body: dict[str, Any]) -> dict[str, Any]:
        payment = self.payments.get(str(body.get("payment_id", "")))
        if payment is None:
            raise Refused("Payment doesn't exist", "payment_id")
        if payment["status"] != "succeeded":
            raise Refused("Payment is not succeeded", "payment_id")
        kopecks = _kopecks((body.get("amount") or {}).get("value"))
        if kopecks is None:
            raise Refused("Illegal amount value", "amount.value")
        paid = _kopecks(payment["amount"]["value"]) or 0
        refunded = _kopecks(payment["refunded_amount"]["value"]) or 0
        if kopecks > paid - refunded:
            raise Refused("Refund amount exceeds the amount available for refund", "amount")
        self._check_receipt(body.get("receipt"), kopecks)
        refund = {
            "id": f"{uuid.uuid4().hex[:8]}-0015-5000-8000-{uuid.uuid4().hex[:12]}",
            "payment_id": payment["id"],
            "status": self.refund_status,
            "created_at": _now(),
            "amount": {"value": _value(kopecks), "currency": "RUB"},
            "description": body.get("description", ""),
        }
        self.refunds[refund["id"]] = refund
        if refund["status"] == "succeeded":
            self._refunded(payment, kopecks)
        return dict(refund)

    @staticmethod
    def _refunded(payment: dict[str, Any], kopecks: int) -> None:
        total = (_kopecks(payment["refunded_amount"]["value"]) or 0) + kopecks
        payment["refunded_amount"] = {"value": _value(total), "currency": "RUB"}
        paid = _kopecks(payment["amount"]["value"]) or 0
        payment["refundable"] = total < paid

    async def create_refund(self, request: web.Request) -> web.Response:
        return await self._idempotent(request, "refunds", self._new_refund)

    async def get_refund(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        refund = self.refunds.get(request.match_info["refund_id"])
        if refund is None:
            return _error("not_found", "Refund doesn't exist or access denied", status=404)
        return web.json_response(refund)

    # ---- what the family and the bank do -------------------------------------------------

    def succeed(self, payment_id: str) -> dict[str, Any]:
        """The family paid: the payment succeeds; returns the notification."""
        payment = self.payments[payment_id]
        if payment["status"] == "pending":
            paid = _kopecks(payment["amount"]["value"]) or 0
            payment.pop("confirmation", None)
            payment.update(
                status="succeeded",
                paid=True,
                captured_at=_now(),
                income_amount={"value": _value(paid - paid * 35 // 1000), "currency": "RUB"},
                refunded_amount={"value": "0.00", "currency": "RUB"},
                refundable=True,
            )
        return self._notification("payment.succeeded", payment)

    def cancel(self, payment_id: str, reason: str = "expired_on_confirmation") -> dict[str, Any]:
        payment = self.payments[payment_id]
        if payment["status"] == "pending":
            payment.pop("confirmation", None)
            payment.update(
                status="canceled",
                cancellation_details={"party": "yoo_money", "reason": reason},
            )
        return self._notification("payment.canceled", payment)

    def finish_refund(self, refund_id: str, status: str = "succeeded") -> dict[str, Any]:
        refund = self.refunds[refund_id]
        if refund["status"] == "pending":
            refund["status"] = status
            if status == "succeeded":
                kopecks = _kopecks(refund["amount"]["value"]) or 0
                self._refunded(self.payments[refund["payment_id"]], kopecks)
        return self._notification(f"refund.{status}", refund)

    def _notification(self, event: str, obj: dict[str, Any]) -> dict[str, Any]:
        body = {"type": "notification", "event": event, "object": json.loads(json.dumps(obj))}
        self.sent.append(body)
        return body

    async def deliver(self, body: dict[str, Any]) -> int | None:
        """Post a notification to the shop's URL, as YooKassa does (None: no URL set)."""
        if not self.notify_url:
            return None
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.notify_url, json=body, timeout=aiohttp.ClientTimeout(10)) as answer,
        ):
            self.received.add(call="notification", event=body["event"], status=answer.status)
            return answer.status

    async def checkout_page(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["payment_id"])
        if payment is None:
            return web.Response(status=404, text="Платёж не найден")
        amount = payment["amount"]["value"].replace(".", ",")
        method = "СБП" if payment["payment_method"]["type"] == "sbp" else "банковской картой"
        state = {"pending": "ожидает оплаты", "succeeded": "оплачен", "canceled": "отменён"}
        text = (
            '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
            "<title>ЮKassa (учебная замена)</title></head><body>"
            "<h1>ЮKassa — учебная замена</h1>"
            f"<p>{html.escape(payment['description'])}</p>"
            f"<p>Сумма: <b>{amount} ₽</b>, оплата {method}. "
            f"Платёж {state.get(payment['status'], payment['status'])}.</p>"
        )
        if payment["status"] == "pending":
            text += (
                f'<form method="post" action="/checkout/{payment["id"]}">'
                '<button name="action" value="pay">Оплатить</button> '
                '<button name="action" value="cancel">Отказаться</button></form>'
            )
        return web.Response(text=text + "</body></html>", content_type="text/html")

    async def checkout(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["payment_id"])
        if payment is None:
            return web.Response(status=404, text="Платёж не найден")
        return_url = payment.get("confirmation", {}).get("return_url", "")
        form = await request.post()
        if form.get("action") == "pay":
            body = self.succeed(payment["id"])
        else:
            body = self.cancel(payment["id"], "canceled_by_merchant")
        try:
            await self.deliver(body)
        except (aiohttp.ClientError, TimeoutError) as exc:  # YooKassa would retry; so may we
            self.received.reject(call="notification", error=repr(exc))
        if return_url:
            raise web.HTTPFound(return_url)
        return web.Response(text="Готово", content_type="text/plain")

    # ---- running -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/payments", self.create_payment)
        app.router.add_get("/v3/payments", self.list_payments)
        app.router.add_get("/v3/payments/{payment_id}", self.get_payment)
        app.router.add_post("/v3/refunds", self.create_refund)
        app.router.add_get("/v3/refunds/{refund_id}", self.get_refund)
        app.router.add_get("/checkout/{payment_id}", self.checkout_page)
        app.router.add_post("/checkout/{payment_id}", self.checkout)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        runner = self._runner
        await on_a_free_port(self, lambda: web.TCPSite(runner, "127.0.0.1", self.port).start())

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
