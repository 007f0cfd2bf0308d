"""HTTP endpoints of families' payments by card or SBP (/api/v1/meals): top-ups, YooKassa's
notifications, refunds and the day's reconciliation."""

from __future__ import annotations

import html
from datetime import date
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import Body, FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.core.bounds import PathId
from backend.core.errors import NotFound
from backend.core.http import PUBLIC, ActorDep, client_ip, requires
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import payments as pay
from backend.meals import schemas as s
from backend.meals.ledger import rub

P = Permission
FAMILY = requires(P.MEALS_ORDER)
READERS = requires(P.MEALS_ORDER, P.MEALS_ACCOUNTS)
BOOKKEEPERS = requires(P.MEALS_ACCOUNTS)

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
Day = Annotated[date, QueryParameter(name="date")]
PaymentsDep = NamedDependency[pay.Payments]


async def provide_payments(request: Request[Any, Any, Any]) -> pay.Payments:
    payments: pay.Payments = request.app.state.payments
    return payments


class PaymentsController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: оплата картой и СБП"]
    dependencies = {"payments": Provide(provide_payments)}

    @post(
        "/pupils/{student_id:int}/top-ups",
        guards=[FAMILY],
        status_code=HTTP_201_CREATED,
        summary="Пополнить лицевой счёт картой или через СБП",
        description=(
            "Создаёт платёж ЮKassa и возвращает `confirmation_url` — страницу оплаты. Деньги "
            "зачисляются, когда ЮKassa сообщит об оплате (статус платежа проверяется в ЮKassa). "
            "Чек 54-ФЗ уходит на `receipt_email` или `receipt_phone`. Повтор с тем же "
            "`idempotency_key` возвращает тот же платёж."
        ),
    )
    async def top_up(
        self,
        actor: ActorDep,
        payments: PaymentsDep,
        student_id: PathId,
        data: Annotated[s.TopUpCreate, Body()],
    ) -> s.PaymentOut:
        return await pay.start_top_up(actor, payments, student_id, data)

    @get(
        "/pupils/{student_id:int}/payments",
        guards=[READERS],
        summary="Пополнения картой и через СБП",
    )
    async def list_payments(
        self, actor: ActorDep, student_id: PathId, limit: Limit = 50, offset: Offset = 0
    ) -> list[s.PaymentOut]:
        return await pay.list_payments(actor, student_id, limit=limit, offset=offset)

    @get(
        "/payments/{payment_id:int}",
        guards=[READERS],
        summary="Состояние пополнения (уточняется в ЮKassa, пока платёж не завершён)",
    )
    async def payment(
        self, actor: ActorDep, payments: PaymentsDep, payment_id: PathId
    ) -> s.PaymentOut:
        return await pay.get_payment(actor, payments, payment_id)

    @post(
        "/payments/yookassa/notifications",
        opt=PUBLIC,
        status_code=HTTP_200_OK,
        summary="Уведомление ЮKassa о платеже или возврате",
        description=(
            "Принимается только с адресов ЮKassa (за своим прокси — по X-Forwarded-For, если "
            "прокси указан в PARTA_TRUSTED_PROXIES). Платёж перечитывается из ЮKassa по id; "
            "зачисление — не более одного раза на платёж."
        ),
    )
    async def notification(
        self,
        request: Request[Any, Any, Any],
        payments: PaymentsDep,
        data: Annotated[s.ProviderNotification, Body()],
    ) -> s.NotificationAccepted:
        return await pay.notification(payments, client_ip(request), data)

    @post(
        "/payments/{payment_id:int}/refunds",
        guards=[BOOKKEEPERS],
        status_code=HTTP_201_CREATED,
        summary="Возврат неизрасходованных средств на карту (полный или частичный)",
    )
    async def refund(
        self,
        actor: ActorDep,
        payments: PaymentsDep,
        payment_id: PathId,
        data: Annotated[s.PaymentRefundCreate, Body()],
    ) -> s.PaymentRefundOut:
        return await pay.refund_payment(actor, payments, payment_id, data)

    @get(
        "/payments/{payment_id:int}/refunds",
        guards=[READERS],
        summary="Возвраты по пополнению",
    )
    async def refunds(self, actor: ActorDep, payment_id: PathId) -> list[s.PaymentRefundOut]:
        return await pay.list_refunds(actor, payment_id)

    @get(
        "/schools/{school_id:int}/payments/reconciliation",
        guards=[BOOKKEEPERS],
        summary="Сверка платежей ЮKassa за день с книгой проводок",
    )
    async def reconciliation(
        self, actor: ActorDep, payments: PaymentsDep, school_id: PathId, day: Day
    ) -> s.ReconciliationOut:
        return await pay.reconcile(actor, payments, school_id, day)


_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:34rem;padding:0 1rem;"
    "color:#222;line-height:1.5}h1{font-size:1.5rem}.note{color:#555}"
)


def _return_page(payment: s.PaymentReturn | None) -> Response[str]:
    """The payer's page after the provider's: Russian, no script, the top-up's state only."""
    if payment is None:
        state, status_code, fields = "unknown", 404, {}
    else:
        state = {"succeeded": "succeeded", "canceled": "canceled"}.get(payment.status, "pending")
        status_code = 200
        paid = payment.paid_amount if payment.status == "succeeded" else payment.amount
        fields = {"amount": rub(paid), "number": payment.number}
    title = t(f"meals.payment.page.{state}.title")
    paragraphs = [t(f"meals.payment.page.{state}.text", **fields)]
    if payment is not None:
        paragraphs.append(t("meals.payment.page.number", **fields))
    paragraphs.append(t("meals.payment.page.back"))
    body = "".join(
        f"<p{' class=note' if i else ''}>{html.escape(p)}</p>" for i, p in enumerate(paragraphs)
    )
    doc = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} — Парта</title><style>{_PAGE_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(
        content=doc,
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


class PaymentReturnController(Controller):
    """The page the payment provider sends the payer back to (decision 0723)."""

    path = pay.RETURN_PATH
    dependencies = {"payments": Provide(provide_payments)}
    include_in_schema = False

    @get("/{public_id:str}", opt=PUBLIC, media_type=MediaType.HTML)
    async def returned(self, payments: PaymentsDep, public_id: FromPath[str]) -> Response[str]:
        try:
            return _return_page(await pay.returned_payment(payments, public_id))
        except NotFound:
            return _return_page(None)
