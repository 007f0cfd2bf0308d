# Over 600 lines: one payment's whole life (top-up, notice, re-fetch, refund, check) shares checks.
"""Families' top-ups by card or SBP through a payment provider (YooKassa), its notifications,
refunds, and the day's reconciliation of the provider's payments with the ledger.

The rules (decision 0805): a top-up is a `MealPayment` row named by a fresh `public_id`, which
is also the provider's idempotence key, so a repeated request never makes a second payment. A
notification only says "look at payment X": it is accepted only from the provider's published
addresses, and the payment is then read back from the provider by id; only the provider's
status and amount count. The credit is a ledger transfer whose idempotency key is the
provider's payment id: at most once, whatever arrives how often in whatever order. A refund is
held in the ledger first (never more than the payment, never money spent or held), then asked
of the provider; its answer posts or voids the hold.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from backend.accounts.identifiers import normalize_email, normalize_phone
from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from backend.core.rights import Permission
from backend.i18n import t
from backend.meals import accounts, ledger, yookassa
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, Status, TransferKind
from backend.meals.tables import LedgerTransfer, MealPayment, MealPaymentRefund
from backend.meals.yookassa import (
    Network,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderUnavailable,
    Receipt,
    ReceiptLine,
    sent_by_provider,
)
from backend.schools.structure import services as structure
from backend.settings import Settings

P = Permission
log = structlog.get_logger("parta.meals.payments")

# Where YooKassa posts its notifications (set in the shop's settings at YooKassa).
NOTIFICATIONS_PATH = "/api/v1/meals/payments/yookassa/notifications"
# Where the payment page sends the payer back (a public page named by the top-up's public id).
RETURN_PATH = "/payments"
SUCCEEDED, CANCELED, CREATED = "succeeded", "canceled", "created"
FINAL = frozenset({SUCCEEDED, CANCELED})


class PaymentProvider(Protocol):
    """What the meals context needs of a payment provider (YooKassa's client is one)."""

    name: str

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
    ) -> ProviderPayment: ...

    async def get_payment(self, payment_id: str) -> ProviderPayment: ...

    async def payments_created(self, start: datetime, end: datetime) -> list[ProviderPayment]: ...

    async def create_refund(
        self, *, key: str, payment_id: str, amount: int, description: str, receipt: Receipt
    ) -> ProviderRefund: ...

    async def get_refund(self, refund_id: str) -> ProviderRefund: ...


class PaymentsUnavailable(DomainError):
    status_code = 503
    code = "payments_unavailable"
    message_key = "meals.payment.unavailable"


class Payments:
    """The provider and the settings that go with it (built once by the composition root).
    A plain class: Litestar passes it to handlers as is (it would inspect a dataclass)."""

    def __init__(
        self, provider: PaymentProvider | None, settings: Settings, allowed: tuple[Network, ...]
    ) -> None:
        self.provider, self.settings, self.allowed = provider, settings, allowed

    @classmethod
    def from_settings(cls, settings: Settings) -> Payments:
        """YooKassa when the shop is set up (`PARTA_YOOKASSA_*`), else no provider."""
        return cls(
            provider=yookassa.from_settings(settings),
            settings=settings,
            allowed=yookassa.networks(settings.yookassa_notification_networks),
        )

    def require(self) -> PaymentProvider:
        """The provider; an installation without a shop answers 409 (a state of the
        installation, not a passing outage: repeating will not help)."""
        if self.provider is None:
            raise Conflict(key="meals.payment.not_configured")
        return self.provider

    def receipt(self, email: str, phone: str, description: str, amount: int) -> Receipt:
        line = ReceiptLine(
            description=description,
            amount=amount,
            vat_code=self.settings.receipt_vat_code,
            payment_mode=self.settings.receipt_payment_mode,
            payment_subject=self.settings.receipt_payment_subject,
        )
        return Receipt(
            email=email,
            phone=phone.lstrip("+"),
            lines=(line,),
            tax_system_code=self.settings.receipt_tax_system_code,
        )

    def return_url(self, public_id: str) -> str:
        """Where the provider's page sends the payer back: our own page of this top-up
        (`RETURN_PATH`, decision 0723), or the installation's own address when it set one
        (`{id}` in it becomes the top-up's public id)."""
        if self.settings.payment_return_url:
            return self.settings.payment_return_url.replace("{id}", public_id)
        base = self.settings.public_url.rstrip("/") or (
            f"http://{self.settings.host}:{self.settings.port}"
        )
        return f"{base}{RETURN_PATH}/{public_id}"


def _now() -> datetime:
    return datetime.now(UTC)


def _payment_out(row: dict[str, Any]) -> s.PaymentOut:
    return s.PaymentOut(
        id=row["id"],
        student_id=row["student"],
        school_id=row["school"],
        amount=row["amount"],
        method=row["method"],
        provider=row["provider"],
        provider_payment_id=row["provider_payment_id"],
        status=row["status"],
        status_name=t(f"meals.payment.status.{row['status']}"),
        paid_amount=row["paid_amount"],
        confirmation_url=row["confirmation_url"] if row["status"] not in FINAL else "",
        transfer_id=row["transfer_id"],
        created_at=row["created_at"],
    )


async def _row(payment_id: int) -> dict[str, Any]:
    row = await MealPayment.select().where(MealPayment.id == payment_id).first()
    if row is None:
        raise NotFound()
    return row


def _receipt_contact(data: s.TopUpCreate) -> tuple[str, str]:
    """54-FZ: the receipt goes to an e-mail or a phone; one of them is required."""
    email = normalize_email(data.receipt_email) if data.receipt_email else ""
    phone = normalize_phone(data.receipt_phone) if data.receipt_phone else ""
    if not email and not phone:
        raise ValidationFailed(
            key="meals.payment.receipt_contact", details={"field": "receipt_email"}
        )
    return email, phone


# ---- top-ups ---------------------------------------------------------------------------------


async def start_top_up(
    actor: Actor, payments: Payments, student_id: int, data: s.TopUpCreate
) -> s.PaymentOut:
    """Create the provider's payment and hand back its confirmation page. A repeat with the
    same idempotency key returns the same payment (and finishes creating it if the provider
    did not answer the first time)."""
    target = await accounts.student_scope(actor, student_id, P.MEALS_ORDER)
    assert target.school_id is not None
    email, phone = _receipt_contact(data)
    provider = payments.require()
    pupil = await accounts.open_pupil_account(student_id, target.school_id)
    request_key = f"{student_id}:{data.idempotency_key}"
    row = await MealPayment.select().where(MealPayment.request_key == request_key).first()
    if row is None:
        now = _now()
        values: dict[str, Any] = {
            "public_id": uuid.uuid4().hex,
            "request_key": request_key,
            "school": target.school_id,
            "student": student_id,
            "amount": data.amount,
            "method": data.method,
            "provider": provider.name,
            "status": CREATED,
            "receipt_email": email,
            "receipt_phone": phone,
            "created_by": actor.user_id,
            "created_at": now,
            "updated_at": now,
        }
        async with transaction():
            await MealPayment.insert(MealPayment(**values)).on_conflict(action="DO NOTHING")
            row = await MealPayment.select().where(MealPayment.request_key == request_key).first()
            assert row is not None
            await record(
                actor,
                "meals.payment.create",
                object_type="meal_payment",
                object_id=row["id"],
                school_id=target.school_id,
                student_id=student_id,
                details={"amount": data.amount, "method": data.method},
            )
    if (row["amount"], row["method"]) != (data.amount, data.method):
        raise Conflict(key="meals.idempotency_mismatch")
    if row["provider_payment_id"] is not None:
        return _payment_out(row)
    description = t("meals.payment.description", account=pupil["id"])
    try:
        created = await provider.create_payment(
            key=f"top-up-{row['public_id']}",
            amount=row["amount"],
            method=row["method"],
            description=description,
            return_url=payments.return_url(row["public_id"]),
            receipt=payments.receipt(email, phone, description, row["amount"]),
            # Nothing personal goes to the provider: our own numbers only.
            metadata={"top_up": row["public_id"], "school_id": str(row["school"])},
        )
    except ProviderUnavailable as exc:
        log.warning("payment_create_unanswered", payment=row["id"], error=str(exc))
        raise PaymentsUnavailable() from None
    except ProviderRefused as exc:
        log.warning("payment_create_refused", payment=row["id"], error=str(exc))
        await _set(row["id"], status=CANCELED, cancellation_reason=exc.code[:64] or "refused")
        raise Conflict(key="meals.payment.refused", reason=str(exc)) from None
    await _set(
        row["id"],
        provider_payment_id=created.id,
        status=created.status,
        confirmation_url=created.confirmation_url[:1000],
    )
    return _payment_out(await _row(row["id"]))


async def _set(payment_id: int, **values: Any) -> None:
    columns = {getattr(MealPayment, k): v for k, v in values.items()}
    columns[MealPayment.updated_at] = _now()
    await MealPayment.update(columns).where(MealPayment.id == payment_id)


async def _readable(actor: Actor, row: dict[str, Any]) -> None:
    """The family of the pupil, or the school's bookkeepers; others: 404."""
    await accounts.student_scope(actor, row["student"], P.MEALS_ORDER, P.MEALS_ACCOUNTS)


async def get_payment(actor: Actor, payments: Payments, payment_id: int) -> s.PaymentOut:
    """A top-up as the family sees it. While the provider has not said its last word, ask it
    (the family comes back from the payment page before, or without, the notification)."""
    row = await _row(payment_id)
    await _readable(actor, row)
    if row["status"] not in FINAL and row["provider_payment_id"] and payments.provider:
        # No answer: the notification or the next look will tell.
        with contextlib.suppress(ProviderUnavailable):
            await sync_payment(payments.provider, row["provider_payment_id"])
        row = await _row(payment_id)
    return _payment_out(row)


async def returned_payment(payments: Payments, public_id: str) -> s.PaymentReturn:
    """The top-up as its payer sees it on coming back from the provider's page: named by its
    unguessable public id (the one thing the payer's browser carries), no sign-in, nothing
    about the pupil or the family. Asks the provider while its word is not final."""
    if len(public_id) != 32 or not all(c in "0123456789abcdef" for c in public_id):
        raise NotFound()
    row = await MealPayment.select().where(MealPayment.public_id == public_id).first()
    if row is None:
        raise NotFound()
    if row["status"] not in FINAL and row["provider_payment_id"] and payments.provider:
        # No answer: the notification or the next look will tell.
        with contextlib.suppress(ProviderUnavailable):
            await sync_payment(payments.provider, row["provider_payment_id"])
        row = await _row(row["id"])
    return s.PaymentReturn(
        number=row["id"],
        status=row["status"],
        amount=row["amount"],
        paid_amount=row["paid_amount"],
    )


async def list_payments(
    actor: Actor, student_id: int, *, limit: int, offset: int
) -> list[s.PaymentOut]:
    await accounts.student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_ACCOUNTS)
    rows = (
        await MealPayment.select()
        .where(MealPayment.student == student_id)
        .order_by(MealPayment.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    return [_payment_out(r) for r in rows]


# ---- what the provider says ------------------------------------------------------------------


async def sync_payment(provider: PaymentProvider, provider_payment_id: str) -> str:
    """Read the payment from the provider and act on that alone: credit a success (once),
    record a cancellation, ignore the rest. Returns what was done."""
    row = (
        await MealPayment.select()
        .where(MealPayment.provider_payment_id == provider_payment_id)
        .first()
    )
    if row is None:
        return "unknown"
    fetched = await provider.get_payment(provider_payment_id)
    if fetched.id != provider_payment_id or fetched.metadata.get("top_up") != row["public_id"]:
        log.error("payment_mismatch", payment=row["id"], provider_id=provider_payment_id)
        return "mismatch"
    if fetched.status == SUCCEEDED:
        if fetched.currency != "RUB" or fetched.amount <= 0:
            log.error("payment_currency", payment=row["id"], currency=fetched.currency)
            return "mismatch"
        await _credit(row, fetched)
        return "credited"
    if row["status"] == SUCCEEDED:  # a final success is never undone by a later word
        return "nothing"
    if fetched.status != row["status"]:
        await _set(
            row["id"], status=fetched.status, cancellation_reason=fetched.cancellation_reason
        )
    return "canceled" if fetched.status == CANCELED else "nothing"


async def sync_pending(
    provider: PaymentProvider,
    *,
    now: datetime | None = None,
    older_than: timedelta = timedelta(minutes=10),
    within: timedelta = timedelta(days=3),
    limit: int = 200,
) -> int:
    """Ask the provider about top-ups it has not told us the end of (a notification lost on
    the way, a family that never came back from the payment page): the worker's sweep. Returns
    how many changed (credited or cancelled). Stops at the first unanswered call."""
    now = now or _now()
    rows = (
        await MealPayment.select(MealPayment.provider_payment_id)
        .where(
            MealPayment.status.is_in(["pending", "waiting_for_capture"])
            & MealPayment.provider_payment_id.is_not_null()
            & (MealPayment.created_at <= now - older_than)
            & (MealPayment.created_at >= now - within)
        )
        .order_by(MealPayment.id)
        .limit(limit)
    )
    changed = 0
    for row in rows:
        try:
            outcome = await sync_payment(provider, row["provider_payment_id"])
        except ProviderUnavailable:
            break
        except ProviderError as exc:
            log.error(
                "payment_sweep_failed", provider_id=row["provider_payment_id"], error=str(exc)
            )
            continue
        changed += outcome in ("credited", "canceled")
    return changed


async def _credit(row: dict[str, Any], fetched: ProviderPayment) -> None:
    """The provider's amount to the pupil's account, once per provider payment id."""
    system = Actor.system()
    pupil = await accounts.open_pupil_account(row["student"], row["school"])
    clearing = await ledger.book_account(AccountKind.PROVIDER_CLEARING, row["school"])
    async with transaction():
        transfer = await ledger.transfer(
            system,
            debit=clearing,
            credit=pupil["ledger_account"],
            amount=fetched.amount,
            kind=TransferKind.TOP_UP,
            key=f"{row['provider']}:{fetched.id}",
            school_id=row["school"],
            reference=f"payment:{row['id']}",
        )
        await _set(
            row["id"],
            status=SUCCEEDED,
            paid_amount=fetched.amount,
            transfer_id=transfer["id"],
        )
    if fetched.amount != row["amount"]:
        log.warning("payment_amount_differs", payment=row["id"], paid=fetched.amount)


async def notification(
    payments: Payments, sender: str, body: s.ProviderNotification
) -> s.NotificationAccepted:
    """YooKassa's HTTP notification: accepted from its addresses only; the object it names is
    read back from YooKassa. Unknown objects are acknowledged and ignored."""
    if not sent_by_provider(sender, payments.allowed):
        log.warning("payment_notification_refused", sender=sender, kind=body.event)
        raise Forbidden(key="meals.payment.notification_sender")
    provider = payments.require()
    object_id = str(body.object.get("id", ""))
    if body.type != "notification" or not object_id or len(object_id) > 64:
        raise ValidationFailed(key="meals.payment.notification_invalid")
    try:
        if body.event.startswith("payment."):
            outcome = await sync_payment(provider, object_id)
        elif body.event.startswith("refund."):
            outcome = await sync_refund(provider, object_id)
        else:
            outcome = "ignored"
    except ProviderUnavailable:
        # Not 200: YooKassa repeats the notification, and we look again then.
        raise PaymentsUnavailable() from None
    except ProviderError as exc:
        log.error("payment_notification_failed", kind=body.event, error=str(exc))
        raise PaymentsUnavailable() from None
    log.info("payment_notification", kind=body.event, object=object_id, outcome=outcome)
    return s.NotificationAccepted(outcome=outcome)


# ---- refunds ---------------------------------------------------------------------------------


def _refund_out(row: dict[str, Any]) -> s.PaymentRefundOut:
    return s.PaymentRefundOut(
        id=row["id"],
        payment_id=row["payment"],
        amount=row["amount"],
        status=row["status"],
        status_name=t(f"meals.payment.refund_status.{row['status']}"),
        hold_id=row["hold_id"],
        provider_refund_id=row["provider_refund_id"],
        reason=row["reason"],
        created_at=row["created_at"],
    )


async def refund_payment(
    actor: Actor, payments: Payments, payment_id: int, data: s.PaymentRefundCreate
) -> s.PaymentRefundOut:
    """Give back (part of) a card payment's unspent money to the card. The ledger holds the
    money first (never more than the payment, never what is spent or held); the provider's
    answer posts or voids the hold. A repeat with the same key finishes the same refund."""
    payment = await _row(payment_id)
    await accounts.school_scope(actor, payment["school"], P.MEALS_ACCOUNTS)
    if payment["status"] != SUCCEEDED or payment["transfer_id"] is None:
        raise Conflict(key="meals.payment.not_refundable")
    provider = payments.require()
    request_key = f"{payment_id}:{data.idempotency_key}"
    row = (
        await MealPaymentRefund.select().where(MealPaymentRefund.request_key == request_key).first()
    )
    if row is None:
        async with transaction():
            hold = await ledger.refund(
                actor,
                payment["transfer_id"],
                data.amount,
                key=f"card-refund:{request_key}",
                reason=data.reason,
                pending=True,
            )
            now = _now()
            await MealPaymentRefund.insert(
                MealPaymentRefund(
                    public_id=uuid.uuid4().hex,
                    request_key=request_key,
                    payment=payment_id,
                    school=payment["school"],
                    amount=data.amount,
                    status="pending",
                    hold_id=hold["id"],
                    reason=data.reason,
                    created_by=actor.user_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            row = (
                await MealPaymentRefund.select()
                .where(MealPaymentRefund.request_key == request_key)
                .first()
            )
            assert row is not None
    elif row["amount"] != data.amount:
        raise Conflict(key="meals.idempotency_mismatch")
    if row["status"] != "pending":
        return _refund_out(row)
    if row["provider_refund_id"] is None:
        description = t("meals.payment.refund_description", payment=payment_id)
        try:
            answer = await provider.create_refund(
                key=f"refund-{row['public_id']}",
                payment_id=payment["provider_payment_id"],
                amount=row["amount"],
                description=description,
                receipt=payments.receipt(
                    payment["receipt_email"], payment["receipt_phone"], description, row["amount"]
                ),
            )
        except ProviderUnavailable:
            raise PaymentsUnavailable(key="meals.payment.refund_unanswered") from None
        except ProviderRefused as exc:
            await _finish_refund(row, "canceled")
            raise Conflict(key="meals.payment.refund_refused", reason=str(exc)) from None
        await MealPaymentRefund.update(
            {MealPaymentRefund.provider_refund_id: answer.id, MealPaymentRefund.updated_at: _now()}
        ).where(MealPaymentRefund.id == row["id"])
        row = {**row, "provider_refund_id": answer.id}
        await _finish_refund(row, answer.status)
    else:
        with contextlib.suppress(ProviderUnavailable):
            await sync_refund(provider, row["provider_refund_id"])
    final = await MealPaymentRefund.select().where(MealPaymentRefund.id == row["id"]).first()
    assert final is not None
    return _refund_out(final)


async def _finish_refund(row: dict[str, Any], status: str) -> None:
    """The provider's word on a refund: succeeded posts the hold, canceled voids it."""
    if status not in ("succeeded", "canceled") or row["status"] != "pending":
        return
    async with transaction():
        await ledger.resolve(Actor.system(), row["hold_id"], post=status == "succeeded")
        await MealPaymentRefund.update(
            {MealPaymentRefund.status: status, MealPaymentRefund.updated_at: _now()}
        ).where(MealPaymentRefund.id == row["id"])


async def sync_refund(provider: PaymentProvider, provider_refund_id: str) -> str:
    row = (
        await MealPaymentRefund.select()
        .where(MealPaymentRefund.provider_refund_id == provider_refund_id)
        .first()
    )
    if row is None:
        return "unknown"
    fetched = await provider.get_refund(provider_refund_id)
    await _finish_refund(row, fetched.status)
    return f"refund_{fetched.status}"


async def list_refunds(actor: Actor, payment_id: int) -> list[s.PaymentRefundOut]:
    payment = await _row(payment_id)
    await _readable(actor, payment)
    rows = (
        await MealPaymentRefund.select()
        .where(MealPaymentRefund.payment == payment_id)
        .order_by(MealPaymentRefund.id)
    )
    return [_refund_out(r) for r in rows]


# ---- reconciliation --------------------------------------------------------------------------


async def _day_bounds(school_id: int, day: date) -> tuple[datetime, datetime]:
    out = await structure.get_settings(Actor.system(), school_id)
    zone = ZoneInfo(out.time_zone)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


async def _ledger_of(rows: list[dict[str, Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """Credited and refunded (posted) kopecks per payment row, read from the ledger."""
    transfer_ids = [r["transfer_id"] for r in rows if r["transfer_id"] is not None]
    credited: dict[int, int] = {}
    refunded: dict[int, int] = {}
    if not transfer_ids:
        return credited, refunded
    top_ups = await LedgerTransfer.select(LedgerTransfer.id, LedgerTransfer.amount).where(
        LedgerTransfer.id.is_in(transfer_ids)
    )
    amounts = {r["id"]: r["amount"] for r in top_ups}
    refunds = await LedgerTransfer.select(
        LedgerTransfer.id, LedgerTransfer.refund_of, LedgerTransfer.amount
    ).where(LedgerTransfer.refund_of.is_in(transfer_ids))
    posted = set()
    if refunds:
        done = await LedgerTransfer.select(LedgerTransfer.pending_id, LedgerTransfer.status).where(
            LedgerTransfer.pending_id.is_in([r["id"] for r in refunds])
        )
        resolved = {d["pending_id"]: d["status"] for d in done}
        # A refund held while the provider answers counts once the provider has paid it out.
        posted = {r["id"] for r in refunds if resolved.get(r["id"]) == Status.POSTED.value}
    refunds_by_top_up: dict[int, int] = {}
    for r in refunds:
        if r["id"] in posted:
            refunds_by_top_up[r["refund_of"]] = (
                refunds_by_top_up.get(r["refund_of"], 0) + r["amount"]
            )
    for r in rows:
        if r["transfer_id"] is not None:
            credited[r["id"]] = amounts.get(r["transfer_id"], 0)
            refunded[r["id"]] = refunds_by_top_up.get(r["transfer_id"], 0)
    return credited, refunded


async def reconcile(
    actor: Actor, payments: Payments, school_id: int, day: date
) -> s.ReconciliationOut:
    """The provider's payments created on the school's `day` against the ledger: for each,
    what the provider says was paid and refunded and what the ledger credited and refunded;
    every difference is listed for the accountant."""
    await accounts.school_scope(actor, school_id, P.MEALS_ACCOUNTS)
    provider = payments.require()
    start, end = await _day_bounds(school_id, day)
    try:
        theirs = await provider.payments_created(start, end)
    except ProviderError:
        raise PaymentsUnavailable() from None
    ours = await MealPayment.select().where(
        (MealPayment.school == school_id)
        & (MealPayment.created_at >= start)
        & (MealPayment.created_at < end)
    )
    mine = [p for p in theirs if p.metadata.get("school_id") == str(school_id)]
    # Matched by our own id in the payment's metadata: that also finds a row whose provider
    # answer never reached us, and one created just across midnight from the provider's clock.
    publics = [p.metadata.get("top_up", "") for p in mine]
    named = (
        await MealPayment.select().where(MealPayment.public_id.is_in(publics)) if publics else []
    )
    by_public = {r["public_id"]: r for r in [*ours, *named]}
    all_rows = list({r["id"]: r for r in by_public.values()}.values())
    credited, refunded = await _ledger_of(all_rows)
    lines: list[s.ReconciliationLine] = []
    seen: set[int] = set()
    provider_total = ledger_total = 0
    for p in mine:
        row = by_public.get(p.metadata.get("top_up", ""))
        if row is not None and row["provider_payment_id"] not in (None, p.id):
            row = None  # our row names another payment of the provider: not this one
        paid = p.amount if p.status == SUCCEEDED else 0
        provider_total += paid
        if row is None:
            if paid:
                lines.append(_line("unknown_payment", p, None, 0, 0))
            continue
        seen.add(row["id"])
        got, back = credited.get(row["id"], 0), refunded.get(row["id"], 0)
        ledger_total += got
        if paid and not got:
            lines.append(_line("not_credited", p, row, got, back))
        elif got and not paid:
            lines.append(_line("credited_not_paid", p, row, got, back))
        elif got != paid:
            lines.append(_line("amount_differs", p, row, got, back))
        elif p.refunded != back:
            lines.append(_line("refunds_differ", p, row, got, back))
    for row in ours:
        if row["id"] in seen:
            continue
        got = credited.get(row["id"], 0)
        ledger_total += got
        if got:
            lines.append(_line("not_at_provider", None, row, got, refunded.get(row["id"], 0)))
    return s.ReconciliationOut(
        school_id=school_id,
        date=day,
        provider_payments=len(mine),
        provider_total=provider_total,
        ledger_payments=len(ours),
        ledger_total=ledger_total,
        ok=not lines,
        differences=lines,
    )


def _line(
    kind: str, p: ProviderPayment | None, row: dict[str, Any] | None, got: int, back: int
) -> s.ReconciliationLine:
    return s.ReconciliationLine(
        kind=kind,
        kind_name=t(f"meals.payment.difference.{kind}"),
        provider_payment_id=p.id if p else (row["provider_payment_id"] if row else None),
        payment_id=row["id"] if row else None,
        student_id=row["student"] if row else None,
        provider_status=p.status if p else None,
        provider_amount=p.amount if p else None,
        provider_refunded=p.refunded if p else None,
        ledger_credited=got,
        ledger_refunded=back,
    )
