"""YooKassa (ЮKassa): a thin async client of its HTTP API v3 (decision 0805).

Four calls are all the meals context needs: create a payment (`POST /v3/payments`, with an
`Idempotence-Key` and the 54-FZ receipt), read one (`GET /v3/payments/{id}`), list a day's
(`GET /v3/payments?created_at.gte=..`), and refund (`POST /v3/refunds`, `GET /v3/refunds/{id}`).
Basic auth with the shop id and secret key, JSON in and out, amounts as strings of roubles
("123.45"), converted here to integer kopecks and back. The official SDK was not taken: it is
synchronous (`requests`) and keeps its shop in class attributes (one shop per process).

Failures are two kinds: `ProviderRefused` (YooKassa answered 4xx: the request itself is wrong,
repeating it will not help) and `ProviderUnavailable` (no answer, 5xx, 429 or 202 "still
processing": repeat later with the same idempotence key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

import httpx

from backend.settings import Settings

NAME = "yookassa"
DEFAULT_API_URL = "https://api.yookassa.ru/v3"
PAGE_SIZE = 100  # the API's maximum
MAX_PAGES = 1000  # a day of one shop: 100,000 payments; more means something is wrong


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str = "", parameter: str = "") -> None:
        super().__init__(message)
        self.code, self.parameter = code, parameter


class ProviderRefused(ProviderError):
    """YooKassa refused the request (4xx): the same request will be refused again."""


class ProviderUnavailable(ProviderError):
    """No definite answer (network, 5xx, 429, 202): repeat later with the same key."""


def to_value(kopecks: int) -> str:
    return f"{kopecks // 100}.{kopecks % 100:02d}"


def to_kopecks(value: str) -> int:
    """ "123.45" -> 12345, exactly; anything that is not whole kopecks is an error."""
    try:
        amount = Decimal(value) * 100
    except (InvalidOperation, TypeError) as exc:
        raise ProviderError(f"bad amount {value!r}") from exc
    if amount != amount.to_integral_value() or amount < 0:
        raise ProviderError(f"bad amount {value!r}")
    return int(amount)


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A payment as YooKassa reports it (the only truth we act on)."""

    id: str
    status: str  # pending | waiting_for_capture | succeeded | canceled
    amount: int  # kopecks
    currency: str
    paid: bool
    refunded: int  # kopecks
    confirmation_url: str
    metadata: dict[str, str]
    created_at: str
    cancellation_reason: str = ""
    method: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    id: str
    payment_id: str
    status: str  # pending | succeeded | canceled
    amount: int
    currency: str


def _payment(body: dict[str, Any]) -> ProviderPayment:
    try:
        amount = body["amount"]
        refunded = body.get("refunded_amount") or {"value": "0.00"}
        return ProviderPayment(
            id=str(body["id"]),
            status=str(body["status"]),
            amount=to_kopecks(amount["value"]),
            currency=str(amount["currency"]),
            paid=bool(body.get("paid", False)),
            refunded=to_kopecks(refunded["value"]),
            confirmation_url=str((body.get("confirmation") or {}).get("confirmation_url", "")),
            metadata={str(k): str(v) for k, v in (body.get("metadata") or {}).items()},
            created_at=str(body.get("created_at", "")),
            cancellation_reason=str((body.get("cancellation_details") or {}).get("reason", "")),
            method=str((body.get("payment_method") or {}).get("type", "")),
            raw=body,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProviderError(f"unexpected payment object: {exc!r}") from exc


def _refund(body: dict[str, Any]) -> ProviderRefund:
    try:
        return ProviderRefund(
            id=str(body["id"]),
            payment_id=str(body["payment_id"]),
            status=str(body["status"]),
            amount=to_kopecks(body["amount"]["value"]),
            currency=str(body["amount"]["currency"]),
        )
    except (KeyError, TypeError) as exc:
        raise ProviderError(f"unexpected refund object: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One line of the 54-FZ receipt YooKassa's online cash register prints."""

    description: str  # up to 128 characters
    amount: int  # kopecks, for the whole line
    vat_code: int  # 1: без НДС, 2: 0 %, 3: 10 %, 4: 20 %, ...
    payment_mode: str  # full_prepayment | advance | full_payment | ...
    payment_subject: str  # payment | service | commodity | ...
    quantity: str = "1.00"

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.description[:128],
            "quantity": self.quantity,
            "amount": {"value": to_value(self.amount), "currency": "RUB"},
            "vat_code": self.vat_code,
            "payment_mode": self.payment_mode,
            "payment_subject": self.payment_subject,
        }


@dataclass(frozen=True, slots=True)
class Receipt:
    email: str
    phone: str  # digits with the country code: 79001234567
    lines: tuple[ReceiptLine, ...]
    tax_system_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        customer = {k: v for k, v in (("email", self.email), ("phone", self.phone)) if v}
        out: dict[str, Any] = {"customer": customer, "items": [i.as_json() for i in self.lines]}
        if self.tax_system_code is not None:
            out["tax_system_code"] = self.tax_system_code
        return out


class YooKassa:
    """The client. Each call opens its own connection (payments are few; this keeps the
    client free of any event loop, so the API, the worker and tests share one object)."""

    name = NAME

    def __init__(
        self, shop_id: str, secret_key: str, api_url: str = DEFAULT_API_URL, timeout: float = 15
    ) -> None:
        self.shop_id = shop_id
        self._auth = httpx.BasicAuth(shop_id, secret_key)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    async def _call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        params: Any = None,
    ) -> dict[str, Any]:
        headers = {"Idempotence-Key": key} if key else {}
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=self.timeout) as client:
                response = await client.request(
                    method, self.api_url + path, json=body, params=params, headers=headers
                )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{method} {path}: {exc!r}") from exc
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200:
            return data
        text = str(data.get("description") or response.text[:300])
        code, parameter = str(data.get("code", "")), str(data.get("parameter", ""))
        if response.status_code in (202, 429) or response.status_code >= 500:
            raise ProviderUnavailable(text, code=code, parameter=parameter)
        raise ProviderRefused(text, code=code, parameter=parameter)

    async def create_payment(
        self,
        *,
        key: str,
        amount: int,
        method: str,
        description: str,
        return_url: str,
        receipt: Receipt,
        metadata: dict[str, str],
    ) -> ProviderPayment:
        body = {
            "amount": {"value": to_value(amount), "currency": "RUB"},
            "payment_method_data": {"type": method},
            "confirmation": {"type": "redirect", "return_url": return_url},
            "capture": True,
            "description": description[:128],
            "metadata": metadata,
            "receipt": receipt.as_json(),
        }
        return _payment(await self._call("POST", "/payments", key=key, body=body))

    async def get_payment(self, payment_id: str) -> ProviderPayment:
        return _payment(await self._call("GET", f"/payments/{payment_id}"))

    async def payments_created(self, start: datetime, end: datetime) -> list[ProviderPayment]:
        """Every payment created in [start, end), following the list's cursor."""
        found: list[ProviderPayment] = []
        params: dict[str, Any] = {
            "created_at.gte": start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "created_at.lt": end.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "limit": PAGE_SIZE,
        }
        for _ in range(MAX_PAGES):
            page = await self._call("GET", "/payments", params=params)
            found.extend(_payment(item) for item in page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                return found
            params["cursor"] = cursor
        raise ProviderUnavailable("too many pages")

    async def create_refund(
        self, *, key: str, payment_id: str, amount: int, description: str, receipt: Receipt
    ) -> ProviderRefund:
        body = {
            "payment_id": payment_id,
            "amount": {"value": to_value(amount), "currency": "RUB"},
            "description": description[:250],
            "receipt": receipt.as_json(),
        }
        return _refund(await self._call("POST", "/refunds", key=key, body=body))

    async def get_refund(self, refund_id: str) -> ProviderRefund:
        return _refund(await self._call("GET", f"/refunds/{refund_id}"))


def from_settings(settings: Settings) -> YooKassa | None:
    """The shop of these settings (`PARTA_YOOKASSA_SHOP_ID`, `PARTA_YOOKASSA_SECRET_KEY`, from
    the environment only), or None when payments by card are not set up."""
    secret = settings.yookassa_secret_key.get_secret_value()
    if not settings.yookassa_shop_id or not secret:
        return None
    return YooKassa(settings.yookassa_shop_id, secret, settings.yookassa_api_url)


Network = IPv4Network | IPv6Network


def networks(entries: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ip_network(e, strict=False) for e in entries)


def sent_by_provider(address: str, allowed: tuple[Network, ...]) -> bool:
    try:
        ip = ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in allowed)
